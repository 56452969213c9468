"""Long-running operations of the PersonDirectory: `GET /operations/{operationId}`.

Every directory write that answers 202 records an operation: when it was requested, how long it
takes (the `operation_seconds` knob at that moment), whether it fails and with what message, and
the resource it reports. Its status is worked out from the emulator's clock when asked, so no
background task is involved and a fake clock steps through the states exactly:

    notStarted (first 10% of the duration) -> running -> succeeded | failed (at the end)
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

from facesync.emulator.errors import ApiError
from facesync.emulator.store import Store, iso

_SCHEMA = """
CREATE TABLE IF NOT EXISTS dir_operations (
    id TEXT PRIMARY KEY, created REAL NOT NULL, duration REAL NOT NULL, failure TEXT, resource TEXT
);
CREATE INDEX IF NOT EXISTS dir_operations_created ON dir_operations (created);
"""

NOT_STARTED_FRACTION = 0.1
# "The URL expires in 48 hours." (v1.1-preview.1 / v1.2-preview.1, every 202 of the directory)
LIFETIME = 48 * 3600.0
# v1.0-preview answers as recorded (no operationId, a resourceLocation for group operations);
# later versions as their OperationResult schema (operationId, no resourceLocation).
RECORDED_SHAPE_VERSIONS = ("v1.0-preview",)


def operation_not_found() -> ApiError:
    return ApiError(404, "OperationNotFound", "Operation is not found.\r\nParameter name: operationId")


class Operations:
    def __init__(self, store: Store) -> None:
        self.store = store
        with store.lock:
            store.conn.executescript(_SCHEMA)

    def wipe(self, c: sqlite3.Connection) -> None:
        c.execute("DELETE FROM dir_operations")

    @staticmethod
    def start(
        c: sqlite3.Connection,
        now: float,
        duration: float,
        failure: str | None = None,
        resource: str | None = None,
    ) -> str:
        """Record an operation inside the caller's transaction (the write it reports on);
        `resource` is a path under the version prefix, e.g. `dynamicpersongroups/g1`."""
        op_id = str(uuid.uuid4())
        # Expired operations are purged here, so the table never outgrows two days of writes.
        c.execute("DELETE FROM dir_operations WHERE created <= ?", (now - LIFETIME,))
        c.execute(
            "INSERT INTO dir_operations (id, created, duration, failure, resource) VALUES (?, ?, ?, ?, ?)",
            (op_id, now, duration, failure, resource),
        )
        return op_id

    def status(self, op_id: str, now: float, version: str, base_url: str) -> dict[str, Any]:
        """The operation's status body as `version` spells it; 404 when unknown or expired."""
        with self.store.read() as c:
            row = c.execute("SELECT * FROM dir_operations WHERE id=?", (op_id.lower(),)).fetchone()
        if row is None or now >= row["created"] + LIFETIME:
            raise operation_not_found()
        created, duration = row["created"], row["duration"]
        end = created + duration
        out: dict[str, Any] = {}
        recorded_shape = version in RECORDED_SHAPE_VERSIONS
        if not recorded_shape:
            out["operationId"] = row["id"]
        if now < created + NOT_STARTED_FRACTION * duration:
            status = "notStarted"
        elif now < end:
            status = "running"
        else:
            status = "failed" if row["failure"] is not None else "succeeded"
        out["status"] = status
        out["createdTime"] = iso(created)
        done = status in ("succeeded", "failed")
        out["lastActionTime"] = iso(end if done else created)
        if done:
            out["finishedTime"] = iso(end)
        if recorded_shape and row["resource"] is not None:
            out["resourceLocation"] = f"{base_url}/{row['resource']}"
        if status == "failed":
            out["message"] = row["failure"]
        return out
