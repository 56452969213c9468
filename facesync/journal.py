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

from facesync.atomic import write_text_atomically
from facesync.localstate import read_state_file, report_journal_unusable, report_unusable
from facesync.model import CollectionKind


class TrainingJournal:
    def __init__(self, path: Path | None, endpoint: str) -> None:
        self.path = path
        self._endpoint = endpoint
        self._pending: set[str] = set()
        if path is not None:
            try:
                raw = json.loads(read_state_file(path))
                self._pending = set(raw.get(endpoint, []))
            except FileNotFoundError:
                pass
            except OSError as exc:
                report_unusable(path, exc)
            except (ValueError, AttributeError, TypeError):
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
        if self.path is None:
            return
        try:
            data = json.loads(read_state_file(self.path))
            if not isinstance(data, dict):
                data = {}
        except (OSError, ValueError):
            data = {}  # unreadable: the write below fails too, or replaces it
        data[self._endpoint] = sorted(self._pending)
        # Durable: the entry must outlive a SIGKILL right after the first write it announces.
        write_text_atomically(self.path, json.dumps(data), durable=True)
