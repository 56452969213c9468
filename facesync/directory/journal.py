"""Directory operations an apply started and has not yet seen finish.

A directory write answers 202 and finishes later. Apply records the operation here (durably)
as soon as it has its id and clears it when the operation has ended; a run killed in between
leaves the entry behind, and the next plan first waits for those operations (`settle`), so it
reads the directory as the interrupted apply left it: a person created or a member added is seen
and neither made twice nor planned again. The journal lives beside the configuration in
`.facesync/`, per endpoint, like the training journal.

When it cannot be written (`.facesync/` unusable), apply warns for each operation it could not
record and goes on, as for the training journal: what an interruption would then risk is a twin
or a duplicate face, which the next plan repairs, or a member change planned once more.
"""

from __future__ import annotations

import logging
from pathlib import Path

from facesync.client import FaceClient
from facesync.client.directory import DEFAULT_OPERATION_TIMEOUT, OperationFailed
from facesync.journal import EndpointJournal
from facesync.localstate import diagnose, report_unusable

log = logging.getLogger(__name__)


class OperationJournal(EndpointJournal):
    def __init__(self, path: Path | None, endpoint: str) -> None:
        super().__init__(path, endpoint)
        raw = self._load()
        try:
            self._pending: dict[str, str] = {str(k): str(v) for k, v in (raw or {}).items()}
        except AttributeError:
            self._pending = {}

    def pending(self) -> dict[str, str]:
        """Operation id → what it does (e.g. `create personDirectory/person["Dad"]`)."""
        return dict(self._pending)

    def started(self, operation: str, what: str) -> None:
        self._pending[operation] = what
        try:
            self._save()
        except OSError as exc:
            assert self.path is not None
            _, cause = diagnose(self.path, exc)
            log.warning(
                "operations journal unusable: %s; apply goes on, but if it is interrupted before "
                "operation %s (%s) ends, the next plan will not wait for it",
                cause,
                operation,
                what,
            )

    def finished(self, operation: str) -> None:
        if self._pending.pop(operation, None) is not None:
            try:
                self._save()
            except OSError as exc:
                # Left behind, the entry costs the next plan one status read: no more.
                assert self.path is not None
                report_unusable(self.path, exc)

    def _save(self) -> None:
        self._write(self._pending)


async def settle(
    client: FaceClient, journal: OperationJournal, timeout: float = DEFAULT_OPERATION_TIMEOUT
) -> None:
    """Wait for the operations an earlier, interrupted apply left running; a failed one is
    reported (what it was to do shows in the plan again) and forgotten."""
    pending = journal.pending()
    if not pending:
        return
    log.info("waiting for %d directory operation(s) an earlier apply left running", len(pending))
    for operation, what in sorted(pending.items()):
        try:
            await client.directory.wait(operation, what=what, timeout=timeout)
        except OperationFailed as exc:
            log.warning("an earlier apply's %s", exc)
        journal.finished(operation)
