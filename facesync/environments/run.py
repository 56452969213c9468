"""Several environments at once: one `Sync` each (its own client, rate limiter and local state),
planned and applied concurrently; one environment's failure is its own.

    async with Fleet(resolved, state_root=config) as fleet:
        await fleet.plan()
        refused = fleet.check(reviewed=None, force=False, force_envs=())
        await fleet.apply(fleet.ready(refused), options=ApplyOptions())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType

from facesync.apply import ApplyEvent, ApplyOptions, ApplyResult
from facesync.environments.resolve import Resolved
from facesync.live import ReadProgress
from facesync.plan import Gate, Plan, PlanBlocked, Refusal
from facesync.sync import PlanRefused, Sync, UnsafePlan

log = logging.getLogger(__name__)


class ProtectedEnvironment(UnsafePlan):
    """A protected environment's plan destroys something; only `--force-env NAME` accepts it."""


@dataclass
class Member:
    """One environment of the run and what happened to it."""

    resolved: Resolved
    sync: Sync
    progress: ReadProgress = field(default_factory=ReadProgress)
    plan: Plan | None = None
    """With the environment's own refusals added (what is shown)."""
    error: Exception | None = None
    """Why it could not be planned or applied (unreachable, a service error)."""
    protection: tuple[Refusal, ...] = ()
    refused: PlanRefused | None = None
    result: ApplyResult | None = None
    stopped: str | None = None
    """Why it was not applied although planned (--fail-fast, a failed check, refused)."""

    @property
    def name(self) -> str:
        return self.resolved.name

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.result is not None and not self.result.ok)


def protection_refusals(plan: Plan, name: str) -> tuple[Refusal, ...]:
    """A protected environment refuses any plan that deletes or replaces something in it."""
    destroying = [c for c in plan.changes if c.action.destroys]
    if not destroying:
        return ()
    first = destroying[0].address
    more = f" and {len(destroying) - 1} more" if len(destroying) > 1 else ""
    return (
        Refusal(
            Gate.PROTECTED,
            first,
            f"environment '{name}' is protected: this plan deletes or replaces {first}{more}; "
            f"--force-env {name} accepts it",
        ),
    )


BetweenEnvironments = Callable[[Member], Awaitable[str | None]]
"""Run after an environment is applied in a --sequential run; a message stops the run."""


class Fleet:
    def __init__(self, resolved: Sequence[Resolved], *, state_root: Path | None) -> None:
        self.members = [
            Member(r, Sync(r.desired, r.endpoint, options=r.options, state_root=state_root)) for r in resolved
        ]
        self._stack = AsyncExitStack()

    async def __aenter__(self) -> Fleet:
        for member in self.members:
            await self._stack.enter_async_context(member.sync)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    def member(self, name: str) -> Member:
        return next(m for m in self.members if m.name == name)

    async def plan(self) -> None:
        """Plan every environment at once; a failure is kept on its member, not raised."""

        async def one(member: Member) -> None:
            try:
                plan = await member.sync.plan(member.progress)
            except Exception as exc:  # each environment fails on its own
                log.info("environment %s could not be planned: %s", member.name, exc)
                member.error = exc
                return
            if member.resolved.environment.protect:
                member.protection = protection_refusals(plan, member.name)
            member.plan = replace(plan, refusals=plan.refusals + member.protection)

        await asyncio.gather(*(one(m) for m in self.members))

    def check(
        self, *, reviewed: Mapping[str, str] | None, force: bool, force_envs: Collection[str]
    ) -> dict[str, PlanRefused]:
        """Every planned environment's refusal (stale, a safety gate, protection), by name."""
        refused: dict[str, PlanRefused] = {}
        for member in self.members:
            if member.plan is None:
                continue
            gates = tuple(r for r in member.plan.refusals if r not in member.protection)
            own = None if reviewed is None else reviewed.get(member.name, "")
            try:
                member.sync.check(replace(member.plan, refusals=gates), reviewed=own, force=force)
                if member.protection and member.name not in force_envs:
                    raise ProtectedEnvironment(member.protection)
            except PlanRefused as exc:
                member.refused = exc
                refused[member.name] = exc
            except PlanBlocked as exc:  # e.g. a kept face this resource does not hold: its own error
                member.error = exc
        return refused

    def ready(self) -> list[Member]:
        """Planned, not refused, with something to do."""
        return [
            m
            for m in self.members
            if m.plan is not None and m.refused is None and m.error is None and not m.plan.empty
        ]

    async def apply(
        self,
        members: Sequence[Member],
        *,
        options: ApplyOptions,
        on_event: Callable[[Member, ApplyEvent], None] = lambda member, event: None,
        sequential: bool = False,
        fail_fast: bool = False,
        between: BetweenEnvironments | None = None,
    ) -> None:
        """Apply each member's plan: in parallel, or one after another in the given order
        (`between` runs after each but the last, changed or not; a member not planned or refused
        stops the ones after it). `fail_fast` stops the others at the first
        environment that fails; without it each finishes whatever the others do."""

        async def one(member: Member) -> None:
            if member.plan is None or member.plan.empty:
                return
            try:
                member.result = await member.sync.apply(
                    member.plan, options=options, on_event=lambda event: on_event(member, event)
                )
            except Exception as exc:  # each environment fails on its own
                log.info("environment %s could not be applied: %s", member.name, exc)
                member.error = exc

        if sequential:
            # Pinned order is a pipeline: an environment that is not good stops the ones after it.
            for i, member in enumerate(members):
                await one(member)
                reason = None
                if member.failed:
                    reason = f"environment '{member.name}' failed"
                elif member.plan is None or member.refused is not None:
                    reason = f"environment '{member.name}' was not applied"
                elif between is not None and i < len(members) - 1:
                    reason = await between(member)
                if reason is not None:
                    for later in members[i + 1 :]:
                        if later.plan is not None and later.refused is None:
                            later.stopped = f"not applied: {reason} (--sequential)"
                    return
            return
        tasks = {asyncio.ensure_future(one(m)): m for m in members}
        pending = set(tasks)
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            if fail_fast and any(tasks[t].failed for t in done) and pending:
                failed = next(tasks[t].name for t in done if tasks[t].failed)
                for task in pending:
                    task.cancel()
                    tasks[task].stopped = f"stopped: environment '{failed}' failed (--fail-fast)"
                await asyncio.gather(*pending, return_exceptions=True)
                return
