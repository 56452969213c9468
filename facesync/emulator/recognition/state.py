"""What recognition remembers, in the emulator's SQLite database beside the store's tables.

* `rec_faceids`: detected faces (faceId -> descriptor, recognition model, expiry).
* `rec_faces`: the descriptor of each persisted face, written at add-face time.
* `rec_trained`: per training run, the faces it included (taken at the train request).

The trained model of a PG/LPG/LFL is the snapshot of its last run that has succeeded by now;
while a new run is pending the previous successful snapshot stays in force.
"""

from __future__ import annotations

import logging
import sqlite3
import uuid
from dataclasses import dataclass

from facesync.emulator import errors
from facesync.emulator.errors import KINDS, ApiError
from facesync.emulator.store import Store

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS rec_faceids (
    face_id TEXT PRIMARY KEY, engine TEXT NOT NULL, descriptor BLOB NOT NULL,
    recognition_model TEXT NOT NULL, detection_model TEXT NOT NULL, rect TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rec_faceids_expiry ON rec_faceids (expires);
CREATE TABLE IF NOT EXISTS rec_faces (
    kind TEXT NOT NULL, cid TEXT NOT NULL, pid TEXT NOT NULL, fid TEXT NOT NULL,
    engine TEXT NOT NULL, descriptor BLOB NOT NULL,
    PRIMARY KEY (kind, cid, pid, fid)
);
CREATE TABLE IF NOT EXISTS rec_trained (
    kind TEXT NOT NULL, cid TEXT NOT NULL, train_id TEXT NOT NULL, pid TEXT NOT NULL,
    fid TEXT NOT NULL, engine TEXT NOT NULL, descriptor BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS rec_trained_run ON rec_trained (kind, cid, train_id);
"""


@dataclass(frozen=True)
class QueryFace:
    face_id: str
    engine: str
    descriptor: bytes
    recognition_model: str


@dataclass(frozen=True)
class Candidate:
    pid: str  # "" in face lists
    fid: str
    engine: str
    descriptor: bytes


def face_not_found() -> ApiError:
    return ApiError(400, "FaceNotFound", "Face is not found.")


def not_trained_400(kind: str) -> ApiError:
    code, label, _ = KINDS[kind]
    return ApiError(400, f"{code}NotTrained", f"{label} not trained.")


def missing_400(kind: str) -> ApiError:
    code, label, param = KINDS[kind]
    return ApiError(400, f"{code}NotFound", f"{label} is not found.\r\nParameter name: {param}")


class RecognitionState:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.lock:
            store.conn.executescript(_SCHEMA)

    def wipe(self) -> None:
        with self.store.tx() as c:
            for table in ("rec_faceids", "rec_faces", "rec_trained"):
                c.execute(f"DELETE FROM {table}")

    # ---- faceIds -----------------------------------------------------------------------

    def add_face_ids(
        self,
        faces: list[tuple[str, bytes]],
        engine: str,
        recognition_model: str,
        detection_model: str,
        expires: float,
        now: float,
    ) -> list[str]:
        """Store (rect as "l,t,w,h", descriptor) pairs; returns their new faceIds.

        Expired faceIds are purged here, so the table never outgrows a day of detections.
        """
        ids = [str(uuid.uuid4()) for _ in faces]
        with self.store.tx() as c:
            c.execute("DELETE FROM rec_faceids WHERE expires <= ?", (now,))
            c.executemany(
                "INSERT INTO rec_faceids VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (fid, engine, descriptor, recognition_model, detection_model, rect, expires)
                    for fid, (rect, descriptor) in zip(ids, faces, strict=True)
                ],
            )
        return ids

    def query_face(self, face_id: str, now: float) -> QueryFace:
        """A live faceId, or 400 FaceNotFound when unknown or past its time to live."""
        with self.store.read() as c:
            row = c.execute(
                "SELECT engine, descriptor, recognition_model, expires FROM rec_faceids WHERE face_id=?",
                (face_id.lower(),),
            ).fetchone()
        if row is None or row["expires"] <= now:
            raise face_not_found()
        return QueryFace(face_id.lower(), row["engine"], bytes(row["descriptor"]), row["recognition_model"])

    # ---- persisted faces ---------------------------------------------------------------

    def remember_face(self, kind: str, cid: str, pid: str, fid: str, engine: str, descriptor: bytes) -> None:
        with self.store.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO rec_faces VALUES (?, ?, ?, ?, ?, ?)",
                (kind, cid, pid, fid, engine, descriptor),
            )

    @staticmethod
    def _current(c: sqlite3.Connection, kind: str, cid: str) -> list[Candidate]:
        # Joined with the store's faces so deleted faces (and persons) drop out.
        rows = c.execute(
            "SELECT f.pid, f.fid, r.engine, r.descriptor FROM faces f JOIN rec_faces r"
            " ON r.kind=f.kind AND r.cid=f.cid AND r.pid=f.pid AND r.fid=f.fid"
            " WHERE f.kind=? AND f.cid=? ORDER BY f.seq",
            (kind, cid),
        )
        return [Candidate(r[0], r[1], r[2], bytes(r[3])) for r in rows]

    def collection_model(self, kind: str, cid: str) -> str:
        """The collection's recognition model; 400 *NotFound in a recognition body."""
        with self.store.read() as c:
            row = c.execute(
                "SELECT recognition_model FROM collections WHERE kind=? AND id=?", (kind, cid)
            ).fetchone()
        if row is None:
            raise missing_400(kind)
        return str(row[0])

    def face_list(self, cid: str) -> list[Candidate]:
        """A FaceList needs no training: its current faces; 400 FaceListNotReady when empty."""
        with self.store.read() as c:
            faces = self._current(c, "fl", cid)
        if not faces:
            raise ApiError(400, "FaceListNotReady", "Face list is empty.")
        return faces

    # ---- training snapshots ------------------------------------------------------------

    def snapshot(self, kind: str, cid: str) -> None:
        """Record the faces of the run just requested (call right after Store.train, same lock)."""
        with self.store.tx() as c:
            row = c.execute(
                "SELECT train_id, prev_train_id FROM collections WHERE kind=? AND id=?", (kind, cid)
            ).fetchone()
            if row is None or row["train_id"] is None:
                return
            train_id, prev_id = row["train_id"], row["prev_train_id"]
            # Only the run in progress and the last successful one can ever be asked for.
            c.execute(
                "DELETE FROM rec_trained WHERE kind=? AND cid=? AND train_id NOT IN (?, ?)",
                (kind, cid, train_id, prev_id or ""),
            )
            c.executemany(
                "INSERT INTO rec_trained VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (kind, cid, train_id, f.pid, f.fid, f.engine, f.descriptor)
                    for f in self._current(c, kind, cid)
                ],
            )

    def trained(self, kind: str, cid: str, now: float) -> tuple[str, list[Candidate]]:
        """(recognition model, faces of the trained model) or the service's error."""
        with self.store.read() as c:
            row = c.execute("SELECT * FROM collections WHERE kind=? AND id=?", (kind, cid)).fetchone()
            if row is None:
                raise missing_400(kind)
            start = row["train_start"]
            if start is None:
                raise not_trained_400(kind)
            end = start + row["train_duration"]
            if now >= end and row["train_failure"] is None:
                train_id = row["train_id"]
            elif row["prev_train_id"] is not None:
                train_id = row["prev_train_id"]
            elif now < end:
                raise errors.training_not_finished(kind)
            else:
                raise not_trained_400(kind)
            faces = [
                Candidate(r[0], r[1], r[2], bytes(r[3]))
                for r in c.execute(
                    "SELECT pid, fid, engine, descriptor FROM rec_trained"
                    " WHERE kind=? AND cid=? AND train_id=? ORDER BY rowid",
                    (kind, cid, train_id),
                )
            ]
        return str(row["recognition_model"]), faces

    def person_exists(self, kind: str, cid: str, pid: str) -> bool:
        with self.store.read() as c:
            return (
                c.execute(
                    "SELECT 1 FROM persons WHERE kind=? AND cid=? AND pid=?", (kind, cid, pid)
                ).fetchone()
                is not None
            )
