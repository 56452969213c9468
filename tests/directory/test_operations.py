"""Directory writes are long-running operations: awaited on the client's clock (a fake one here,
shared with an in-process emulator, so nothing really waits), bounded by a timeout, journaled,
and finished by the next run after a kill — without a duplicate and without a repeated change."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from facesync.client import Endpoint
from facesync.config import load
from facesync.directory.journal import OperationJournal
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock
from facesync.plan import Plan
from facesync.sync import Sync, SyncOptions
from tests.config.conftest import WriteConfig
from tests.directory.helpers import FAMILY, PREVIEW

IMAGES: dict[str, int | bytes] = {}
URL = "http://emulator.local"


class Killed(BaseException):
    """The process dies here: nothing after it runs, not even `finally` bookkeeping of ours."""


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def emulator(clock: FakeClock) -> Iterator[Any]:
    app = create_app(EmulatorSettings(operation_seconds=30), clock=clock, recognition="deterministic")
    yield app
    app.state.emulator.close()


@pytest.fixture
def config(write_config: WriteConfig) -> Path:
    from tests.imagegen import face_image

    images = {
        "images/dad/1.png": face_image(1, identity="dad"),
        "images/dad/2.png": face_image(2, identity="dad"),
        "images/mum/1.png": face_image(3, identity="mum"),
        "images/kid/1.png": face_image(4, identity="kid"),
    }
    return write_config(FAMILY, images)


def _sync(config: Path, app: Any, clock: FakeClock, *, text: str | None = None) -> Sync:
    if text is not None:
        config.write_text(text.lstrip())
    desired, _ = load(config)
    sync = Sync(
        desired,
        Endpoint(URL),
        options=SyncOptions(api_version=PREVIEW, rate_limit=None),
        state_root=config,
        transport=httpx.ASGITransport(app=app),
    )
    # Waits pass on the emulator's clock: the client sleeps by moving it.
    sync.client.clock = clock
    sync.client.sleep = clock.sleep
    return sync


async def _plan_and_apply(sync: Sync, **apply: Any) -> tuple[Plan, Any]:
    async with sync:
        plan = await sync.plan()
        return plan, await sync.apply(plan, **apply)


def _journal(config: Path) -> dict[str, str]:
    return OperationJournal(config.parent / ".facesync" / "pending-operations.json", URL).pending()


def test_every_write_is_awaited_on_the_clients_clock(config: Path, emulator: Any, clock: FakeClock):
    start = clock.now
    _, result = asyncio.run(_plan_and_apply(_sync(config, emulator, clock)))
    assert result.ok and not result.unconverged, (result.failed, result.unconverged)
    # 3 persons, 4 faces and the group's members: 8 operations of 30 s, awaited in phases.
    assert clock.now - start >= 3 * 30
    assert _journal(config) == {}
    plan_again = asyncio.run(_plan_and_apply(_sync(config, emulator, clock)))[0]
    assert plan_again.empty


def test_an_operation_past_the_timeout_fails_its_change_and_the_next_plan_awaits_it(
    config: Path, emulator: Any, clock: FakeClock
):
    from facesync.apply import ApplyOptions

    text = FAMILY.replace("    Mum: {faces: [images/mum/1.png]}\n    Kid: {faces: [images/kid/1.png]}\n", "")
    text = text.replace("[Dad, Mum]", "[Dad]")
    options = ApplyOptions(operation_timeout=10)  # the emulator takes 30 s
    _, result = asyncio.run(_plan_and_apply(_sync(config, emulator, clock, text=text), options=options))
    operation = next(iter(_journal(config)))
    assert [(str(c.address), why) for c, why in result.failed] == [
        (
            'personDirectory/person["Dad"]',
            f'create personDirectory/person["Dad"]: operation {operation} still running after 10s; '
            "run apply again to wait for it",
        ),
        (
            'dynamicPersonGroup.parents/member["Dad"]',
            'dynamicPersonGroup.parents/member["Dad"]: its person was not created',
        ),
    ]
    assert list(_journal(config).values()) == ['create personDirectory/person["Dad"]']
    plan, result = asyncio.run(_plan_and_apply(_sync(config, emulator, clock)))
    assert _journal(config) == {}  # the plan waited for it first
    assert 'personDirectory/person["Dad"]' not in [str(c.address) for c in plan.changes]
    assert result.ok


class _DiesAfterJournaling(OperationJournal):
    """Records the operation durably, then the process is killed (before the operation ends)."""

    def __init__(self, path: Path, endpoint: str, when: str) -> None:
        super().__init__(path, endpoint)
        self.when = when

    def started(self, operation: str, what: str) -> None:
        super().started(operation, what)
        if what.startswith(self.when):
            raise Killed(what)


@pytest.mark.parametrize(
    "killed_after",
    ['create personDirectory/person["Mum"]', "create dynamicPersonGroup.parents"],
    ids=["person-create", "group-create"],
)
def test_a_run_killed_after_a_202_is_finished_without_duplicate_or_repeat(
    config: Path, emulator: Any, clock: FakeClock, killed_after: str
):
    sync = _sync(config, emulator, clock)
    sync.state.operations = _DiesAfterJournaling(
        config.parent / ".facesync" / "pending-operations.json", URL, killed_after
    )
    with pytest.raises(Killed):
        asyncio.run(_plan_and_apply(sync))
    assert killed_after in _journal(config).values()
    plan, result = asyncio.run(_plan_and_apply(_sync(config, emulator, clock)))
    addresses = [str(c.address) for c in plan.changes]
    # What the killed run started is seen as done: neither made twice nor planned again.
    assert killed_after.split(" ", 1)[1] not in addresses
    assert not any(a.startswith("dynamicPersonGroup.parents/member") for a in addresses) or (
        killed_after != "create dynamicPersonGroup.parents"
    )
    assert result.ok and not result.unconverged
    persons = _get(emulator, "/persons")
    assert sorted(p["name"] for p in persons) == ["Dad", "Kid", "Mum"]
    assert _journal(config) == {}


def test_without_the_journal_a_killed_runs_member_change_would_be_planned_again(
    config: Path, emulator: Any, clock: FakeClock
):
    """What the journal is for: the service shows a membership only once its operation ended."""
    sync = _sync(config, emulator, clock)
    journal = config.parent / ".facesync" / "pending-operations.json"
    sync.state.operations = _DiesAfterJournaling(journal, URL, "create dynamicPersonGroup.parents")
    with pytest.raises(Killed):
        asyncio.run(_plan_and_apply(sync))
    journal.unlink()
    forgetful = _sync(config, emulator, clock)

    async def plan_only() -> Plan:
        async with forgetful:
            return await forgetful.plan()

    addresses = [str(c.address) for c in asyncio.run(plan_only()).changes]
    assert 'dynamicPersonGroup.parents/member["Dad"]' in addresses


def _get(app: Any, path: str) -> Any:
    async def get() -> Any:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=URL) as http:
            return (await http.get(f"/face/{PREVIEW}{path}")).json()

    return asyncio.run(get())


def test_lost_answers_to_creates_are_looked_for_before_anything_is_sent_again(
    config: Path, emulator: Any, clock: FakeClock
):
    emulator.state.emulator.settings.lost_response_rate = 1.0  # every write happens, its answer is lost
    sync = _sync(config, emulator, clock)
    asyncio.run(_plan_and_apply(sync))
    emulator.state.emulator.settings.lost_response_rate = 0.0
    persons = _get(emulator, "/persons")
    assert sorted(p["name"] for p in persons) == ["Dad", "Kid", "Mum"]  # no twin
    for person in persons:
        faces = _get(
            emulator, f"/persons/{person['personId']}/recognitionModels/recognition_03/persistedfaces"
        )
        assert len(faces["persistedFaceIds"]) == {"Dad": 2, "Mum": 1, "Kid": 1}[person["name"]]
    assert json.dumps(_journal(config)) == "{}"
