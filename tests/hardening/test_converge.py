"""Apply checks that it converged: never "Apply complete" over a state that does not match."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest

from facesync.apply import ApplyOptions
from facesync.client import Endpoint
from facesync.config import load as load_desired_state
from facesync.emulator import EmulatorSettings, create_app
from facesync.model import CollectionKind
from facesync.plan import Action
from facesync.sync import StalePlan, Sync, SyncOptions
from tests.sync.sync_helpers import Workspace, write_staff

ENDPOINT = Endpoint("http://emulator.test")
PG = CollectionKind.PERSON_GROUP


class SecondWriter(httpx.AsyncBaseTransport):
    """The network to an emulator where someone else (not taking the lock) adds a person to the
    group just before apply trains it: what apply wrote is not what the service ends up with."""

    def __init__(self, app: object) -> None:
        self.inner = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
        self.struck = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if (
            not self.struck
            and request.method == "POST"
            and request.url.path.endswith("/persongroups/staff/train")
        ):
            self.struck = True
            intruder = httpx.Request(
                "POST",
                "http://emulator.test/face/v1.0/persongroups/staff/persons",
                content=json.dumps({"name": "Intruder"}).encode(),
                headers={"Content-Type": "application/json"},
            )
            await self.inner.handle_async_request(intruder)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def emulator():
    app = create_app(EmulatorSettings(train_seconds=0))
    yield app
    app.state.emulator.close()


def _sync(tmp_path: Path, transport: httpx.AsyncBaseTransport) -> Sync:
    tmp_path.mkdir(parents=True, exist_ok=True)
    ws = Workspace(tmp_path, ENDPOINT.url)
    write_staff(ws)
    desired, _ = load_desired_state(tmp_path / "facesync.yaml")
    return Sync(
        desired,
        ENDPOINT,
        options=SyncOptions(rate_limit=None),
        state_root=tmp_path / "facesync.yaml",
        transport=transport,
    )


def test_a_state_changed_behind_apply_is_reported_not_complete(tmp_path: Path, emulator: object):
    transport = SecondWriter(emulator)

    async def run() -> tuple[bool, list[tuple[Action, str]]]:
        async with _sync(tmp_path, transport) as sync:
            plan = await sync.plan()
            result = await sync.apply(plan, options=ApplyOptions(poll_initial=0, sleep=_no_sleep))
            return result.ok, [(c.action, str(c.address)) for c in result.unconverged]

    ok, unconverged = asyncio.run(run())
    assert transport.struck
    assert not ok
    assert (Action.DELETE, 'personGroup.staff/person["Intruder"]') in unconverged


def test_no_wait_training_is_not_a_difference(tmp_path: Path, emulator: object):
    async def run() -> tuple[bool, int, int]:
        async with _sync(tmp_path, httpx.ASGITransport(app=emulator)) as sync:  # type: ignore[arg-type]
            plan = await sync.plan()
            result = await sync.apply(plan, options=ApplyOptions(wait_for_training=False))
            return result.ok, len(result.unconverged), len(result.training_started)

    ok, unconverged, started = asyncio.run(run())
    assert ok and unconverged == 0 and started == 3


async def _no_sleep(seconds: float) -> None:
    await asyncio.sleep(0)


def test_a_plan_made_before_another_apply_is_superseded_not_applied_twice(tmp_path: Path, emulator: object):
    """Two runs plan the same changes; the second to get the lock finds them done and writes nothing."""

    async def run() -> tuple[bool, bool, int, int]:
        first = _sync(tmp_path / "a", httpx.ASGITransport(app=emulator))  # type: ignore[arg-type]
        second = _sync(tmp_path / "b", httpx.ASGITransport(app=emulator))  # type: ignore[arg-type]
        async with first, second:
            plan_a, plan_b = await first.plan(), await second.plan()
            assert plan_a.checksum == plan_b.checksum and not plan_a.empty
            done_a = await first.apply(plan_a, options=ApplyOptions(sleep=_no_sleep, poll_initial=0))
            await first.unlock()
            done_b = await second.apply(plan_b, options=ApplyOptions(sleep=_no_sleep, poll_initial=0))
            persons = await second.client.list_persons(PG, "staff")
            return done_a.ok, done_b.superseded, len(done_b.done), len(persons)

    ok, superseded, done_b, persons = asyncio.run(run())
    assert ok and superseded and done_b == 0
    assert persons == 2  # Alice and Bob, once each


def test_a_service_changed_while_waiting_for_the_lock_refuses_the_old_plan(tmp_path: Path, emulator: object):
    async def run() -> None:
        async with _sync(tmp_path, httpx.ASGITransport(app=emulator)) as sync:  # type: ignore[arg-type]
            plan = await sync.plan()
            await sync.client.create_collection(
                CollectionKind.FACE_LIST,
                "vip",
                name="Made meanwhile",
                user_data=None,
                recognition_model="recognition_04",
            )
            with pytest.raises(StalePlan):
                await sync.apply(plan)

    asyncio.run(run())
