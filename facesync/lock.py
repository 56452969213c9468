"""The apply lock, kept on the Face resource itself (there is no state backend to hold it).

The lock is a FaceList with a fixed id, `facesync-lock`: creating a collection is atomic on the
service (a second PUT answers 409 *Exists), so exactly one process can create it. Its `userData`
says who holds it (owner, host, pid, a random token), since when, and until when. Apply creates
it before its first write, renews it every third of its expiry, and deletes it at the end; plan
and drift never touch it.

A FaceList costs nothing to train and holds no persons, but a resource allows only 64 of them:
the lock takes one of those slots while an apply runs.

Expired locks (the holder died) are taken over without a race: the process that wants to take
over lock instance T must first create a *marker* FaceList whose id is derived from T's token.
Only one process can create that marker; it checks that the lock still carries token T, rewrites
the lock with its own details, and deletes the marker. A process that created the marker after
the winner deleted it re-reads the lock, sees another token, and backs off. A marker whose
creator died is itself a lock instance that expires and is taken over the same way.
"""

from __future__ import annotations

import asyncio
import getpass
import hashlib
import json
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime

from facesync.client import FaceAPIError, FaceClient
from facesync.config.rules import RESERVED_COLLECTIONS
from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL, CollectionKind

log = logging.getLogger(__name__)

LOCK_KIND = CollectionKind.FACE_LIST
assert RESERVED_COLLECTIONS.get(LOCK_KIND, 0) >= 2, "validate must leave room for the lock and its marker"
LOCK_ID = "facesync-lock"
"""The lock's collection id; takeover markers are `facesync-lock-<16 hex>`."""
LOCK_NAME = "facesync apply lock"
_MARKER_PREFIX = LOCK_ID + "-"
_ATTEMPTS = 5
_MARKER_EXPIRY = 60.0
_MIN_RENEWAL = 1.0
"""A lock shorter than three times this is not renewed (tests use such locks to expire them)."""
"""A takeover takes three calls: a marker older than this belongs to a process that died."""


def is_lock_collection(kind: CollectionKind, collection_id: str) -> bool:
    """The lock or one of its takeover markers: never reported, pruned, imported or counted."""
    return kind is LOCK_KIND and (collection_id == LOCK_ID or collection_id.startswith(_MARKER_PREFIX))


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock instance. `token` identifies the instance; times are Unix seconds."""

    token: str
    owner: str
    host: str
    pid: int
    started: float
    expires: float

    def expired(self, now: float) -> bool:
        return now >= self.expires

    def to_user_data(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_user_data(cls, user_data: str | None) -> LockInfo:
        """Tolerant: a lock whose data cannot be read never expires (force-unlock removes it)."""
        try:
            raw = json.loads(user_data or "")
            return cls(
                token=str(raw["token"]),
                owner=str(raw["owner"]),
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                started=float(raw["started"]),
                expires=float(raw["expires"]),
            )
        except (ValueError, KeyError, TypeError):
            return cls(token="", owner="unknown", host="unknown", pid=0, started=0.0, expires=math.inf)

    def describe(self) -> str:
        since = _iso(self.started) if self.started else "an unknown time"
        until = _iso(self.expires) if math.isfinite(self.expires) else "never (unreadable lock data)"
        return f"{self.owner}@{self.host} (pid {self.pid}) since {since}, expires {until}"


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # lock data written by something else
        return f"{seconds:.0f} (Unix time)"


class LockError(Exception):
    """The lock could not be taken (other than by waiting for its holder)."""


class LockHeld(LockError):
    """Another process holds the lock and did not release it within the wait."""

    def __init__(self, holder: LockInfo, waited: float) -> None:
        self.holder = holder
        self.waited = waited
        super().__init__(
            f"the Face resource is locked by another apply: {holder.describe()}; waited {waited:g}s "
            "(--lock-timeout). If that run died, `facesync force-unlock` removes the lock"
        )


@dataclass(frozen=True)
class LockOptions:
    timeout: float = 300.0
    """How long to wait for a lock another process holds."""
    expiry: float = 3600.0
    """How long the lock stays valid: after that another apply may take it over (holder died)."""
    poll: float = 2.0
    """Seconds between looks at a lock another process holds."""
    owner: str | None = None
    clock: Callable[[], float] = time.monotonic
    """Measures the wait."""
    now: Callable[[], float] = time.time
    """Wall clock for the expiry: other machines compare it, so it cannot be monotonic."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


def _default_owner() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


class ResourceLock:
    """One process's hold on the resource's lock. `acquire`, then `release` (also on failure)."""

    def __init__(
        self,
        client: FaceClient,
        options: LockOptions | None = None,
        on_wait: Callable[[LockInfo], None] = lambda holder: None,
    ) -> None:
        self.client = client
        self.options = options or LockOptions()
        self.on_wait = on_wait
        self.held: LockInfo | None = None

    def _info(self, expiry: float | None = None) -> LockInfo:
        now = self.options.now()
        expiry = self.options.expiry if expiry is None else expiry
        return LockInfo(
            token=uuid.uuid4().hex,
            owner=self.options.owner or _default_owner(),
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now,
            expires=now + expiry,
        )

    async def acquire(self) -> None:
        """Take the lock, waiting up to `timeout` for another holder; `LockHeld` after that."""
        clock = self.options.clock
        started = clock()
        told = False
        while True:
            info = self._info()
            try:
                holder = await self._claim(LOCK_ID, info)
            except FaceAPIError:
                await self._forget_half_taken(info)
                raise
            if holder is None:
                self.held = info
                log.info("took the lock %s (expires %s)", LOCK_ID, _iso(info.expires))
                return
            waited = clock() - started
            if waited >= self.options.timeout:
                raise LockHeld(holder, self.options.timeout)
            if not told:
                self.on_wait(holder)
                told = True
            await self.options.sleep(min(self.options.poll, self.options.timeout - waited))

    async def _forget_half_taken(self, info: LockInfo) -> None:
        """After a failure, delete the lock if a write that seemed to fail did take it for us."""
        try:
            current = await read_lock(self.client, LOCK_ID)
            if current is not None and current.token == info.token:
                await _delete(self.client, LOCK_ID)
        except FaceAPIError as exc:
            log.warning("could not check whether the lock was left behind: %s", exc)

    async def renew(self) -> bool:
        """Push the expiry of the lock we hold forward; False when it is no longer ours."""
        if self.held is None:
            return False
        current = await read_lock(self.client, LOCK_ID)
        if current is None or current.token != self.held.token:
            log.error("lost the lock while holding it (expired and taken over, or force-unlocked)")
            return False
        renewed = replace(self.held, expires=self.options.now() + self.options.expiry)
        await self.client.update_collection(
            LOCK_KIND, LOCK_ID, name=LOCK_NAME, user_data=renewed.to_user_data()
        )
        self.held = renewed
        log.debug("renewed the lock until %s", _iso(renewed.expires))
        return True

    async def keep_alive(self) -> None:
        """Renew every third of the expiry while held, so a long apply never loses its lock; run
        as a task and cancel it before `release`."""
        interval = self.options.expiry / 3
        if interval < _MIN_RENEWAL:
            return
        while self.held is not None:
            await self.options.sleep(interval)
            try:
                if not await self.renew():
                    return
            except FaceAPIError as exc:
                log.warning("could not renew the lock (trying again in %gs): %s", interval, exc)

    async def release(self) -> None:
        if self.held is None:
            return
        mine, self.held = self.held, None
        current = await read_lock(self.client, LOCK_ID)
        if current is None:
            log.warning("the lock was removed (force-unlock?) while this apply held it")
            return
        if current.token != mine.token:
            # Our lock expired and another process took it over: it is theirs now.
            log.warning("the lock expired while this apply held it; %s took it over", current.describe())
            return
        await _delete(self.client, LOCK_ID)
        log.info("released the lock %s", LOCK_ID)

    async def _claim(self, lock_id: str, info: LockInfo) -> LockInfo | None:
        """Create (or take over, when expired) one lock instance; None when ours, else its holder."""
        current: LockInfo | None = None
        for _ in range(_ATTEMPTS):
            try:
                await self.client.create_collection(
                    LOCK_KIND,
                    lock_id,
                    name=LOCK_NAME,
                    user_data=info.to_user_data(),
                    recognition_model=SERVICE_DEFAULT_RECOGNITION_MODEL,
                )
            except FaceAPIError as exc:
                if exc.status == 403:
                    raise LockError(
                        f"cannot create the lock FaceList {lock_id} ({exc}); a Face resource holds at "
                        "most 64 FaceLists, and apply needs one free for its lock"
                    ) from None
                if exc.status != 409:
                    raise
            else:
                # The client accepts a 409 after an uncertain replay as its own create: check whose.
                current = await read_lock(self.client, lock_id)
                if current is not None and current.token == info.token:
                    return None
                if current is None:
                    continue
                return current
            current = await read_lock(self.client, lock_id)
            if current is None:
                continue  # released since our create: try again
            if not current.expired(self.options.now()):
                return current
            if await self._take_over(lock_id, current, info):
                return None
        return current or LockInfo.from_user_data(None)

    async def _take_over(self, lock_id: str, expired: LockInfo, info: LockInfo) -> bool:
        """True when we now hold `lock_id`; False to look at it again."""
        marker = marker_id(expired.token)
        if await self._claim(marker, self._info(min(self.options.expiry, _MARKER_EXPIRY))) is not None:
            # Another process is taking it over: wait for the outcome rather than spin on it.
            await self.options.sleep(min(self.options.poll, 0.05))
            return False
        try:
            again = await read_lock(self.client, lock_id)
            if again is None or again.token != expired.token:
                return False  # someone took it over (or released it) before we made the marker
            await self.client.update_collection(
                LOCK_KIND, lock_id, name=LOCK_NAME, user_data=info.to_user_data()
            )
            log.warning("took over an expired lock held by %s", expired.describe())
            return True
        finally:
            try:
                await _delete(self.client, marker)
            except FaceAPIError as exc:
                # Harmless when left: markers are never reported, and force-unlock removes them.
                log.warning("could not delete the takeover marker %s: %s", marker, exc)


def marker_id(token: str) -> str:
    return _MARKER_PREFIX + hashlib.sha256(token.encode()).hexdigest()[:16]


async def read_lock(client: FaceClient, lock_id: str = LOCK_ID) -> LockInfo | None:
    try:
        found = await client.get_collection(LOCK_KIND, lock_id)
    except FaceAPIError as exc:
        if exc.not_found:
            return None
        raise
    return LockInfo.from_user_data(found.user_data)


async def _delete(client: FaceClient, lock_id: str) -> None:
    try:
        await client.delete_collection(LOCK_KIND, lock_id)
    except FaceAPIError as exc:
        if not exc.not_found:
            raise


async def force_unlock(client: FaceClient) -> list[str]:
    """Delete the lock and any takeover markers, whoever holds them; the ids deleted."""
    ids = sorted(
        info.id for info in await client.list_collections(LOCK_KIND) if is_lock_collection(LOCK_KIND, info.id)
    )
    for lock_id in ids:
        await _delete(client, lock_id)
    return ids
