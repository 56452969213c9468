"""The orchestrator (facesync.sync) as a library caller uses it, with the emulator in-process
through `FaceClient(transport=...)`, and time that only passes when something waits."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import httpx
import pytest

from facesync.apply import ApplyOptions
from facesync.client import Endpoint, FaceClient, RetryPolicy
from facesync.config import load as load_config
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock
from facesync.model import CollectionKind, DesiredState
from facesync.plan import Gate
from facesync.sync import StalePlan, Sync, SyncOptions, UnsafePlan
from tests.sync.sync_helpers import Workspace, write_staff

PG = CollectionKind.PERSON_GROUP
ENDPOINT = Endpoint("http://emulator.test")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock):
    app = create_app(EmulatorSettings(train_seconds=5), clock=clock)
    yield app
    app.state.emulator.close()


def in_process(app) -> httpx.AsyncBaseTransport:
    return httpx.ASGITransport(app=app)


@pytest.fixture
def staff(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DesiredState:
    monkeypatch.chdir(tmp_path)
    write_staff(Workspace(tmp_path, ""))
    desired, _ = load_config(tmp_path / "facesync.yaml")
    return desired


def make_sync(desired: DesiredState, app, root: Path | None = None) -> Sync:
    options = SyncOptions(rate_limit=None)
    return Sync(desired, ENDPOINT, options=options, state_root=root, transport=in_process(app))


async def plan_apply_replan(
    desired: DesiredState, app, clock: FakeClock, root: Path
) -> tuple[int, bool, int]:
    async with make_sync(desired, app, root) as sync:
        plan = await sync.plan()
        sync.check(plan)
        result = await sync.apply(plan, options=ApplyOptions(clock=clock, sleep=clock.sleep))
    async with make_sync(desired, app, root) as again:
        return len(plan.changes), result.ok, len((await again.plan()).changes)


def test_plan_apply_and_a_clean_replan_in_process_with_training_on_a_fake_clock(
    staff: DesiredState, emulator, clock: FakeClock, tmp_path: Path
):
    started = clock()
    changes, ok, left = asyncio.run(plan_apply_replan(staff, emulator, clock, tmp_path))
    assert (changes, ok, left) == (17, True, 0)
    # Training takes 5 s on the emulator's clock: apply waited for it by polling, never by wall time.
    assert clock() - started >= 5
    assert emulator.state.emulator.stats()["statuses"].get("409", 0) == 0


def test_a_stale_reviewed_checksum_is_refused_with_both_checksums(staff: DesiredState, emulator):
    async def go() -> None:
        async with make_sync(staff, emulator) as sync:
            plan = await sync.plan()
            with pytest.raises(StalePlan) as refused:
                sync.check(plan, reviewed="sha256:" + "0" * 64)
            assert (refused.value.reviewed, refused.value.current) == ("sha256:" + "0" * 64, plan.checksum)
            sync.check(plan, reviewed=plan.checksum)

    asyncio.run(go())


def test_an_unsafe_plan_carries_its_refusals_and_force_accepts_it(
    staff: DesiredState, emulator, clock: FakeClock, tmp_path: Path
):
    asyncio.run(plan_apply_replan(staff, emulator, clock, tmp_path))
    absent = DesiredState(
        collections=tuple(
            type(c)(c.kind, c.id, c.name, ensure="absent", protect=True) if c.id == "staff" else c
            for c in staff.collections
        )
    )

    async def go() -> None:
        async with make_sync(absent, emulator) as sync:
            plan = await sync.plan()
            with pytest.raises(UnsafePlan) as refused:
                sync.check(plan)
            assert [(r.gate, str(r.address)) for r in refused.value.refusals] == [
                (Gate.PROTECTED, "personGroup.staff")
            ]
            sync.check(plan, force=True)

    asyncio.run(go())


def test_429s_are_waited_out_on_the_clock_and_logged(emulator, clock: FakeClock, caplog):
    emulator.state.emulator.update_settings({"rate_limit": 20})
    retry = RetryPolicy(max_attempts=20, base_delay=0.05, max_delay=0.2)

    async def go() -> FaceClient:
        async with FaceClient(
            ENDPOINT,
            rate_limit=None,
            retry=retry,
            sleep=clock.sleep,
            clock=clock,
            transport=in_process(emulator),
        ) as client:
            await client.create_collection(PG, "g", name="G", user_data=None, recognition_model=None)
            await asyncio.gather(*(client.get_collection(PG, "g") for _ in range(40)))
            return client

    with caplog.at_level(logging.INFO, logger="facesync"):
        client = asyncio.run(go())
    throttled = emulator.state.emulator.stats()["statuses"].get("429", 0)
    assert throttled > 0 and client.total_calls == 41 + throttled
    assert "429 rate limited; waiting 1.0s as the service asks" in caplog.text


def test_the_client_rate_limit_keeps_the_service_from_throttling(emulator, clock: FakeClock):
    emulator.state.emulator.update_settings({"rate_limit": 20})

    async def go() -> None:
        async with FaceClient(
            ENDPOINT, rate_limit=15, sleep=clock.sleep, clock=clock, transport=in_process(emulator)
        ) as client:
            await client.create_collection(PG, "g", name="G", user_data=None, recognition_model=None)
            await asyncio.gather(*(client.get_collection(PG, "g") for _ in range(60)))

    asyncio.run(go())
    assert emulator.state.emulator.stats()["statuses"].get("429", 0) == 0
