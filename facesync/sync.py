"""The orchestrator: plan, check, apply — the one path every command and library caller takes.

Commands parse options, call in here, and render what comes back; refusals arrive as exceptions
(`StalePlan`, `UnsafePlan`) carrying their reasons as data.

    async with Sync(desired, endpoint, state_root=Path(".")) as sync:
        plan = await sync.plan()
        sync.check(plan, reviewed=checksum, force=False)
        result = await sync.apply(plan, on_event=print)
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

import httpx

from facesync.address import resolve_targets
from facesync.apply import ApplyEvent, ApplyOptions, ApplyResult, apply_plan
from facesync.cache import FaceCache
from facesync.client import Endpoint, FaceClient
from facesync.diff import diff
from facesync.journal import TrainingJournal
from facesync.live import ReadProgress, read_live_state
from facesync.model import DesiredState
from facesync.plan import Plan, PlanScope, Refusal, SafetyPolicy, display_path, safety_refusals

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


def config_root(config: Path) -> Path:
    """The folder of the configuration file, or the configuration folder itself."""
    return config if config.is_dir() else config.parent


def state_dir(config: Path) -> Path:
    """`.facesync/` in the configuration's folder (git-ignored): every local cache and journal."""
    return config_root(config) / ".facesync"


@dataclass
class LocalState:
    """What facesync keeps beside the configuration: the face cache and the training journal."""

    cache: FaceCache
    journal: TrainingJournal

    @classmethod
    def open(cls, root: Path, endpoint: str, *, full_refresh: bool = False) -> LocalState:
        folder = state_dir(root)
        return cls(
            cache=FaceCache(folder / "cache" / "faces.json", endpoint, load=not full_refresh),
            journal=TrainingJournal(folder / "pending-training.json", endpoint),
        )

    @classmethod
    def in_memory(cls, endpoint: str) -> LocalState:
        return cls(cache=FaceCache(None, endpoint), journal=TrainingJournal(None, endpoint))


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
    ) -> None:
        """`state_root`: the configuration file or folder whose `.facesync/` holds the local
        state (None keeps it in memory). `transport`: see `FaceClient`."""
        self.desired = desired
        self.targets = resolve_targets(desired, (options or SyncOptions()).targets)
        self.endpoint = endpoint
        self.config_root = config_root(state_root) if state_root is not None else Path(".")
        self.options = options or SyncOptions()
        self.state = (
            LocalState.open(state_root, endpoint.url, full_refresh=self.options.full_refresh)
            if state_root is not None
            else LocalState.in_memory(endpoint.url)
        )
        self.client = FaceClient(
            endpoint,
            api_version=self.options.api_version,
            rate_limit=self.options.rate_limit,
            parallelism=self.options.parallelism,
            transport=transport,
        )

    async def __aenter__(self) -> Sync:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.client.aclose()

    async def plan(self, progress: ReadProgress | None = None) -> Plan:
        """Read the live service (counting into `progress`, for a progress line) and diff."""
        targets = self.targets
        live = await read_live_state(
            self.client, self.desired, targets=targets, cache=self.state.cache, progress=progress
        )
        self.state.cache.save()
        journal = self.state.journal
        pending = [(c.kind, c.id) for c in self.desired.collections if journal.pending(c.kind, c.id)]
        plan = diff(self.desired, live, targets=targets, pending_training=pending)
        log.info("planned %d change(s) with %d request(s)", len(plan.changes), self.client.total_calls)
        return replace(
            plan,
            refusals=tuple(safety_refusals(plan, self.options.policy)),
            scope=PlanScope(
                endpoint=self.endpoint.display,
                api_version=self.options.api_version,
                config_root=display_path(str(self.config_root)),
                targets=self.options.targets,
            ),
        )

    def check(self, plan: Plan, *, reviewed: str | None = None, force: bool = False) -> None:
        """Raise `StalePlan` when `reviewed` is not this plan's checksum, then `UnsafePlan` when a
        safety gate holds it and not `force`."""
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
        return await apply_plan(
            self.client,
            plan,
            options=options,
            cache=self.state.cache,
            journal=self.state.journal,
            on_event=on_event,
        )
