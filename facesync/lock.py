"""The apply lock: a lease kept on the Face resource itself (there is no state backend to hold it),
with fencing.

The lock is a FaceList with a fixed id, `facesync-lock`: creating a collection is atomic on the
service (a second PUT answers 409 *Exists), so exactly one process can create it. Its `userData`
says who holds it (owner, host, pid, a random token: the *lock id*), the lease duration, and a
renewal counter. Apply creates it before its first write, renews it every third of the lease,
and deletes it at the end; plan and drift never touch it.

**Fencing.** Before every write of the run (the client calls `ResourceLock.check_write` before
each attempt of each create, update, add-face, delete and train), the holder proves by its own
monotonic clock that the lease still holds: less than two thirds of the lease has passed since
the *start* of its last successful renewal (or of the acquisition). When it cannot — the
process was stopped, renewals failed, the machine slept — or when a renewal found the lock
taken over or removed, the write is not sent and `LeaseLost` ends the run, naming the cause.
A write already on its way (sent, half sent, or past its check when the process was stopped)
cannot be recalled: it may land after the lease lapsed.

**Takeover never compares two machines' clocks.** A lock's times (`started`, `expires`) are
the holder's wall clock, shown to people and never compared. A contender instead watches the
lock with its *own* monotonic clock: it may take over an instance only after seeing it
unchanged (same token, same renewal count) for a full lease duration, measured from the end of
the read that first showed it. Why this is safe: the holder's last renewal started (its anchor)
before that read was served, so the takeover comes at least one lease after the anchor, while the
holder stopped writing two thirds of a lease after it — a third of the lease spare for a slow
request and any drift in clock rates. The service's clock (its `Date` header) was the other
choice; it was not taken because it has a resolution of one second, a proxy may rewrite or drop
it, and the emulator and other stand-ins need not send it: a contender's own elapsed time needs
nothing from anyone. The price is that a contender that arrives after the holder died waits a
full lease, whatever the holder's wall clock says (force-unlock is for the impatient).

A taken-over instance is replaced without a race: the process that wants to take over instance T
must first create a *marker* FaceList whose id is derived from T's token. Only one process can
create that marker; it checks that the lock is still exactly T, rewrites it with its own details,
reads it back, and deletes the marker. A process that created the marker after the winner
deleted it re-reads the lock, sees another instance, and backs off. A marker whose creator died
is itself a lock instance, taken over the same way once unchanged for its own lease; its creator
fences its takeover write by that lease.

Locks written by facesync before leases (`expires` but no `lease` field) stay readable: such a
holder renewed every third of its expiry by moving `expires`, which a contender sees as a change;
one left unchanged for `expires - started` (capped at an hour, the old default) is taken over.
Lock data that cannot be read never expires: `force-unlock` removes it.

A FaceList costs nothing to train and holds no persons, but a resource allows only 64 of them:
the lock takes one of those slots while an apply runs.
"""

from __future__ import annotations

import asyncio
import functools
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
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime

from facesync.client import FaceAPIError, FaceClient, FaceClientError
from facesync.config.rules import (
    LOCK_ID,
    LOCK_KIND,
    LOCK_MARKER_PREFIX,
    RESERVED_COLLECTIONS,
    is_lock_collection,
)
from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL

log = logging.getLogger(__name__)

assert RESERVED_COLLECTIONS.get(LOCK_KIND, 0) >= 2, "validate must leave room for the lock and its marker"
LOCK_NAME = "facesync apply lock"
_MARKER_PREFIX = LOCK_MARKER_PREFIX
_ATTEMPTS = 5

DEFAULT_LEASE = 120.0
"""Seconds a lease lasts without renewal: how long a killed run's lock blocks the next apply."""
LEASE_FLOOR = 30.0
"""The shortest lease `--lock-expiry` accepts: each renewal may take up to a third of it."""
TEST_LEASE_FLOOR = 1.0
"""The floor for tests that run apply as a process and must wait a lease out (a hidden flag)."""
RENEW_FRACTION = 1 / 3
"""A lease is renewed when this much of it has passed since the last renewal started."""
FENCE_FRACTION = 2 / 3
"""The holder writes only while less than this much of the lease has passed since the last
renewal started: the rest is the safety margin against a slow request and clock-rate drift."""
_MARKER_LEASE = 60.0
"""A takeover takes a few calls: a marker unchanged this long belongs to a process that died."""
LEGACY_WATCH_LIMIT = 3600.0
"""The longest a lock written before leases is watched before a takeover (the old default)."""


def lease_clock() -> Callable[[], float]:
    """A monotonic clock that keeps counting while the machine sleeps (Linux: CLOCK_BOOTTIME;
    elsewhere `time.monotonic`): a laptop that slept an hour must not think its lease still holds."""
    boottime = getattr(time, "CLOCK_BOOTTIME", None)
    if boottime is not None:
        try:
            time.clock_gettime(boottime)
        except OSError:  # an old kernel
            return time.monotonic
        return functools.partial(time.clock_gettime, boottime)
    return time.monotonic


def lease_floor_problem(seconds: float, *, for_tests: bool = False) -> str | None:
    """Why `seconds` is no lease to give apply's lock (too short to renew in time), or None."""
    floor = TEST_LEASE_FLOOR if for_tests else LEASE_FLOOR
    if not (math.isfinite(seconds) and seconds >= floor):
        return (
            f"{seconds:g}: a lease lasts at least {floor:g} seconds (it is renewed every third of it, "
            "and a renewal must have time to reach the service)"
        )
    return None


@dataclass(frozen=True)
class LockInfo:
    """Who holds a lock instance. `token` identifies the instance (the lock id people see);
    `started`/`expires` are the holder's wall clock (Unix seconds), shown, never compared;
    `lease` is None for a lock written before leases."""

    token: str
    owner: str
    host: str
    pid: int
    started: float
    expires: float
    lease: float | None = None
    renewals: int = 0

    @property
    def lock_id(self) -> str:
        return self.token or "unknown"

    @property
    def watch_seconds(self) -> float:
        """How long a contender must see this instance unchanged before taking it over."""
        if not self.token:
            return math.inf  # unreadable: only force-unlock removes it
        if self.lease is not None:
            return self.lease
        if not math.isfinite(self.expires - self.started):
            return math.inf
        return min(max(self.expires - self.started, 0.0), LEGACY_WATCH_LIMIT)

    def to_user_data(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def from_user_data(cls, user_data: str | None) -> LockInfo:
        """Tolerant: a lock whose data cannot be read never expires (force-unlock removes it)."""
        try:
            raw = json.loads(user_data or "")
            lease = raw.get("lease")
            info = cls(
                token=str(raw["token"]),
                owner=str(raw["owner"]),
                host=str(raw["host"]),
                pid=int(raw["pid"]),
                started=float(raw["started"]),
                expires=float(raw["expires"]),
                lease=None if lease is None else float(lease),
                renewals=int(raw.get("renewals", 0)),
            )
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError):
            info = None
        if info is None or not _sane(info):
            return cls(token="", owner="unknown", host="unknown", pid=0, started=0.0, expires=math.inf)
        return info

    def describe(self) -> str:
        since = _iso(self.started) if self.started else "an unknown time"
        if not self.token:
            return f"an unknown holder (unreadable lock data), lock id {self.lock_id}"
        lease = f"lease {self.lease:g}s" if self.lease is not None else "lock from an older facesync"
        return f"{self.owner}@{self.host} (pid {self.pid}) since {since} ({lease}), lock id {self.lock_id}"


def _sane(info: LockInfo) -> bool:
    """Times a contender can reason with: a NaN never equals itself, so it would never expire."""
    if not (math.isfinite(info.started) and math.isfinite(info.expires)):
        return False
    return info.lease is None or (math.isfinite(info.lease) and info.lease > 0)


def _iso(seconds: float) -> str:
    try:
        return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (ValueError, OverflowError, OSError):  # lock data written by something else
        return f"{seconds:.0f} (Unix time)"


class LockError(Exception):
    """The lock could not be taken (other than by waiting for its holder), or was lost."""


class LockHeld(LockError):
    """Another process holds the lock and did not release it within the wait."""

    def __init__(self, holder: LockInfo, waited: float) -> None:
        self.holder = holder
        self.waited = waited
        frees = (
            f"its lock frees itself {holder.watch_seconds:g}s after its last renewal, or "
            if math.isfinite(holder.watch_seconds)
            else ""
        )
        super().__init__(
            f"the Face resource is locked by another apply: {holder.describe()}; waited {waited:g}s "
            f"(--lock-timeout). If that run died, {frees}`facesync force-unlock {holder.lock_id}` "
            "removes it"
        )


class LeaseLost(LockError):
    """This run can no longer prove it holds the lock: it sends no more writes."""

    def __init__(self, cause: str) -> None:
        self.cause = cause
        super().__init__(
            f"this apply lost the apply lock: {cause}. It stopped writing (a write already sent may "
            "still have landed): run plan to see where it stopped, then apply again"
        )


@dataclass(frozen=True)
class LockOptions:
    timeout: float = 300.0
    """How long to wait for a lock another process holds."""
    expiry: float = DEFAULT_LEASE
    """The lease: seconds the lock stays ours without a renewal. Renewed every third of it; after
    a full lease unrenewed, another apply may take it over."""
    poll: float = 2.0
    """Seconds between looks at a lock another process holds."""
    owner: str | None = None
    clock: Callable[[], float] = field(default_factory=lease_clock)
    """Monotonic: measures the lease, the wait, and how long another's lock went unrenewed."""
    now: Callable[[], float] = time.time
    """Wall clock: only shown to people (since when a lock is held); never compared."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    def __post_init__(self) -> None:
        if not (math.isfinite(self.expiry) and self.expiry > 0):
            raise ValueError(f"a lease must last a positive number of seconds, not {self.expiry!r}")


def _default_owner() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


@dataclass(frozen=True)
class _Won:
    """We hold the instance; `anchor` is our clock when the request that took it started."""

    anchor: float


class ResourceLock:
    """One process's hold on the resource's lock: `acquire`, install `check_write` as the client's
    write guard, run `keep_alive` as a task, then `release` (also on failure)."""

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
        self.lost: str | None = None
        """Why the lease no longer holds (expired, taken over, removed); None while it does."""
        self._anchor = 0.0
        self._renewal_error: str | None = None
        self._watching: dict[str, tuple[LockInfo, float]] = {}

    def _info(self, lease: float | None = None) -> LockInfo:
        now = self.options.now()
        lease = self.options.expiry if lease is None else lease
        return LockInfo(
            token=uuid.uuid4().hex,
            owner=self.options.owner or _default_owner(),
            host=socket.gethostname(),
            pid=os.getpid(),
            started=now,
            expires=now + lease,
            lease=lease,
        )

    # -- the lease ------------------------------------------------------------------------------

    @property
    def _fence(self) -> float:
        """Our clock's reading from which the lease no longer provably holds."""
        return self._anchor + self.options.expiry * FENCE_FRACTION

    def _wall(self, at: float) -> str:
        """Our clock's reading `at`, as a wall-clock time for people."""
        return _iso(self.options.now() - (self.options.clock() - at))

    def _lose(self, cause: str) -> LeaseLost:
        if self.lost is None:
            self.lost = cause
            # Info: the write it refuses fails the run with this cause, on stderr, once.
            log.info("lost the apply lock: %s; no more writes", cause)
        return LeaseLost(self.lost)

    def check_write(self, op: str, method: str, path: str) -> None:
        """The client's write guard: raise `LeaseLost` unless the lease provably holds now."""
        if self.lost is not None:
            raise LeaseLost(self.lost)
        if self.held is None:
            raise self._lose("it was released")
        if self.options.clock() >= self._fence:
            raise self._lose(self._expired())

    def _expired(self) -> str:
        failed = f"; renewing failed: {self._renewal_error}" if self._renewal_error else ""
        return (
            f"its lease expired at {self._wall(self._fence)} (a {self.options.expiry:g}s lease, "
            f"last renewed at {self._wall(self._anchor)}; stopped or stalled past it?{failed})"
        )

    # -- taking it ------------------------------------------------------------------------------

    async def acquire(self) -> None:
        """Take the lock, waiting up to `timeout` for another holder; `LockHeld` after that."""
        clock = self.options.clock
        started = clock()
        told = False
        while True:
            info = self._info()
            try:
                with self.client.priority():
                    claim = await self._claim(LOCK_ID, info)
            except FaceClientError:
                await self._forget_half_taken(info)
                raise
            if isinstance(claim, _Won):
                self.held, self._anchor, self.lost, self._renewal_error = info, claim.anchor, None, None
                log.info("took the lock %s (lock id %s, lease %gs)", LOCK_ID, info.token, info.lease)
                return
            waited = clock() - started
            if waited >= self.options.timeout:
                raise LockHeld(claim, self.options.timeout)
            if not told:
                self.on_wait(claim)
                told = True
            await self.options.sleep(min(self.options.poll, self.options.timeout - waited))

    async def _forget_half_taken(self, info: LockInfo) -> None:
        """After a failure, delete the lock if a write that seemed to fail did take it for us."""
        try:
            with self.client.priority():
                current = await read_lock(self.client, LOCK_ID)
                if current is not None and current.token == info.token:
                    await _delete(self.client, LOCK_ID)
        except FaceClientError as exc:
            log.warning("could not check whether the lock was left behind: %s", exc)

    def _unrenewed_for_a_lease(self, lock_id: str, current: LockInfo) -> bool:
        """Whether we have seen `current` unchanged for its whole lease, by our own clock (from
        the end of the read that first showed it, which the holder's last renewal preceded)."""
        now = self.options.clock()
        seen = self._watching.get(lock_id)
        if seen is None or seen[0] != current:
            self._watching[lock_id] = (current, now)
            return current.watch_seconds <= 0
        return now - seen[1] >= current.watch_seconds

    async def _claim(self, lock_id: str, info: LockInfo) -> _Won | LockInfo:
        """Create (or take over, when unrenewed for a lease) one lock instance: `_Won`, else the
        holder."""
        current: LockInfo | None = None
        for _ in range(_ATTEMPTS):
            anchor = self.options.clock()
            try:
                certain = await self.client.create_collection(
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
                if certain:
                    return _Won(anchor)  # the service created it for this very request
                # The client accepts a 409 after an uncertain replay as its own create: check whose.
                current = await read_lock(self.client, lock_id)
                if current is not None and current.token == info.token:
                    return _Won(anchor)
                if current is None:
                    continue
                return current
            current = await read_lock(self.client, lock_id)
            if current is None:
                continue  # released since our create: try again
            if not self._unrenewed_for_a_lease(lock_id, current):
                return current
            won = await self._take_over(lock_id, current, info)
            if won is not None:
                return won
        return current or LockInfo.from_user_data(None)

    async def _take_over(self, lock_id: str, stale: LockInfo, info: LockInfo) -> _Won | None:
        """Replace an instance left unrenewed for a lease; None to look at the lock again."""
        marker = marker_id(stale.token)
        marker_lease = min(self.options.expiry, _MARKER_LEASE)
        claim = await self._claim(marker, self._info(marker_lease))
        if not isinstance(claim, _Won):
            # Another process is taking it over: wait for the outcome rather than spin on it.
            await self.options.sleep(min(self.options.poll, 0.05))
            return None
        fence = claim.anchor + marker_lease * FENCE_FRACTION

        def marker_holds(op: str, method: str, path: str) -> None:
            # Past this, another process may have taken the marker over: we must not write.
            if self.options.clock() >= fence:
                raise LeaseLost(f"its takeover marker {marker} lapsed while taking the lock over")

        won: _Won | None = None
        try:
            with self.client.priority(marker_holds):
                again = await read_lock(self.client, lock_id)
                if again == stale:
                    anchor = self.options.clock()
                    await self.client.update_collection(
                        LOCK_KIND, lock_id, name=LOCK_NAME, user_data=info.to_user_data()
                    )
                    mine = await read_lock(self.client, lock_id)
                    if mine is not None and mine.token == info.token:
                        won = _Won(anchor)
                        log.warning(
                            "took over a lock left unrenewed for %gs (its lease): %s",
                            stale.watch_seconds,
                            stale.describe(),
                        )
                # else renewed, released or taken over before we made the marker
        except LeaseLost as exc:
            # The marker is left in place: it lapses like any lock instance; force-unlock removes it.
            log.warning("gave up taking the lock over: %s", exc.cause)
            return None
        finally:
            await self._drop_marker(marker, marker_holds)
        return won

    async def _drop_marker(self, marker: str, marker_holds: Callable[[str, str, str], None]) -> None:
        try:
            with self.client.priority(marker_holds):
                await _delete(self.client, marker)
        except (FaceClientError, LeaseLost) as exc:
            # Harmless when left: markers are never reported, and force-unlock removes them.
            log.warning("could not delete the takeover marker %s: %s", marker, exc)

    # -- keeping it -----------------------------------------------------------------------------

    async def renew(self) -> bool:
        """Renew the lease of the lock we hold; False (and `lost` set) when it is no longer ours.
        A failed call raises (FaceClientError): the lease holds until its fence all the same."""
        if self.held is None or self.lost is not None:
            return False
        started = self.options.clock()
        try:
            with self.client.priority(self.check_write):
                current = await read_lock(self.client, LOCK_ID)
                if current is None:
                    raise self._lose("it was removed from the resource (force-unlock?)")
                if current.token != self.held.token:
                    raise self._lose(f"another apply took it over: {current.describe()}")
                renewed = replace(
                    self.held,
                    renewals=self.held.renewals + 1,
                    expires=self.options.now() + self.options.expiry,
                )
                await self.client.update_collection(
                    LOCK_KIND, LOCK_ID, name=LOCK_NAME, user_data=renewed.to_user_data()
                )
        except LeaseLost:
            return False
        self.held, self._anchor, self._renewal_error = renewed, started, None
        log.debug("renewed the lease (%d)", renewed.renewals)
        return True

    async def keep_alive(self) -> None:
        """Renew every third of the lease while held; after a failure, try again every twelfth
        until the lease lapses. Run as a task and cancel it before `release`."""
        interval = self.options.expiry * RENEW_FRACTION
        while self.held is not None and self.lost is None:
            wait = self._anchor + interval - self.options.clock()
            if wait > 0:
                await self.options.sleep(wait)
                continue
            try:
                if not await self.renew():
                    return
            except Exception as exc:  # any failure to renew is one: the fence holds all the same
                self._renewal_error = str(exc)
                left = self._fence - self.options.clock()
                if left <= 0:
                    self._lose(self._expired())
                    return
                pause = min(interval / 4, left)
                log.warning("could not renew the lease (trying again in %gs): %s", pause, exc)
                await self.options.sleep(pause)

    async def release(self) -> None:
        """Delete the lock when it is still provably ours. A lost one is left alone, with a
        warning: it lapses, or it is someone else's now (the write that found it lost failed the
        run; a run that had no write left has nothing to report)."""
        if self.held is None:
            return
        try:
            with self.client.priority(self.check_write):
                self.check_write("", "", "")
                current = await read_lock(self.client, LOCK_ID)
                if current is None:
                    raise self._lose("it was removed from the resource (force-unlock?)")
                if current.token != self.held.token:
                    raise self._lose(f"another apply took it over: {current.describe()}")
                await _delete(self.client, LOCK_ID)
        except LeaseLost as lost:
            log.warning("did not release the apply lock: this apply lost it (%s)", lost.cause)
            return
        finally:
            self.held = None
        log.info("released the lock %s", LOCK_ID)


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


class NotThatLock(LockError):
    """`force-unlock LOCK_ID` found another instance holding the lock: nothing was removed."""

    def __init__(self, expected: str, holder: LockInfo) -> None:
        self.expected = expected
        self.holder = holder
        super().__init__(
            f"the lock is not {expected}: it is held by {holder.describe()}; nothing was removed"
        )


async def force_unlock(client: FaceClient, expected: str | None = None) -> list[str]:
    """Delete the lock and any takeover markers, whoever holds them (only when the lock id is
    `expected`, if given: else `NotThatLock`); the ids deleted. A holder still running notices
    at its next renewal and stops writing."""
    with client.priority():
        if expected is not None:
            holder = await read_lock(client)
            if holder is not None and holder.lock_id != expected:
                raise NotThatLock(expected, holder)
        ids = sorted(
            info.id
            for info in await client.list_collections(LOCK_KIND)
            if is_lock_collection(LOCK_KIND, info.id)
        )
        for lock_id in ids:
            await _delete(client, lock_id)
    return ids
