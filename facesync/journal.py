"""Collections an apply has written to but not yet seen trained.

Apply records a collection here (durably) before its first write and clears it once training
succeeded. A run that dies in between leaves the entry behind, and the next plan trains the
collection even though its contents already match. The journal lives beside the configuration in
`.facesync/`; a run on another machine does not see it (see docs/plan-and-apply.md).

When the journal cannot be written (`.facesync/` unusable), apply warns for each collection it
could not record and goes on: the journal only ever protects against an interruption, it is
already absent on a fresh CI runner, and refusing would stop every apply from a read-only
checkout for a risk that needs a crash to matter. The warning names what an interruption would
now leave untrained.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from facesync.atomic import write_text_atomically
from facesync.localstate import read_state_file, report_journal_unusable, report_unusable
from facesync.model import CollectionKind


class EndpointJournal:
    """A journal file under `.facesync/`: one JSON object, a section per endpoint (one file serves
    every resource the configuration has been applied to). `path` None keeps it in memory."""

    def __init__(self, path: Path | None, endpoint: str) -> None:
        self.path = path
        self._endpoint = endpoint

    def _load(self) -> Any:
        """This endpoint's section, or None when there is none or it cannot be read (an unusable
        `.facesync/` is reported once, an unreadable file counts as empty)."""
        if self.path is None:
            return None
        try:
            return json.loads(read_state_file(self.path)).get(self._endpoint)
        except FileNotFoundError:
            return None
        except OSError as exc:
            report_unusable(self.path, exc)
            return None
        except (ValueError, AttributeError):
            return None

    def _write(self, section: Any) -> None:
        """Replace this endpoint's section, keeping the others; OSError when it cannot be written."""
        if self.path is None:
            return
        try:
            data = json.loads(read_state_file(self.path))
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}  # unreadable: the write below fails too, or replaces it
        data[self._endpoint] = section
        # Durable: an entry must outlive a SIGKILL right after the write it announces.
        write_text_atomically(self.path, json.dumps(data, sort_keys=True), durable=True)


class TrainingJournal(EndpointJournal):
    def __init__(self, path: Path | None, endpoint: str) -> None:
        super().__init__(path, endpoint)
        raw = self._load()
        try:
            self._pending: set[str] = {str(key) for key in raw or ()}
        except TypeError:
            self._pending = set()

    @staticmethod
    def _key(kind: CollectionKind, collection_id: str) -> str:
        return f"{kind.value}.{collection_id}"

    def pending(self, kind: CollectionKind, collection_id: str) -> bool:
        return self._key(kind, collection_id) in self._pending

    def mark(self, kind: CollectionKind, collection_id: str) -> None:
        key = self._key(kind, collection_id)
        if key not in self._pending:
            self._pending.add(key)
            try:
                self._save()
            except OSError as exc:
                assert self.path is not None
                report_journal_unusable(self.path, exc, key)

    def clear(self, kind: CollectionKind, collection_id: str) -> None:
        key = self._key(kind, collection_id)
        if key in self._pending:
            self._pending.discard(key)
            try:
                self._save()
            except OSError as exc:
                # Left behind, the entry costs one extra training on the next run: no more.
                assert self.path is not None
                report_unusable(self.path, exc)

    def _save(self) -> None:
        self._write(sorted(self._pending))
