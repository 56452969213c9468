"""SQLite persistence and the collection semantics of the Face API.

One connection guarded by a lock; every write runs in its own transaction that is committed
before the caller answers (WAL, synchronous=FULL for files).
"""

from __future__ import annotations

import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from facesync.emulator import errors
from facesync.emulator.errors import KINDS

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    kind TEXT NOT NULL, id TEXT NOT NULL, name TEXT NOT NULL, user_data TEXT,
    recognition_model TEXT NOT NULL, created REAL NOT NULL,
    train_start REAL, train_duration REAL, train_failure TEXT, train_id TEXT,
    prev_success REAL, prev_train_id TEXT,
    PRIMARY KEY (kind, id)
);
CREATE TABLE IF NOT EXISTS persons (
    kind TEXT NOT NULL, cid TEXT NOT NULL, pid TEXT NOT NULL, name TEXT NOT NULL, user_data TEXT,
    PRIMARY KEY (kind, cid, pid)
);
CREATE TABLE IF NOT EXISTS faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL, cid TEXT NOT NULL, pid TEXT NOT NULL, fid TEXT NOT NULL,
    user_data TEXT, rect TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS faces_key ON faces (kind, cid, pid, fid);
"""

GROUP_KINDS = ("pg", "lpg")
TRAINABLE = ("pg", "lpg", "lfl")
NOT_STARTED_FRACTION = 0.1


def training_duration(base_seconds: float, items: int) -> float:
    """A training run lasts base * (1 + items / 10_000) seconds."""
    return base_seconds * (1 + items / 10_000)


def iso(ts: float) -> str:
    """ISO-8601 UTC with `Z` and trailing fractional zeros dropped, like the service."""
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts))
    micros = round((ts - int(ts)) * 1_000_000)
    if micros >= 1_000_000:
        whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(ts) + 1))
        micros = 0
    frac = f"{micros:06d}".rstrip("0")
    return f"{whole}.{frac}Z" if frac else f"{whole}Z"


class Store:
    def __init__(
        self, path: str, limit: Callable[[str], int], clock: Callable[[], float] = time.time
    ) -> None:
        self.path = path
        self.limit = limit
        self.clock = clock
        self.lock = threading.RLock()
        self.conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        if path != ":memory:":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self.lock:
            self.conn.close()

    @contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            self.conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[sqlite3.Connection]:
        with self.lock:
            yield self.conn

    def wipe(self) -> None:
        with self.tx() as c:
            c.execute("DELETE FROM faces")
            c.execute("DELETE FROM persons")
            c.execute("DELETE FROM collections")

    # ---- collections -------------------------------------------------------------------

    def _collection(self, c: sqlite3.Connection, kind: str, cid: str) -> sqlite3.Row:
        query = "SELECT * FROM collections WHERE kind=? AND id=?"
        row: sqlite3.Row | None = c.execute(query, (kind, cid)).fetchone()
        if row is None:
            raise errors.not_found(kind)
        return row

    def create_collection(self, kind: str, cid: str, name: str, user_data: str | None, model: str) -> None:
        with self.tx() as c:
            if c.execute("SELECT 1 FROM collections WHERE kind=? AND id=?", (kind, cid)).fetchone():
                raise errors.exists(kind)
            count = c.execute("SELECT COUNT(*) FROM collections WHERE kind=?", (kind,)).fetchone()[0]
            limit_name = {
                "pg": "persongroups",
                "lpg": "largepersongroups",
                "fl": "facelists",
                "lfl": "largefacelists",
            }[kind]
            if count >= self.limit(limit_name):
                label = KINDS[kind][1]
                raise errors.quota(f"{label} number reached subscription level limit.")
            c.execute(
                "INSERT INTO collections (kind, id, name, user_data, recognition_model, created)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (kind, cid, name, user_data, model, self.clock()),
            )

    def get_collection(self, kind: str, cid: str, with_model: bool) -> dict[str, Any]:
        with self.read() as c:
            row = self._collection(c, kind, cid)
            out = self._collection_json(kind, row, with_model)
            if kind == "fl":
                out["persistedFaces"] = [
                    _face_json(f)
                    for f in c.execute(
                        "SELECT fid, user_data FROM faces WHERE kind='fl' AND cid=? ORDER BY seq",
                        (cid,),
                    )
                ]
            return out

    @staticmethod
    def _collection_json(kind: str, row: sqlite3.Row, with_model: bool) -> dict[str, Any]:
        id_field = KINDS[kind][2]
        out: dict[str, Any] = {id_field: row["id"], "name": row["name"]}
        if row["user_data"] is not None:
            out["userData"] = row["user_data"]
        if with_model:
            out["recognitionModel"] = row["recognition_model"]
        return out

    def list_collections(
        self, kind: str, start: str, top: int | None, with_model: bool
    ) -> list[dict[str, Any]]:
        sql = "SELECT * FROM collections WHERE kind=? AND id>? ORDER BY id"
        args: list[Any] = [kind, start]
        if top is not None:
            sql += " LIMIT ?"
            args.append(top)
        with self.read() as c:
            return [self._collection_json(kind, r, with_model) for r in c.execute(sql, args)]

    def update_collection(self, kind: str, cid: str, fields: dict[str, str | None]) -> None:
        with self.tx() as c:
            self._collection(c, kind, cid)
            for column, value in fields.items():
                c.execute(f"UPDATE collections SET {column}=? WHERE kind=? AND id=?", (value, kind, cid))

    def delete_collection(self, kind: str, cid: str, now: float) -> None:
        with self.tx() as c:
            row = self._collection(c, kind, cid)
            if kind in TRAINABLE and self._in_progress(row, now):
                raise errors.training_not_finished(kind)
            c.execute("DELETE FROM faces WHERE kind=? AND cid=?", (kind, cid))
            c.execute("DELETE FROM persons WHERE kind=? AND cid=?", (kind, cid))
            c.execute("DELETE FROM collections WHERE kind=? AND id=?", (kind, cid))

    # ---- training ----------------------------------------------------------------------

    @staticmethod
    def _in_progress(row: sqlite3.Row, now: float) -> bool:
        start = row["train_start"]
        return start is not None and now < start + row["train_duration"]

    def train(self, kind: str, cid: str, base_seconds: float, now: float) -> None:
        with self.tx() as c:
            row = self._collection(c, kind, cid)
            if self._in_progress(row, now):
                raise errors.training_not_finished(kind)
            faces = c.execute("SELECT COUNT(*) FROM faces WHERE kind=? AND cid=?", (kind, cid)).fetchone()[0]
            failure = None
            if kind in GROUP_KINDS:
                persons = c.execute(
                    "SELECT COUNT(*) FROM persons WHERE kind=? AND cid=?", (kind, cid)
                ).fetchone()[0]
                items = persons + faces
                if persons == 0:
                    failure = "There is no person in group."
                elif faces == 0:
                    failure = "There is no persisted face in group."
            else:
                items = faces
                if faces == 0:
                    failure = "There is no face in large face list."
            prev_success, prev_id = row["prev_success"], row["prev_train_id"]
            if row["train_start"] is not None and row["train_failure"] is None:
                prev_success = row["train_start"] + row["train_duration"]
                prev_id = row["train_id"]
            c.execute(
                "UPDATE collections SET train_start=?, train_duration=?, train_failure=?,"
                " train_id=?, prev_success=?, prev_train_id=? WHERE kind=? AND id=?",
                (
                    now,
                    training_duration(base_seconds, items),
                    failure,
                    str(uuid.uuid4()),
                    prev_success,
                    prev_id,
                    kind,
                    cid,
                ),
            )

    def training_status(self, kind: str, cid: str, now: float, camel_not_started: bool) -> dict[str, Any]:
        with self.read() as c:
            row = self._collection(c, kind, cid)
        start = row["train_start"]
        if start is None:
            raise errors.not_trained(kind)
        duration = row["train_duration"]
        end = start + duration
        last_success, last_id = row["prev_success"], row["prev_train_id"]
        if now < start + NOT_STARTED_FRACTION * duration:
            status = "notStarted" if camel_not_started else "notstarted"
            last_action = start
        elif now < end:
            status, last_action = "running", start
        elif row["train_failure"] is None:
            status, last_action = "succeeded", end
            last_success, last_id = end, row["train_id"]
        else:
            status, last_action = "failed", end
        out: dict[str, Any] = {
            "status": status,
            "createdDateTime": iso(start),
            "lastActionDateTime": iso(last_action),
        }
        if last_success is not None:
            if kind == "pg":
                out["lastSuccessfulTrainingId"] = last_id
            out["lastSuccessfulTrainingDateTime"] = iso(last_success)
        if status == "failed":
            out["message"] = row["train_failure"]
        return out

    # ---- persons -----------------------------------------------------------------------

    def _person(self, c: sqlite3.Connection, kind: str, cid: str, pid: str) -> sqlite3.Row:
        self._collection(c, kind, cid)
        query = "SELECT * FROM persons WHERE kind=? AND cid=? AND pid=?"
        row: sqlite3.Row | None = c.execute(query, (kind, cid, pid)).fetchone()
        if row is None:
            raise errors.person_not_found()
        return row

    def create_person(self, kind: str, cid: str, name: str, user_data: str | None) -> str:
        pid = str(uuid.uuid4())
        with self.tx() as c:
            self._collection(c, kind, cid)
            count = c.execute("SELECT COUNT(*) FROM persons WHERE kind=? AND cid=?", (kind, cid)).fetchone()[
                0
            ]
            limit_name = "persons_per_persongroup" if kind == "pg" else "persons_per_largepersongroup"
            if count >= self.limit(limit_name):
                label = KINDS[kind][1].lower()
                raise errors.quota(f"Person number reached {label} level limit.")
            c.execute(
                "INSERT INTO persons (kind, cid, pid, name, user_data) VALUES (?, ?, ?, ?, ?)",
                (kind, cid, pid, name, user_data),
            )
        return pid

    def _person_json(self, c: sqlite3.Connection, row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"personId": row["pid"], "name": row["name"]}
        if row["user_data"] is not None:
            out["userData"] = row["user_data"]
        out["persistedFaceIds"] = [
            r[0]
            for r in c.execute(
                "SELECT fid FROM faces WHERE kind=? AND cid=? AND pid=? ORDER BY seq",
                (row["kind"], row["cid"], row["pid"]),
            )
        ]
        return out

    def get_person(self, kind: str, cid: str, pid: str) -> dict[str, Any]:
        with self.read() as c:
            return self._person_json(c, self._person(c, kind, cid, pid))

    def list_persons(self, kind: str, cid: str, start: str, top: int) -> list[dict[str, Any]]:
        with self.read() as c:
            self._collection(c, kind, cid)
            rows = c.execute(
                "SELECT * FROM persons WHERE kind=? AND cid=? AND pid>? ORDER BY pid LIMIT ?",
                (kind, cid, start, top),
            ).fetchall()
            if not rows:
                return []
            faces: dict[str, list[str]] = {r["pid"]: [] for r in rows}
            for pid, fid in c.execute(
                "SELECT pid, fid FROM faces WHERE kind=? AND cid=? AND pid>? AND pid<=? ORDER BY seq",
                (kind, cid, start, rows[-1]["pid"]),
            ):
                if pid in faces:
                    faces[pid].append(fid)
            out = []
            for r in rows:
                person: dict[str, Any] = {"personId": r["pid"], "name": r["name"]}
                if r["user_data"] is not None:
                    person["userData"] = r["user_data"]
                person["persistedFaceIds"] = faces[r["pid"]]
                out.append(person)
            return out

    def update_person(self, kind: str, cid: str, pid: str, fields: dict[str, str | None]) -> None:
        with self.tx() as c:
            self._person(c, kind, cid, pid)
            for column, value in fields.items():
                c.execute(
                    f"UPDATE persons SET {column}=? WHERE kind=? AND cid=? AND pid=?",
                    (value, kind, cid, pid),
                )

    def delete_person(self, kind: str, cid: str, pid: str) -> None:
        with self.tx() as c:
            self._person(c, kind, cid, pid)
            c.execute("DELETE FROM faces WHERE kind=? AND cid=? AND pid=?", (kind, cid, pid))
            c.execute("DELETE FROM persons WHERE kind=? AND cid=? AND pid=?", (kind, cid, pid))

    # ---- faces (pid = "" for face lists) -----------------------------------------------

    def check_face_target(self, kind: str, cid: str, pid: str) -> None:
        """404 early (before reading the image) when the collection or person is missing."""
        with self.read() as c:
            if pid:
                self._person(c, kind, cid, pid)
            else:
                self._collection(c, kind, cid)

    def add_face(self, kind: str, cid: str, pid: str, user_data: str | None, rect: tuple[int, ...]) -> str:
        fid = str(uuid.uuid4())
        with self.tx() as c:
            if pid:
                self._person(c, kind, cid, pid)
                limit = self.limit("faces_per_person")
            else:
                self._collection(c, kind, cid)
                limit = self.limit("faces_per_facelist" if kind == "fl" else "faces_per_largefacelist")
            count = c.execute(
                "SELECT COUNT(*) FROM faces WHERE kind=? AND cid=? AND pid=?", (kind, cid, pid)
            ).fetchone()[0]
            if count >= limit:
                raise errors.quota("Persisted face number reached limit.")
            c.execute(
                "INSERT INTO faces (kind, cid, pid, fid, user_data, rect) VALUES (?, ?, ?, ?, ?, ?)",
                (kind, cid, pid, fid, user_data, ",".join(str(v) for v in rect)),
            )
        return fid

    def _face(self, c: sqlite3.Connection, kind: str, cid: str, pid: str, fid: str) -> sqlite3.Row:
        if pid:
            self._person(c, kind, cid, pid)
        else:
            self._collection(c, kind, cid)
        row: sqlite3.Row | None = c.execute(
            "SELECT fid, user_data FROM faces WHERE kind=? AND cid=? AND pid=? AND fid=?",
            (kind, cid, pid, fid),
        ).fetchone()
        if row is None:
            raise errors.face_not_found()
        return row

    def get_face(self, kind: str, cid: str, pid: str, fid: str) -> dict[str, Any]:
        with self.read() as c:
            return _face_json(self._face(c, kind, cid, pid, fid))

    def list_faces(self, kind: str, cid: str, start: str, top: int) -> list[dict[str, Any]]:
        with self.read() as c:
            self._collection(c, kind, cid)
            return [
                _face_json(r)
                for r in c.execute(
                    "SELECT fid, user_data FROM faces WHERE kind=? AND cid=? AND pid=''"
                    " AND fid>? ORDER BY fid LIMIT ?",
                    (kind, cid, start, top),
                )
            ]

    def update_face(self, kind: str, cid: str, pid: str, fid: str, user_data: str | None) -> None:
        with self.tx() as c:
            self._face(c, kind, cid, pid, fid)
            c.execute(
                "UPDATE faces SET user_data=? WHERE kind=? AND cid=? AND pid=? AND fid=?",
                (user_data, kind, cid, pid, fid),
            )

    def delete_face(self, kind: str, cid: str, pid: str, fid: str) -> None:
        with self.tx() as c:
            self._face(c, kind, cid, pid, fid)
            c.execute(
                "DELETE FROM faces WHERE kind=? AND cid=? AND pid=? AND fid=?",
                (kind, cid, pid, fid),
            )


def _face_json(row: sqlite3.Row) -> dict[str, Any]:
    out: dict[str, Any] = {"persistedFaceId": row["fid"]}
    if row["user_data"] is not None:
        out["userData"] = row["user_data"]
    return out
