"""One Face resource's plan, check and apply. `facesync.fleet` runs one `Sync` per resource (the
one run path of every command); a library caller may use one directly.

Refusals arrive as exceptions (`StalePlan`, `UnsafePlan`, `PlanBlocked`) carrying their reasons as
data.

    async with Sync(desired, endpoint, state_root=Path(".")) as sync:
        plan = await sync.plan()
        sync.check(plan, reviewed=checksum, force=False)
        result = await sync.apply(plan, on_event=print)

`apply` takes the resource's lock before its first write (`lock()` takes it earlier, e.g. to wait
with a message), plans again under it when the plan was made before, and checks at the end that
the service converged. While the lock is held, every write first proves its lease still holds
(`LeaseLost` otherwise). Leaving the `async with` releases the lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

import httpx

from facesync.address import Address, resolve_targets
from facesync.apply import ApplyEvent, ApplyOptions, ApplyResult, apply_plan
from facesync.cache import FaceCache
from facesync.client import Endpoint, FaceClient, RetryPolicy
from facesync.diff import diff
from facesync.directory.journal import OperationJournal, settle
from facesync.imagecheck import check_images
from facesync.journal import TrainingJournal
from facesync.live import DEFAULT_VERIFY_SAMPLE, ReadProgress, read_live_state
from facesync.localstate import config_root, state_dir
from facesync.lock import LockInfo, LockOptions, ResourceLock, force_unlock, read_lock
from facesync.model import DesiredState
from facesync.plan import (
    Action,
    Change,
    ImagesRefused,
    Plan,
    PlanBlocked,
    PlanScope,
    Refusal,
    SafetyPolicy,
    display_path,
    safety_refusals,
)

log = logging.getLogger(__name__)


class PlanRefused(Exception):
    """A plan that must not be applied as it is (exit code 3)."""


class StalePlan(PlanRefused):
    """The fresh plan differs from the one that was reviewed."""

    def __init__(self, reviewed: str, current: str) -> None:
        self.reviewed = reviewed
        self.current = current
        super().__init__(
            f"the plan changed since it was reviewed (reviewed {reviewed}, now {current})"
        )


class UnsafePlan(PlanRefused):
    """The plan trips a safety gate; `--force` accepts it."""

    def __init__(self, refusals: Collection[Refusal]) -> None:
        self.refusals = tuple(refusals)
        super().__init__("; ".join(r.message for r in self.refusals))


@dataclass
class LocalState:
    """What facesync keeps beside the configuration: the face cache, the training journal and the
    directory operations an apply left running."""

    cache: FaceCache
    journal: TrainingJournal
    operations: OperationJournal

    @classmethod
    def open(
        cls, root: Path, endpoint: str, *, full_refresh: bool = False, environment: str | None = None
    ) -> LocalState:
        # Each environment keeps its own: environments run in parallel, and one resource's face
        # ids mean nothing to another.
        folder = state_dir(root) / "environments" / environment if environment else state_dir(root)
        return cls(
            cache=FaceCache(folder / "cache" / "faces.json", endpoint, load=not full_refresh),
            journal=TrainingJournal(folder / "pending-training.json", endpoint),
            operations=OperationJournal(folder / "pending-operations.json", endpoint),
        )

    @classmethod
    def in_memory(cls, endpoint: str) -> LocalState:
        return cls(
            cache=FaceCache(None, endpoint),
            journal=TrainingJournal(None, endpoint),
            operations=OperationJournal(None, endpoint),
        )


@dataclass(frozen=True)
class SyncOptions:
    api_version: str = "v1.0"
    rate_limit: float | None = 10.0
    """Calls per second shared by every call of the run; None for no limit."""
    parallelism: int = 8
    full_refresh: bool = False
    """Ignore the local face cache and read every face from the service."""
    targets: tuple[str, ...] = ()
    """`--target` values (collection ids, collection or person addresses); empty for all."""
    policy: SafetyPolicy = field(default_factory=SafetyPolicy)
    environment: str | None = None
    """The `environments:` entry this run is for: its own local state, named in the plan's scope."""
    verify_sample: int | None = DEFAULT_VERIFY_SAMPLE
    """Cached faces checked against the service on every plan (0: trust the cache; None: all)."""
    lock: LockOptions = field(default_factory=LockOptions)
    retry: RetryPolicy | None = None
    """How the client retries (None: its default)."""
    check_images: bool = False
    """`plan()` detects the image of every face it adds (one call each) and notes what the
    service would refuse (`facesync.imagecheck`); `check` and `apply` then refuse it."""


class Sync:
    """One run against one Face resource: one client, one rate limiter, one local state."""

    def __init__(
        self,
        desired: DesiredState,
        endpoint: Endpoint,
        *,
        options: SyncOptions | None = None,
        state_root: Path | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        rng: random.Random | None = None,
    ) -> None:
        """`state_root`: the configuration file or folder whose `.facesync/` holds the local
        state (None keeps it in memory). `transport`: see `FaceClient`. `rng` picks the cached
        faces to verify (tests pass a seeded one)."""
        self.desired = desired
        self.targets = resolve_targets(desired, (options or SyncOptions()).targets)
        self.endpoint = endpoint
        self.config_root = config_root(state_root) if state_root is not None else Path(".")
        self.options = options or SyncOptions()
        self.state = (
            LocalState.open(
                state_root,
                endpoint.url,
                full_refresh=self.options.full_refresh,
                environment=self.options.environment,
            )
            if state_root is not None
            else LocalState.in_memory(endpoint.url)
        )
        self.client = FaceClient(
            endpoint,
            api_version=self.options.api_version,
            rate_limit=self.options.rate_limit,
            parallelism=self.options.parallelism,
            transport=transport,
            retry=self.options.retry,
        )
        self.rng = rng or random.Random()
        self.verified = 0
        """Cached faces the last plan checked against the service."""
        self._lock: ResourceLock | None = None
        self._keep_alive: asyncio.Task[None] | None = None
        self._planned_under_lock: set[str] = set()

    async def __aenter__(self) -> Sync:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            await self.unlock()
        except Exception as failure:
            if exc is None:
                raise
            # The run already failed: report that, not the release (the lock will expire).
            log.warning("could not release the lock: %s", failure)
        finally:
            await self.client.aclose()

    # -- the lock -------------------------------------------------------------------------------

    @property
    def locked(self) -> bool:
        return self._lock is not None and self._lock.held is not None

    async def lock(self, on_wait: Callable[[LockInfo], None] = lambda holder: None) -> None:
        """Take apply's lock on the resource (waiting per `options.lock`); `LockHeld` on timeout.
        Plan and drift never call this."""
        if self.locked:
            return
        self._lock = ResourceLock(self.client, self.options.lock, on_wait)
        await self._lock.acquire()
        # Fencing: from here every write of the run first proves that the lease still holds.
        self.client.write_guard = self._lock.check_write
        self._keep_alive = asyncio.create_task(self._lock.keep_alive())

    async def unlock(self) -> None:
        if self._keep_alive is not None:
            self._keep_alive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keep_alive
            self._keep_alive = None
        if self._lock is not None:
            try:
                await self._lock.release()
            finally:
                self.client.write_guard = None

    async def read_lock(self) -> LockInfo | None:
        return await read_lock(self.client)

    async def force_unlock(self, lock_id: str | None = None) -> list[str]:
        """Remove the lock whoever holds it (a run that died), or only when its lock id is
        `lock_id` (else `NotThatLock`); the collection ids deleted."""
        return await force_unlock(self.client, lock_id)

    # -- plan and apply -------------------------------------------------------------------------

    async def plan(self, progress: ReadProgress | None = None, *, unmanaged: bool = True) -> Plan:
        """Read the live service (counting into `progress`, for a progress line) and diff.
        `unmanaged=False` leaves out the collections of kinds the configuration does not declare
        (apply has no use for them: a request per kind saved). With `options.check_images`,
        detect the images the plan would add."""
        plan = await self._plan(self.options.verify_sample, progress, unmanaged=unmanaged)
        if self.options.check_images:
            checks = await check_images(
                self.client, plan.changes, self.desired, parallelism=self.options.parallelism
            )
            plan = replace(plan, image_checks=checks)
        return plan

    async def _plan(
        self,
        verify_sample: int | None,
        progress: ReadProgress | None = None,
        *,
        within: tuple[Address, ...] | None = None,
        trained: Collection[Address] = (),
        unmanaged: bool = True,
    ) -> Plan:
        """`within`: only these collections (and only their kinds listed), for the convergence
        check; `trained`: collections whose training this run saw succeed (not read again)."""
        targets = self.targets if within is None else within
        await settle(self.client, self.state.operations)
        live = await read_live_state(
            self.client,
            self.desired,
            targets=targets,
            cache=self.state.cache,
            verify_sample=verify_sample,
            rng=self.rng,
            progress=progress,
            only_targeted_kinds=within is not None,
            known_trained=trained,
            report_unmanaged=unmanaged,
        )
        self.verified = live.verified
        self.state.cache.save()
        journal = self.state.journal
        pending = [(c.kind, c.id) for c in self.desired.collections if journal.pending(c.kind, c.id)]
        plan = diff(self.desired, live, targets=targets, pending_training=pending)
        log.info("planned %d change(s) with %d request(s)", len(plan.changes), self.client.total_calls)
        plan = replace(
            plan,
            refusals=tuple(safety_refusals(plan, self.options.policy)),
            scope=PlanScope(
                endpoint=self.endpoint.display,
                api_version=self.options.api_version,
                config_root=display_path(str(self.config_root)),
                targets=self.options.targets,
                environment=self.options.environment,
            ),
        )
        if self.locked:
            # No other apply can have written since: the plan is current while the lock is held.
            self._planned_under_lock.add(plan.checksum)
        return plan

    def check(self, plan: Plan, *, reviewed: str | None = None, force: bool = False) -> None:
        """Raise `PlanBlocked` when no apply can make the plan (whatever `force` says), `StalePlan`
        when `reviewed` is not this plan's checksum, then `UnsafePlan` when a safety gate holds it
        and not `force`. `ImagesRefused` (a `PlanBlocked`) when the plan adds an image the service
        would refuse."""
        if plan.blockers:
            raise PlanBlocked(plan.blockers)
        if plan.image_errors:
            raise ImagesRefused(plan.image_errors)
        if reviewed is not None and reviewed != plan.checksum:
            raise StalePlan(reviewed, plan.checksum)
        if plan.refusals and not force:
            raise UnsafePlan(plan.refusals)

    async def apply(
        self,
        plan: Plan,
        *,
        options: ApplyOptions | None = None,
        on_event: Callable[[ApplyEvent], None] = lambda event: None,
    ) -> ApplyResult:
        """Apply under the lock, then check that the service now matches the configuration.

        A plan made before the lock was taken is made again under it: when another apply already
        made its changes, nothing is done (`superseded`); when the service changed otherwise,
        `StalePlan` (the plan no longer says what would happen). `PlanBlocked` before any write
        when the plan holds what no apply can make (or adds an image the service would refuse)."""
        if plan.blockers:
            raise PlanBlocked(plan.blockers)
        if plan.image_errors:
            raise ImagesRefused(plan.image_errors)
        await self.lock()
        if plan.checksum not in self._planned_under_lock:
            fresh = await self._plan(0)
            if fresh.empty and not plan.empty:
                log.info("another apply made these changes while this one waited for the lock")
                return ApplyResult(superseded=True)
            if fresh.checksum != plan.checksum:
                raise StalePlan(plan.checksum, fresh.checksum)
        result = await apply_plan(
            self.client,
            plan,
            options=options,
            cache=self.state.cache,
            journal=self.state.journal,
            operations=self.state.operations,
            on_event=on_event,
        )
        if result.ok:
            result.unconverged = await self._unconverged(plan, result)
        return result

    async def _unconverged(self, plan: Plan, result: ApplyResult) -> list[Change]:
        """What still differs after a successful apply, in the collections it touched: re-planned
        from the warm cache (which holds what apply wrote), trusting the training it saw succeed.
        Training started and not waited for (--no-wait) is not a difference."""
        touched = tuple(dict.fromkeys(c.address.collection for c in plan.changes))
        after = await self._plan(0, within=touched, trained=result.trained)
        started = set(result.training_started)
        left = [c for c in after.changes if not (c.action is Action.TRAIN and c.address in started)]
        for change in left:
            log.info("not converged: %s %s (%s)", change.action.value, change.address, change.explanation)
        return left
