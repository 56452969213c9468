"""Issue 17.3: the apply lock is a lease with fencing.

An apply that can no longer prove, by its own monotonic clock, that it holds the lock sends no
more writes: stopped past its lease and taken over, force-unlocked, or unable to renew. Takeover
never compares two machines' wall clocks. Every test moves time itself (`Timeline`): nothing
here waits for the wall clock or depends on the machine's speed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from facesync.apply import ApplyResult
from facesync.client import Endpoint, FaceClient, RetryPolicy
from facesync.config import load as load_config
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FAKE_EPOCH
from facesync.lock import (
    LOCK_ID,
    LOCK_KIND,
    LOCK_NAME,
    LeaseLost,
    LockHeld,
    LockInfo,
    LockOptions,
    ResourceLock,
    force_unlock,
    read_lock,
)
from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL, CollectionKind
from facesync.sync import Sync, SyncOptions
from tests.hardening.lease_helpers import HoldingNetwork, Timeline, until_holding
from tests.sync.sync_helpers import Service, Workspace
from tests.sync.test_apply import expected_snapshot, live_snapshot

LEASE = 120.0
QUICK_RETRY = RetryPolicy(base_delay=0.01, max_delay=0.05)
"""A failed renewal's own retries take milliseconds (real ones: the retries are not what is shown)."""
POLL = 10.0
DAY = 86400.0
SIX_PERSONS = """
version: 1
defaults: {recognitionModel: recognition_04}
personGroups:
  staff:
    name: Staff
    persons:
%s
faceLists:
  vip:
    name: VIP
    faces: [images/vip]
"""


def write_six_persons(ws: Workspace) -> None:
    """6 persons with 2 faces each and a FaceList of 2: 14 faces, 23 writes from empty."""
    persons = []
    for i in range(6):
        for j in range(2):
            ws.image(f"images/p{i}/{j}.png", 100 + 10 * i + j)
        persons.append(f"      Person {i}: {{faces: [images/p{i}]}}")
    ws.image("images/vip/a.png", 201)
    ws.image("images/vip/b.png", 202)
    ws.config(SIX_PERSONS % "\n".join(persons))


def counts(service: Service) -> tuple[int, int]:
    """(persons, faces) on the service: a double shows here whatever its names."""
    persons = service.api.get("/persongroups/staff/persons").json()
    faces = sum(len(p["persistedFaceIds"]) for p in persons)
    faces += len(service.api.get("/facelists/vip").json()["persistedFaces"])
    return len(persons), faces


def lease(time: Timeline, *, origin: float = 0.0, wall: float = FAKE_EPOCH, **options: Any) -> LockOptions:
    """A process's lock options: its own monotonic clock (`origin`) and wall clock (`wall`)."""
    return LockOptions(
        **{"expiry": LEASE, "poll": POLL, **options},
        clock=time.clock(origin),
        now=lambda: wall + time.now,
        sleep=time.sleep,
    )


def open_apply(ws: Workspace, service: Service, network: HoldingNetwork, lock: LockOptions) -> Sync:
    """One apply process: one write at a time, so that holding one answer stops all of it."""
    desired, _ = load_config(ws.root / "facesync.yaml")
    options = SyncOptions(rate_limit=None, parallelism=1, lock=lock, retry=QUICK_RETRY)
    return Sync(desired, Endpoint(service.url), options=options, transport=network)


async def plan_and_apply(sync: Sync) -> ApplyResult:
    return await sync.apply(await sync.plan())


async def holder_stopped_after(
    ws: Workspace,
    service: Service,
    writes: int,
    time: Timeline,
    then: Callable[[Sync, HoldingNetwork], Awaitable[None]],
) -> tuple[HoldingNetwork, BaseException | ApplyResult]:
    """Start an apply, hold it after `writes` writes, run `then`, resume it: (its network, how
    its apply ended)."""
    network = HoldingNetwork(hold_after=writes)
    holder = open_apply(ws, service, network, lease(time))
    outcome: BaseException | ApplyResult
    try:
        async with holder:
            applying = asyncio.create_task(plan_and_apply(holder))
            await until_holding(network, applying)
            try:
                await then(holder, network)
            finally:
                network.resume()
            outcome = await applying
    except LeaseLost as lost:
        outcome = lost
    return network, outcome


def test_a_paused_holder_past_its_lease_is_taken_over_and_writes_nothing_more(
    workspace: Workspace, service: Service
):
    """The attack of issue 17: SIGSTOP past the lease, another apply takes over and finishes,
    SIGCONT. Before leases the first run finished its writes: 6 persons became 12, 14 faces 28."""
    write_six_persons(workspace)
    holder_time, taker_time = Timeline(), Timeline()

    async def stopped(holder: Sync, network: HoldingNetwork) -> None:
        # Another machine: its own monotonic clock, its wall clock a day behind the holder's.
        taker = open_apply(
            workspace, service, HoldingNetwork(), lease(taker_time, origin=7e5, wall=FAKE_EPOCH - DAY)
        )
        async with taker:
            taking = asyncio.create_task(plan_and_apply(taker))
            waited = await taker_time.run_until(taking, step=POLL)
            assert taking.result().ok and not taking.result().superseded
        assert LEASE <= waited <= LEASE + POLL  # a full lease unrenewed, by the taker's clock
        holder_time.jump(waited)  # the holder's clock ran on while it was stopped

    network, outcome = asyncio.run(holder_stopped_after(workspace, service, 5, holder_time, stopped))

    assert isinstance(outcome, LeaseLost), outcome
    assert "lease expired at" in str(outcome) and "stopped writing" in str(outcome)
    assert network.data_writes(since=network.resumed_at or 0) == []
    assert counts(service) == (6, 14)
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert service.api.get(f"/facelists/{LOCK_ID}").status_code == 404  # the taker released it


def test_force_unlock_under_a_running_apply_stops_its_writes_at_its_next_renewal(
    workspace: Workspace, service: Service
):
    write_six_persons(workspace)
    time = Timeline()
    removed: list[str] = []

    async def colleague_force_unlocks(holder: Sync, network: HoldingNetwork) -> None:
        async with FaceClient(Endpoint(service.url), rate_limit=None) as elsewhere:
            removed.extend(await force_unlock(elsewhere))
        await time.advance(LEASE / 3)  # the renewal is due: it finds the lock gone

    network, outcome = asyncio.run(holder_stopped_after(workspace, service, 5, time, colleague_force_unlocks))

    assert removed == [LOCK_ID]
    assert isinstance(outcome, LeaseLost), outcome
    assert "removed from the resource (force-unlock?)" in outcome.cause
    assert network.data_writes(since=network.resumed_at or 0) == []
    assert len(network.data_writes()) == 5
    assert service.stats()["mutating"] == 1 + 5 + 1  # the lock, the writes, the force-unlock


@pytest.mark.parametrize("heals_after", [2, None], ids=["renewed-within-the-margin", "never-renewed"])
def test_renewal_failures_beyond_the_margin_stop_the_writes(
    workspace: Workspace, service: Service, heals_after: int | None
):
    """Renewal is due at a third of the lease and tried again every twelfth; writes stop at two
    thirds. A renewal that gets through before then keeps the run going."""
    write_six_persons(workspace)
    time = Timeline()

    async def renewals_fail(holder: Sync, network: HoldingNetwork) -> None:
        network.fail_lock = True
        await time.advance(LEASE / 3)  # 40 s: the first renewal fails
        for attempt in range(4):  # tried again at 50, 60, 70 and 80 s (the lease lapses at 80)
            if attempt == heals_after:
                network.fail_lock = False
            await time.advance(LEASE / 12)

    network, outcome = asyncio.run(holder_stopped_after(workspace, service, 5, time, renewals_fail))

    if heals_after is not None:
        assert isinstance(outcome, ApplyResult) and outcome.ok, outcome
        assert counts(service) == (6, 14)
        return
    assert isinstance(outcome, LeaseLost), outcome
    assert "lease expired at" in outcome.cause and "503 ServiceUnavailable" in outcome.cause
    assert network.data_writes(since=network.resumed_at or 0) == []


# -- takeover watches the lease by the taker's own clock -----------------------------------------


def _client(app: object) -> FaceClient:
    return FaceClient(
        Endpoint("http://emulator.test"),
        rate_limit=None,
        transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
    )


@pytest.fixture
def app() -> Any:
    app = create_app(EmulatorSettings())
    yield app
    app.state.emulator.close()


@pytest.mark.parametrize("skew", [DAY, -DAY], ids=["taker-a-day-ahead", "taker-a-day-behind"])
@pytest.mark.parametrize("holder_alive", [True, False], ids=["holder-renewing", "holder-dead"])
def test_skewed_wall_clocks_change_nothing(app: Any, skew: float, holder_alive: bool):
    """Two machines whose wall clocks differ by a day: a renewing holder is never taken over,
    a dead one exactly one lease after the taker first saw it, by the taker's own clock."""
    time = Timeline()

    async def scenario() -> tuple[BaseException | None, float, ResourceLock, ResourceLock, LockInfo | None]:
        async with _client(app) as holder_client, _client(app) as taker_client:
            holder = ResourceLock(holder_client, lease(time, owner="holder"))
            await holder.acquire()
            keep_alive = asyncio.create_task(holder.keep_alive()) if holder_alive else None
            taker = ResourceLock(
                taker_client,
                lease(time, origin=3e6, wall=FAKE_EPOCH + skew, owner="taker", timeout=3 * LEASE),
            )
            taking = asyncio.create_task(taker.acquire())
            waited = await time.run_until(taking, step=POLL)
            if keep_alive is not None:
                keep_alive.cancel()
            return taking.exception(), waited, holder, taker, await read_lock(holder_client)

    refused, waited, holder, taker, on_service = asyncio.run(scenario())
    if holder_alive:
        assert isinstance(refused, LockHeld) and waited >= 3 * LEASE
        assert holder.lost is None and on_service is not None and on_service.owner == "holder"
        assert on_service.renewals >= 8  # renewed every 40 s for 6 minutes
    else:
        assert refused is None and LEASE <= waited <= LEASE + POLL
        assert taker.held is not None and on_service is not None and on_service.token == taker.held.token


def _put_lock(app: Any, user_data: str) -> None:
    async def put() -> None:
        async with _client(app) as client:
            await client.create_collection(
                LOCK_KIND,
                LOCK_ID,
                name=LOCK_NAME,
                user_data=user_data,
                recognition_model=SERVICE_DEFAULT_RECOGNITION_MODEL,
            )

    asyncio.run(put())


def _legacy(started: float, expires: float) -> str:
    """A lock as facesync wrote it before leases: wall-clock times, no lease, no renewal count."""
    return json.dumps(
        {"token": "old", "owner": "ci", "host": "runner", "pid": 7, "started": started, "expires": expires}
    )


def _take(app: Any, time: Timeline, *, timeout: float, renew_old: bool = False) -> tuple[object, float]:
    """A taker against the lock on `app`; with `renew_old`, a holder of the previous version
    renews it every 100 s as that version did (moving `expires`)."""

    async def scenario() -> tuple[object, float]:
        async with _client(app) as client:
            renewing = None
            if renew_old:

                async def old_keep_alive() -> None:
                    while True:
                        await time.sleep(100)
                        moved = _legacy(FAKE_EPOCH, FAKE_EPOCH + time.now + 300)
                        await client.update_collection(LOCK_KIND, LOCK_ID, name=LOCK_NAME, user_data=moved)

                renewing = asyncio.create_task(old_keep_alive())
            taker = ResourceLock(client, lease(time, wall=FAKE_EPOCH + DAY, timeout=timeout))
            taking = asyncio.create_task(taker.acquire())
            waited = await time.run_until(taking, step=POLL)
            if renewing is not None:
                renewing.cancel()
            return taking.exception() or taker.held, waited

    return asyncio.run(scenario())


def test_a_lock_of_the_previous_version_is_taken_over_after_its_expiry_unchanged(app: Any):
    _put_lock(app, _legacy(FAKE_EPOCH, FAKE_EPOCH + 300))  # long expired by the taker's wall clock
    outcome, waited = _take(app, Timeline(), timeout=1000)
    assert isinstance(outcome, LockInfo) and 300 <= waited <= 300 + POLL


def test_a_lock_of_the_previous_version_that_is_renewed_is_never_taken_over(app: Any):
    _put_lock(app, _legacy(FAKE_EPOCH, FAKE_EPOCH + 300))
    outcome, waited = _take(app, Timeline(), timeout=1000, renew_old=True)
    assert isinstance(outcome, LockHeld) and waited >= 1000


def test_unreadable_lock_data_is_never_taken_over_and_says_how_to_remove_it(app: Any):
    _put_lock(app, '{"token": "x", "started": NaN}')
    outcome, _ = _take(app, Timeline(), timeout=1000)
    assert isinstance(outcome, LockHeld)
    assert "unreadable lock data" in str(outcome) and "facesync force-unlock" in str(outcome)


# -- the write guard ----------------------------------------------------------------------------


def test_the_write_guard_checks_every_write_and_no_read(app: Any):
    refused: list[str] = []

    def guard(op: str, method: str, path: str) -> None:
        refused.append(op)
        raise LeaseLost("a test refuses every write")

    async def scenario() -> None:
        async with _client(app) as client:
            await client.create_collection(
                CollectionKind.PERSON_GROUP, "g", name="G", user_data=None, recognition_model="recognition_04"
            )
            client.write_guard = guard
            writes: list[Awaitable[object]] = [
                client.create_collection(
                    CollectionKind.FACE_LIST,
                    "f",
                    name="F",
                    user_data=None,
                    recognition_model="recognition_04",
                ),
                client.update_collection(CollectionKind.PERSON_GROUP, "g", name="H", user_data=None),
                client.create_person(CollectionKind.PERSON_GROUP, "g", name="p", user_data=None),
                client.add_face(
                    CollectionKind.PERSON_GROUP, "g", "00000000-0000-0000-0000-000000000000", url="x"
                ),
                client.train(CollectionKind.PERSON_GROUP, "g"),
                client.delete_collection(CollectionKind.PERSON_GROUP, "g"),
            ]
            for write in writes:
                with pytest.raises(LeaseLost):
                    await write
            assert [c.id for c in await client.list_collections(CollectionKind.PERSON_GROUP)] == ["g"]
            assert (await client.get_collection(CollectionKind.PERSON_GROUP, "g")).name == "G"
            with client.priority():  # the lock's own calls are not fenced by the lease they keep
                await client.update_collection(CollectionKind.PERSON_GROUP, "g", name="H", user_data=None)

    asyncio.run(scenario())
    assert refused == [
        "FaceList.Create",
        "PersonGroup.Update",
        "PersonGroupPerson.Create",
        "PersonGroupPerson.AddFace",
        "PersonGroup.Train",
        "PersonGroup.Delete",
    ]
    assert app.state.emulator.stats()["mutating"] == 2  # the first create and the priority update


def test_a_lock_is_renewed_every_third_of_its_lease_and_a_lost_one_says_why(app: Any):
    time = Timeline()

    async def scenario() -> tuple[list[LockInfo | None], ResourceLock]:
        async with _client(app) as client:
            lock = ResourceLock(client, lease(time))
            await lock.acquire()
            keep_alive = asyncio.create_task(lock.keep_alive())
            await time.settle(keep_alive)  # asleep until its first renewal is due
            seen = [await read_lock(client)]
            for _ in range(2):
                await time.advance(LEASE / 3)
                seen.append(await read_lock(client))
            await client.delete_collection(LOCK_KIND, LOCK_ID)
            await time.advance(LEASE / 3)
            assert keep_alive.done()
            with pytest.raises(LeaseLost, match="removed from the resource"):
                lock.check_write("PersonGroup.Create", "PUT", "/persongroups/x")
            return seen, lock

    seen, lock = asyncio.run(scenario())
    assert [s.renewals if s else None for s in seen] == [0, 1, 2]
    assert [s.expires if s else None for s in seen] == [FAKE_EPOCH + LEASE + t for t in (0, 40, 80)]
    assert lock.lost is not None and "force-unlock" in lock.lost


# -- the command line ---------------------------------------------------------------------------


@pytest.mark.parametrize("expiry", ["0", "10", "29.5", "nan"])
def test_a_lease_below_the_floor_is_a_usage_error(workspace: Workspace, service: Service, expiry: str):
    write_six_persons(workspace)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--lock-expiry", expiry)
    assert result.exit_code == 1, result.output
    assert "--lock-expiry" in result.stderr and "at least 30 seconds" in result.stderr
    assert "Traceback" not in result.stderr
    assert service.stats()["total"] == 0  # refused before the first call


def test_the_shortest_lease_allowed_is_30_seconds_and_the_default_two_minutes(
    workspace: Workspace, service: Service
):
    from facesync.cli.apply import apply_command
    from facesync.lock import DEFAULT_LEASE, LEASE_FLOOR

    option = next(p for p in apply_command.params if p.name == "lock_expiry")
    assert option.default == DEFAULT_LEASE == 120 and LEASE_FLOOR == 30
    write_six_persons(workspace)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--lock-expiry", "30", "-v")
    assert result.exit_code == 0, result.output + result.stderr
    assert "lease 30s" in result.stderr and counts(service) == (6, 14)
