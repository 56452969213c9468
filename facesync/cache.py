"""Local cache of persisted-face userData, so a no-op plan need not GET every face.

Faces are immutable on the service except for their userData, which only facesync (or a hand
edit) changes. The cache maps persistedFaceId → userData per endpoint; it only saves calls and is
never needed for correctness: `--refresh=full` ignores it, a corrupt file is just rebuilt, and a
file that cannot be read or written is reported once (`localstate.report_unusable`) and the cache
lives in memory for the run.

It also remembers which faces facesync itself wrote with that userData (`written`): of two live
faces carrying one fingerprint, that is the genuine one; the other's userData was copied.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from facesync.atomic import write_text_atomically
from facesync.localstate import read_state_file, report_unusable

_FORMAT = 1


class FaceCache:
    def __init__(self, path: Path | None, endpoint: str, *, load: bool = True) -> None:
        """`load=False` starts empty (a full refresh) but still saves what this run learns."""
        self.path = path
        self._scope = hashlib.sha256(endpoint.encode()).hexdigest()[:16]
        self._entries: dict[str, str | None] = {}
        self._written: set[str] = set()
        self._dirty = False
        if path is not None and load:
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            raw = json.loads(read_state_file(path))
        except FileNotFoundError:
            return
        except OSError as exc:
            report_unusable(path, exc)
            return
        except ValueError:
            return
        if not isinstance(raw, dict) or raw.get("format") != _FORMAT or raw.get("scope") != self._scope:
            return
        faces = raw.get("faces")
        if isinstance(faces, dict):
            self._entries = {str(k): (v if isinstance(v, str) else None) for k, v in faces.items()}
        written = raw.get("written")
        if isinstance(written, list):
            self._written = {str(k) for k in written if k in self._entries}

    def get(self, persisted_face_id: str) -> tuple[bool, str | None]:
        """(hit, userData)."""
        if persisted_face_id in self._entries:
            return True, self._entries[persisted_face_id]
        return False, None

    def written(self, persisted_face_id: str) -> bool:
        """facesync wrote this face's cached userData itself (not only read it)."""
        return persisted_face_id in self._written

    def put(self, persisted_face_id: str, user_data: str | None, *, written: bool = False) -> None:
        """`written`: facesync just wrote this userData (an add or an update), not read it."""
        if self._entries.get(persisted_face_id, ...) != user_data:
            self._entries[persisted_face_id] = user_data
            self._written.discard(persisted_face_id)
            self._dirty = True
        if written and persisted_face_id not in self._written:
            self._written.add(persisted_face_id)
            self._dirty = True

    def forget(self, persisted_face_id: str) -> None:
        self._written.discard(persisted_face_id)
        if self._entries.pop(persisted_face_id, ...) is not ...:
            self._dirty = True

    def retain(self, live_face_ids: set[str]) -> None:
        """Drop entries for faces the service no longer has (deleted by hand or by a replace)."""
        stale = [k for k in self._entries if k not in live_face_ids]
        for key in stale:
            del self._entries[key]
            self._written.discard(key)
        self._dirty = self._dirty or bool(stale)

    def save(self) -> None:
        if self.path is None or not self._dirty:
            return
        data = {"format": _FORMAT, "scope": self._scope, "faces": self._entries}
        payload = json.dumps({**data, "written": sorted(self._written)})
        try:
            write_text_atomically(self.path, payload)
        except OSError as exc:
            report_unusable(self.path, exc)
            self.path = None  # in memory from now on: one failed write says enough
        self._dirty = False
