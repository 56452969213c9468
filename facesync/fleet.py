"""The one run path: plan, check and apply one Face resource or several at once.

A fleet holds one `Sync` per resource (its own client, rate limiter, lock and local state); a
configuration without `environments:` is a fleet of one whose member has no name. Each member's
failure is its own: it is kept on the member, never raised into the others.

    async with Fleet(resolved, state_root=config) as fleet:
        await fleet.lock()                 # apply only: each resource's lock, before its plan
        await fleet.plan()
        refused = fleet.check(reviewed=None, force=False, force_envs=())
        await fleet.apply(fleet.ready(), options=ApplyOptions())
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from facesync.apply import ApplyEvent, ApplyOptions, ApplyResult
from facesync.client import FaceClientError
from facesync.environments.resolve import Resolved
from facesync.live import ReadProgress
from facesync.lock import LockError, LockInfo
from facesync.plan import Gate, Plan, PlanBlocked, Refusal
from facesync.sync import PlanRefused, Sync, UnsafePlan

log = logging.getLogger(__name__)

MemberFailure = (FaceClientError, LockError, OSError)
"""What stops one member without stopping the others: the service, its lock, local files."""


@dataclass
class Member:
    """One resource of the run and what happened to it."""

    resolved: Resolved
    sync: Sync
    progress: ReadProgress = field(default_factory=ReadProgress)
    plan: Plan | None = None
    """With the environment's own refusals added (what is shown)."""
    error: Exception | None = None
    """Why it could not be locked, planned or applied (unreachable, a service error, the lock)."""
    protection: tuple[Refusal, ...] = ()
    refused: PlanRefused | None = None
    superseded: bool = False
    """The reviewed plan was already applied by another run: nothing is left to do."""
    result: ApplyResult | None = None
    stopped: str | None = None
    """Why it was not applied although planned (--fail-fast, a failed check, --sequential)."""

    @property
    def name(self) -> str | None:
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
            Gate.PROTECTED_ENVIRONMENT,
            first,
            f"environment '{name}' is protected: this plan deletes or replaces {first}{more}; "
            f"only --force-env {name} accepts it",
        ),
    )


BetweenMembers = Callable[[Member], Awaitable[str | None]]
"""Run after a member is applied in a --sequential run; a message stops the run."""


class Fleet:
    def __init__(self, resolved: Sequence[Resolved], *, state_root: Path | None) -> None:
        self.members = [
            Member(r, Sync(r.desired, r.endpoint, options=r.options, state_root=state_root)) for r in resolved
        ]
        self._stack = AsyncExitStack()

    @property
    def single(self) -> bool:
        """A configuration without `environments:`: one resource, no name."""
        return len(self.members) == 1 and self.members[0].name is None

    async def __aenter__(self) -> Fleet:
        for member in self.members:
            await self._stack.enter_async_context(member.sync)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self._stack.aclose()

    async def _each(self, work: Callable[[Member], Awaitable[Any]], what: str) -> None:
        async def one(member: Member) -> None:
            if member.error is not None:
                return
            try:
                await work(member)
            except MemberFailure as exc:
                log.info("%s could not be %s: %s", member.name or "the resource", what, exc)
                member.error = exc

        await asyncio.gather(*(one(m) for m in self.members))

    async def lock(self, on_wait: Callable[[Member, LockInfo], None] = lambda member, holder: None) -> None:
        """Take every member's apply lock (each on its own resource), before it is planned: a plan
        made under the lock stays true until the apply, so it is made once."""
        await self._each(lambda m: m.sync.lock(on_wait=lambda holder: on_wait(m, holder)), "locked")

    async def plan(self, *, unmanaged: bool = True) -> None:
        """Plan every member at once (`unmanaged`: see `Sync.plan`)."""

        async def one(member: Member) -> None:
            plan = await member.sync.plan(member.progress, unmanaged=unmanaged)
            if member.resolved.protect and member.name is not None:
                member.protection = protection_refusals(plan, member.name)
            member.plan = replace(plan, refusals=plan.refusals + member.protection)

        await self._each(one, "planned")

    def check(
        self, *, reviewed: Mapping[str | None, str] | None, force: bool, force_envs: Collection[str] = ()
    ) -> dict[str | None, PlanRefused]:
        """Every planned member's refusal (stale, a safety gate, protection), by name. A reviewed
        plan that another run already applied leaves the member `superseded`, not stale."""
        refused: dict[str | None, PlanRefused] = {}
        for member in self.members:
            if member.plan is None:
                continue
            gates = tuple(r for r in member.plan.refusals if r not in member.protection)
            own = None if reviewed is None else reviewed.get(member.name, "")
            if own is not None and own != member.plan.checksum and member.plan.empty and member.sync.locked:
                # Under the lock nothing else writes: the reviewed changes are all there already.
                log.info("%s: another apply made the reviewed changes", member.name or "the resource")
                member.superseded = True
                continue
            try:
                member.sync.check(replace(member.plan, refusals=()), reviewed=own)
            except PlanRefused as exc:
                member.refused = exc
                refused[member.name] = exc
                continue
            except PlanBlocked as exc:  # e.g. a kept face this resource does not hold: its own error
                member.error = exc
                continue
            # Every gate that holds, at once: one answer names every flag the plan needs.
            blocking = (() if force else gates) + (() if member.name in force_envs else member.protection)
            if blocking:
                member.refused = UnsafePlan(blocking)
                refused[member.name] = member.refused
        return refused

    def ready(self) -> list[Member]:
        """Planned, not refused, with something to do."""
        return [
            m
            for m in self.members
            if m.plan is not None
            and m.refused is None
            and m.error is None
            and not m.superseded
            and not m.plan.empty
        ]

    async def apply(
        self,
        members: Sequence[Member],
        *,
        options: ApplyOptions,
        on_event: Callable[[Member, ApplyEvent], None] = lambda member, event: None,
        sequential: bool = False,
        fail_fast: bool = False,
        between: BetweenMembers | None = None,
        on_lock_wait: Callable[[Member, LockInfo], None] = lambda member, holder: None,
    ) -> None:
        """Apply each member's plan: in parallel, or one after another in the given order
        (`between` runs after each but the last, changed or not; a member not planned or refused
        stops the ones after it). `fail_fast` stops the others at the first member that fails;
        without it each finishes whatever the others do."""

        async def one(member: Member) -> None:
            if member.plan is None or member.plan.empty or member.superseded or member.error:
                return
            if member.refused is not None:
                return  # refused at check: --skip-refused leaves it alone, --sequential stops at it
            try:
                # Taken here unless `lock()` took it before the plan (then the plan is current).
                await member.sync.lock(on_wait=lambda holder: on_lock_wait(member, holder))
                member.result = await member.sync.apply(
                    member.plan, options=options, on_event=lambda event: on_event(member, event)
                )
            except PlanRefused as exc:
                # Planned before the lock, and the service changed before it was taken.
                log.info("%s changed while this run waited for its lock", member.name or "the resource")
                member.refused = exc
            except MemberFailure as exc:
                log.info("%s could not be applied: %s", member.name or "the resource", exc)
                member.error = exc

        if sequential:
            # Pinned order is a pipeline: a member that is not good stops the ones after it.
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
