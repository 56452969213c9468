"""The PersonDirectory in SQLite: persons at the resource root, their faces per recognition
model, DynamicPersonGroups and the operations that report on the writes.

Tables live in the store's database (same connection, lock and transactions), so `--data` keeps
them across restarts and `/_emulator/reset` wipes them with the rest.

When a write takes effect (docs/emulator.md, "PersonDirectory"):

* persons, face records, groups and their names are written at once, so reads see them at once;
* a face takes part in identify/verify once its add operation has succeeded (the spec: the
  operation tells "when the AddFace operation has successfully propagated for future requests to
  Identify"), so `ready` = request time + operation duration;
* a DynamicPersonGroup membership change takes effect when its operation succeeds (the spec: the
  operation tells "when Get Dynamic Person Group References will return the changes"): member
  rows carry the time they join (`added`) and leave (`removed`);
* a membership change naming a person who is not in the directory changes nothing and its
  operation fails; deletions of persons and faces take effect at once.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from facesync.emulator import errors
from facesync.emulator.directory.operations import Operations
from facesync.emulator.recognition.state import Candidate
from facesync.emulator.store import Store

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dir_persons (
    pid TEXT PRIMARY KEY, name TEXT NOT NULL, user_data TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dir_faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    pid TEXT NOT NULL, model TEXT NOT NULL, fid TEXT NOT NULL, user_data TEXT, rect TEXT NOT NULL,
    engine TEXT NOT NULL, descriptor BLOB NOT NULL, ready REAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS dir_faces_key ON dir_faces (pid, model, fid);
CREATE TABLE IF NOT EXISTS dir_groups (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, user_data TEXT, created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS dir_members (
    gid TEXT NOT NULL, pid TEXT NOT NULL, added REAL NOT NULL, removed REAL
);
CREATE INDEX IF NOT EXISTS dir_members_group ON dir_members (gid, pid);
CREATE INDEX IF NOT EXISTS dir_members_person ON dir_members (pid);
"""

GROUP_RESOURCE = "dynamicpersongroups/{}"
# Member rows in force at a time `t`: joined by then and not yet gone.
_IN_FORCE = "added <= ? AND (removed IS NULL OR removed > ?)"


def missing_person_message(pids: Sequence[str]) -> str:
    return f"Person is not found in the person directory: {', '.join(pids)}."


class Directory:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.lock:
            store.conn.executescript(_SCHEMA)
        self.operations = Operations(store)

    def wipe(self) -> None:
        with self.store.tx() as c:
            for table in ("dir_members", "dir_groups", "dir_faces", "dir_persons"):
                c.execute(f"DELETE FROM {table}")
            self.operations.wipe(c)

    # ---- persons -----------------------------------------------------------------------

    @staticmethod
    def _person(c: sqlite3.Connection, pid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = c.execute("SELECT * FROM dir_persons WHERE pid=?", (pid,)).fetchone()
        if row is None:
            raise errors.person_not_found()
        return row

    @staticmethod
    def _person_json(row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"personId": row["pid"], "name": row["name"]}
        if row["user_data"] is not None:
            out["userData"] = row["user_data"]
        return out

    def create_person(self, name: str, user_data: str | None, now: float, duration: float) -> tuple[str, str]:
        """(personId, operationId); 403 QuotaExceeded past the directory's person limit."""
        pid = str(uuid.uuid4())
        with self.store.tx() as c:
            count = c.execute("SELECT COUNT(*) FROM dir_persons").fetchone()[0]
            if count >= self.store.limit("persons_per_directory"):
                raise errors.quota("Person number reached person directory level limit.")
            c.execute(
                "INSERT INTO dir_persons (pid, name, user_data, created) VALUES (?, ?, ?, ?)",
                (pid, name, user_data, now),
            )
            op_id = self.operations.start(c, now, duration)
        return pid, op_id

    def check_person(self, pid: str) -> None:
        with self.store.read() as c:
            self._person(c, pid)

    def get_person(self, pid: str) -> dict[str, Any]:
        with self.store.read() as c:
            return self._person_json(self._person(c, pid))

    def list_persons(self, start: str, top: int) -> list[dict[str, Any]]:
        with self.store.read() as c:
            rows = c.execute(
                "SELECT * FROM dir_persons WHERE pid>? ORDER BY pid LIMIT ?", (start, top)
            ).fetchall()
        return [self._person_json(r) for r in rows]

    def update_person(self, pid: str, fields: dict[str, str | None]) -> None:
        with self.store.tx() as c:
            self._person(c, pid)
            for column, value in fields.items():
                c.execute(f"UPDATE dir_persons SET {column}=? WHERE pid=?", (value, pid))

    def delete_person(self, pid: str, now: float, duration: float) -> str:
        """Delete the person, their faces of every model and their group memberships."""
        with self.store.tx() as c:
            self._person(c, pid)
            c.execute("DELETE FROM dir_faces WHERE pid=?", (pid,))
            c.execute("DELETE FROM dir_members WHERE pid=?", (pid,))
            c.execute("DELETE FROM dir_persons WHERE pid=?", (pid,))
            return self.operations.start(c, now, duration)

    def references(self, pid: str, start: str, top: int, now: float) -> list[str]:
        """The ids of the groups the person is a member of by now, sorted."""
        with self.store.read() as c:
            self._person(c, pid)
            return [
                r[0]
                for r in c.execute(
                    f"SELECT DISTINCT gid FROM dir_members WHERE pid=? AND gid>? AND {_IN_FORCE}"
                    " ORDER BY gid LIMIT ?",
                    (pid, start, now, now, top),
                )
            ]

    # ---- faces -------------------------------------------------------------------------

    def add_face(
        self,
        pid: str,
        model: str,
        user_data: str | None,
        rect: tuple[int, ...],
        engine: str,
        descriptor: bytes,
        now: float,
        duration: float,
    ) -> tuple[str, str]:
        """(persistedFaceId, operationId); 403 past the faces-per-person limit of that model."""
        fid = str(uuid.uuid4())
        with self.store.tx() as c:
            self._person(c, pid)
            count = c.execute(
                "SELECT COUNT(*) FROM dir_faces WHERE pid=? AND model=?", (pid, model)
            ).fetchone()[0]
            if count >= self.store.limit("faces_per_person"):
                raise errors.quota("Persisted face number reached limit.")
            c.execute(
                "INSERT INTO dir_faces (pid, model, fid, user_data, rect, engine, descriptor, ready)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (pid, model, fid, user_data, ",".join(map(str, rect)), engine, descriptor, now + duration),
            )
            op_id = self.operations.start(c, now, duration)
        return fid, op_id

    def _face(self, c: sqlite3.Connection, pid: str, model: str, fid: str) -> sqlite3.Row:
        self._person(c, pid)
        row: sqlite3.Row | None = c.execute(
            "SELECT fid, user_data FROM dir_faces WHERE pid=? AND model=? AND fid=?", (pid, model, fid)
        ).fetchone()
        if row is None:
            raise errors.face_not_found()
        return row

    def list_faces(self, pid: str, model: str) -> dict[str, Any]:
        with self.store.read() as c:
            self._person(c, pid)
            ids = [
                r[0]
                for r in c.execute(
                    "SELECT fid FROM dir_faces WHERE pid=? AND model=? ORDER BY seq", (pid, model)
                )
            ]
        return {"personId": pid, "persistedFaceIds": ids}

    def get_face(self, pid: str, model: str, fid: str) -> dict[str, Any]:
        with self.store.read() as c:
            row = self._face(c, pid, model, fid)
        out: dict[str, Any] = {"persistedFaceId": row["fid"]}
        if row["user_data"] is not None:
            out["userData"] = row["user_data"]
        return out

    def update_face(self, pid: str, model: str, fid: str, user_data: str | None) -> None:
        with self.store.tx() as c:
            self._face(c, pid, model, fid)
            c.execute(
                "UPDATE dir_faces SET user_data=? WHERE pid=? AND model=? AND fid=?",
                (user_data, pid, model, fid),
            )

    def delete_face(self, pid: str, model: str, fid: str, now: float, duration: float) -> str:
        with self.store.tx() as c:
            self._face(c, pid, model, fid)
            c.execute("DELETE FROM dir_faces WHERE pid=? AND model=? AND fid=?", (pid, model, fid))
            return self.operations.start(c, now, duration)

    # ---- dynamic person groups ---------------------------------------------------------

    @staticmethod
    def _group(c: sqlite3.Connection, gid: str) -> sqlite3.Row:
        row: sqlite3.Row | None = c.execute("SELECT * FROM dir_groups WHERE id=?", (gid,)).fetchone()
        if row is None:
            raise errors.not_found("dpg")
        return row

    @staticmethod
    def _group_json(row: sqlite3.Row) -> dict[str, Any]:
        out: dict[str, Any] = {"dynamicPersonGroupId": row["id"], "name": row["name"]}
        if row["user_data"] is not None:
            out["userData"] = row["user_data"]
        return out

    @staticmethod
    def _missing(c: sqlite3.Connection, pids: Iterable[str]) -> list[str]:
        return [
            p for p in pids if c.execute("SELECT 1 FROM dir_persons WHERE pid=?", (p,)).fetchone() is None
        ]

    def _change_members(
        self,
        c: sqlite3.Connection,
        gid: str,
        add: Sequence[str],
        remove: Sequence[str],
        now: float,
        duration: float,
    ) -> str:
        """Schedule a membership change for when its operation ends, or fail the operation
        (changing nothing) when it names persons who are not in the directory."""
        missing = self._missing(c, dict.fromkeys([*add, *remove]))
        resource = GROUP_RESOURCE.format(gid)
        if missing:
            return self.operations.start(c, now, duration, missing_person_message(missing), resource)
        effective = now + duration
        # Rows of members who have left by now are history nobody can ask for any more.
        c.execute("DELETE FROM dir_members WHERE removed IS NOT NULL AND removed <= ?", (now,))
        for pid in add:
            joined = c.execute(
                "SELECT 1 FROM dir_members WHERE gid=? AND pid=? AND removed IS NULL", (gid, pid)
            ).fetchone()
            if joined is None:
                c.execute(
                    "INSERT INTO dir_members (gid, pid, added, removed) VALUES (?, ?, ?, NULL)",
                    (gid, pid, effective),
                )
        for pid in remove:
            c.execute(
                "UPDATE dir_members SET removed=? WHERE gid=? AND pid=? AND removed IS NULL",
                (effective, gid, pid),
            )
        return self.operations.start(c, now, duration, None, resource)

    def create_group(
        self,
        gid: str,
        name: str,
        user_data: str | None,
        add: Sequence[str],
        now: float,
        duration: float,
    ) -> str | None:
        """Create the group; the operation id when `add` names members (else None)."""
        with self.store.tx() as c:
            if c.execute("SELECT 1 FROM dir_groups WHERE id=?", (gid,)).fetchone():
                raise errors.exists("dpg")
            c.execute(
                "INSERT INTO dir_groups (id, name, user_data, created) VALUES (?, ?, ?, ?)",
                (gid, name, user_data, now),
            )
            if not add:
                return None
            return self._change_members(c, gid, add, (), now, duration)

    def get_group(self, gid: str) -> dict[str, Any]:
        with self.store.read() as c:
            return self._group_json(self._group(c, gid))

    def list_groups(self, start: str, top: int) -> list[dict[str, Any]]:
        with self.store.read() as c:
            rows = c.execute(
                "SELECT * FROM dir_groups WHERE id>? ORDER BY id LIMIT ?", (start, top)
            ).fetchall()
        return [self._group_json(r) for r in rows]

    def update_group(
        self,
        gid: str,
        fields: dict[str, str | None],
        add: Sequence[str],
        remove: Sequence[str],
        now: float,
        duration: float,
    ) -> str | None:
        """Rename / change userData at once; the operation id when members change (else None)."""
        with self.store.tx() as c:
            self._group(c, gid)
            for column, value in fields.items():
                c.execute(f"UPDATE dir_groups SET {column}=? WHERE id=?", (value, gid))
            if not add and not remove:
                return None
            return self._change_members(c, gid, add, remove, now, duration)

    def delete_group(self, gid: str, now: float, duration: float) -> str:
        with self.store.tx() as c:
            self._group(c, gid)
            c.execute("DELETE FROM dir_members WHERE gid=?", (gid,))
            c.execute("DELETE FROM dir_groups WHERE id=?", (gid,))
            return self.operations.start(c, now, duration, None, GROUP_RESOURCE.format(gid))

    def group_persons(self, gid: str, start: str, top: int, now: float) -> list[str]:
        with self.store.read() as c:
            self._group(c, gid)
            return [
                r[0]
                for r in c.execute(
                    f"SELECT DISTINCT pid FROM dir_members WHERE gid=? AND pid>? AND {_IN_FORCE}"
                    " ORDER BY pid LIMIT ?",
                    (gid, start, now, now, top),
                )
            ]

    # ---- recognition -------------------------------------------------------------------

    def group_exists(self, gid: str) -> bool:
        with self.store.read() as c:
            return c.execute("SELECT 1 FROM dir_groups WHERE id=?", (gid,)).fetchone() is not None

    def missing_persons(self, pids: Sequence[str]) -> list[str]:
        with self.store.read() as c:
            return self._missing(c, pids)

    def candidates(
        self,
        model: str,
        now: float,
        persons: Sequence[str] | None = None,
        group: str | None = None,
    ) -> list[Candidate]:
        """The faces identify and verify match against: enrolled for `model`, their add
        operation done by `now`, of the given persons (None: the whole directory) or of the
        group's members in force by `now`."""
        sql = "SELECT f.pid, f.fid, f.engine, f.descriptor FROM dir_faces f WHERE f.model=? AND f.ready<=?"
        args: list[Any] = [model, now]
        if persons is not None:
            sql += f" AND f.pid IN ({','.join('?' * len(persons))})"
            args += list(persons)
        if group is not None:
            sql += f" AND f.pid IN (SELECT pid FROM dir_members WHERE gid=? AND {_IN_FORCE})"
            args += [group, now, now]
        with self.store.read() as c:
            rows = c.execute(sql + " ORDER BY f.seq", args).fetchall()
        return [Candidate(r[0], r[1], r[2], bytes(r[3])) for r in rows]
