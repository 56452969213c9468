"""Issue 9.1: two applies at once, a killed apply holding the lock, and taking over expired locks."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
import time
from typing import IO

import httpx
import pytest

from facesync.client import Endpoint, FaceClient
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock
from facesync.lock import LOCK_ID, LOCK_KIND, LockHeld, LockInfo, LockOptions, ResourceLock, read_lock
from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL
from tests.sync.sync_helpers import Service, Workspace, write_staff
from tests.sync.test_apply import expected_snapshot, live_snapshot, write_big

# Waiting runs look at the lock often: the handover, not a poll interval, is what is tested.
APPLY = ["apply", "--auto-approve", "--rate-limit", "0", "--lock-poll", "0.05"]


def spawn(ws: Workspace, *extra: str, stderr: IO[str] | int = subprocess.PIPE) -> subprocess.Popen[str]:
    env = {**os.environ, "FACESYNC_ENDPOINT": ws.endpoint, "NO_COLOR": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "facesync", *APPLY, "-f", str(ws.root / "facesync.yaml"), *extra],
        env=env,
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
    )


def lock_exists(service: Service) -> bool:
    return service.api.get(f"/facelists/{LOCK_ID}").status_code == 200


def no_lock_left(service: Service) -> bool:
    return not [f for f in service.api.get("/facelists").json() if f["faceListId"].startswith(LOCK_ID)]


def run_two_at_once(ws: Workspace, service: Service, **faults: float) -> list[tuple[int, str, str]]:
    """Both runs plan while a third party holds the lock, so both plan the same changes whatever
    the machine's speed; then the lock is released and they race for it."""
    holder = LockInfo(token="t", owner="someone", host="elsewhere", pid=1, started=0.0, expires=1e12)
    service.api.put(
        f"/facelists/{LOCK_ID}", json={"name": "facesync apply lock", "userData": holder.to_user_data()}
    ).raise_for_status()
    logs = [ws.root / f"run{i}.err" for i in range(2)]
    procs = []
    for log in logs:
        with log.open("w") as err:
            procs.append(spawn(ws, "--parallelism", "4", stderr=err))
    deadline = time.monotonic() + 120
    while not all("Waiting for the lock" in log.read_text() for log in logs):
        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
        assert time.monotonic() < deadline
        time.sleep(0.05)
    service.knobs(**faults)
    while service.api.delete(f"/facelists/{LOCK_ID}").status_code not in (200, 404):
        pass  # an injected fault: the service did nothing
    results = []
    for proc, log in zip(procs, logs, strict=True):
        code = proc.wait(timeout=240)
        out, _ = proc.communicate()
        results.append((code, out, log.read_text()))
    return results


def test_two_applies_at_once_leave_the_exact_state(workspace: Workspace, service: Service):
    write_big(workspace)
    runs = run_two_at_once(workspace, service, latency_ms=5)
    service.knobs(latency_ms=0)
    for code, out, err in runs:
        assert code == 0, out + err
        assert "held by someone@elsewhere (pid 1)" in err
    outcomes = sorted("Apply complete" in out for _, out, _ in runs)
    assert outcomes == [False, True], runs  # one applied, the other found it done
    # The one that waited planned under the lock, after the other had applied: nothing to do.
    assert any("No changes. The live service matches the configuration." in out for _, out, _ in runs)
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert no_lock_left(service)
    assert workspace.run("drift", "--refresh", "full").exit_code == 0


def test_two_applies_at_once_with_faults_never_report_success_over_a_wrong_state(
    workspace: Workspace, service: Service
):
    write_big(workspace)
    runs = run_two_at_once(workspace, service, latency_ms=5, fault_rate=0.05, lost_response_rate=0.05)
    service.knobs(latency_ms=0, fault_rate=0, lost_response_rate=0)
    for code, out, err in runs:
        assert code in (0, 1, 3), out + err
        assert "Traceback" not in err
    if any(code == 0 for code, _, _ in runs):
        # The lock serialises the runs; a run that reported success was checked for convergence,
        # and the other either finished before it or found nothing left to do.
        assert live_snapshot(service) == expected_snapshot(workspace), runs
    assert no_lock_left(service)
    # Whatever the faults left, one more apply finishes the job, with no twins or duplicates.
    final = workspace.run(*APPLY, "--lock-timeout", "0")
    assert final.exit_code == 0, final.output + final.stderr
    assert live_snapshot(service) == expected_snapshot(workspace)


def _start_holding_the_lock(ws: Workspace, service: Service, *extra: str) -> subprocess.Popen[str]:
    """An apply that holds the lock and has made 10 writes, or one that already stopped because it
    lost its own short lease (a loaded machine stalls a process for longer than a third of a 1 s
    lease): either way it leaves the lock behind and has work left."""
    write_big(ws)
    # Paced at 20 calls/s, the ~90 writes left after the trigger take 4 s at the least: the run
    # cannot finish (and release its lock) before the signal, however slowly this test sends it.
    proc = spawn(ws, "--parallelism", "2", "--rate-limit", "20", *extra)
    deadline = time.monotonic() + 60
    while not (lock_exists(service) and service.stats()["mutating"] >= 10):
        if proc.poll() is not None:
            out, err = proc.communicate()
            assert "--unsafe-short-lease" in extra and "lost the apply lock" in out + err, out + err
            break
        assert time.monotonic() < deadline
        time.sleep(0.02)
    return proc


def _kill_while_holding_the_lock(ws: Workspace, service: Service, *extra: str) -> None:
    proc = _start_holding_the_lock(ws, service, *extra)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)


def test_a_killed_apply_keeps_the_lock_until_force_unlock(workspace: Workspace, service: Service):
    _kill_while_holding_the_lock(workspace, service, "--lock-expiry", "3600")
    waiting = workspace.run(*APPLY, "--lock-timeout", "0.2")
    assert waiting.exit_code == 1
    assert "Waiting for the lock" in waiting.stderr
    assert "locked by another apply" in waiting.stderr and "force-unlock" in waiting.stderr
    assert "(pid " in waiting.stderr and "Traceback" not in waiting.stderr
    assert lock_exists(service)
    # Plan and drift never take the lock, nor report it.
    plan = workspace.plan_json()
    assert not [u for u in plan["unmanaged"] if u["id"].startswith(LOCK_ID)]
    assert workspace.run("drift").exit_code == 2

    without_terminal = workspace.run("force-unlock")
    assert without_terminal.exit_code == 1 and "--yes" in without_terminal.stderr
    assert lock_exists(service)
    # The waiting run names the lock; force-unlock with another id (a lock taken since) refuses.
    lock_id = re.search(r"facesync force-unlock ([0-9a-f]{32})\b", waiting.stderr)
    assert lock_id is not None, waiting.stderr
    other = workspace.run("force-unlock", "0" * 32)
    assert other.exit_code == 3 and lock_id[1] in other.stderr and "nothing was removed" in other.stderr
    assert lock_exists(service)
    unlocked = workspace.run("force-unlock", lock_id[1])
    assert unlocked.exit_code == 0, unlocked.stderr
    assert "held by" in unlocked.stderr and not lock_exists(service)
    assert workspace.run("force-unlock", lock_id[1]).exit_code == 0  # nothing left: nothing to refuse

    result = workspace.run(*APPLY, "--lock-timeout", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert no_lock_left(service)


def test_a_killed_runs_lock_is_taken_over_after_its_lease(workspace: Workspace, service: Service):
    _kill_while_holding_the_lock(workspace, service, "--unsafe-short-lease", "--lock-expiry", "1")
    result = workspace.run(*APPLY, "--lock-timeout", "60")
    assert result.exit_code == 0, result.output + result.stderr
    assert "took over a lock left unrenewed for 1s" in result.stderr
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert no_lock_left(service)


def test_the_lock_is_not_pruned_or_reported(workspace: Workspace, service: Service):
    write_staff(workspace)
    (workspace.root / "facesync.yaml").write_text(
        (workspace.root / "facesync.yaml").read_text() + "prune: true\n"
    )
    service.api.put(f"/facelists/{LOCK_ID}", json={"name": "facesync apply lock", "userData": "{}"})
    plan = workspace.plan_json("--force")
    assert not [c for c in plan["changes"] if LOCK_ID in c["address"]]
    assert not [u for u in plan["unmanaged"] if LOCK_ID in u["id"]]


# -- the takeover race, in-process --------------------------------------------------------------


def _dead_holders_lock() -> LockInfo:
    return LockInfo(
        token="dead", owner="ci", host="runner-1", pid=4242, started=1000.0, expires=1060.0, lease=60
    )


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)


async def _contend(app: object, contenders: int) -> list[object]:
    clients = [
        FaceClient(
            Endpoint("http://emulator.test"),
            rate_limit=None,
            transport=httpx.ASGITransport(app=app),  # type: ignore[arg-type]
            sleep=_no_wait,
        )
        for _ in range(contenders)
    ]
    try:
        await clients[0].create_collection(
            LOCK_KIND,
            LOCK_ID,
            name="facesync apply lock",
            user_data=_dead_holders_lock().to_user_data(),
            recognition_model=SERVICE_DEFAULT_RECOGNITION_MODEL,
        )
        # Each watches the dead holder's lock for its 60 s lease by its own clock, then all race for
        # it; the winner's 600 s lease outlasts the others' wait.
        clocks = [FakeClock(1e4 * i) for i in range(contenders)]
        locks = [
            ResourceLock(
                c,
                LockOptions(
                    timeout=100,
                    poll=61,
                    expiry=600,
                    owner=f"p{i}",
                    clock=clock,
                    now=lambda: 5000.0,
                    sleep=clock.sleep,
                ),
            )
            for i, (c, clock) in enumerate(zip(clients, clocks, strict=True))
        ]
        outcomes: list[object] = list(
            await asyncio.gather(*(lock.acquire() for lock in locks), return_exceptions=True)
        )
        holder = await read_lock(clients[0])
        winners = [lock.held for lock in locks if lock.held is not None]
        left = sorted(info.id for info in await clients[0].list_collections(LOCK_KIND))
        outcomes.append((holder, winners, left))
        return outcomes
    finally:
        for c in clients:
            await c.aclose()


@pytest.mark.parametrize("contenders", [2, 3, 5])
@pytest.mark.parametrize("faults", [0.0, 0.2], ids=["clean", "faults"])
def test_only_one_process_takes_over_an_expired_lock(contenders: int, faults: float):
    """Faults: 500s before a call and lost responses after it; each seed is one interleaving."""
    app = create_app(EmulatorSettings(fault_rate=faults, lost_response_rate=faults, seed=contenders))
    try:
        *outcomes, (holder, winners, left) = asyncio.run(_contend(app, contenders))
    finally:
        app.state.emulator.close()
    assert len(winners) == 1, outcomes
    assert holder is not None and holder.token == winners[0].token
    refused = [o for o in outcomes if isinstance(o, LockHeld)]
    assert len(refused) == contenders - 1
    assert all(o.holder.owner in {winners[0].owner, "ci"} for o in refused)
    assert [o for o in outcomes if o is not None and not isinstance(o, LockHeld)] == []
    assert left == [LOCK_ID]  # no takeover marker is left behind


def test_no_free_facelist_for_the_lock_is_one_clear_error(workspace: Workspace, service: Service):
    write_staff(workspace)  # declares one FaceList of its own
    service.knobs(limits={"facelists": 1})
    service.api.put("/facelists/vip", json={"name": "VIP"}).raise_for_status()
    result = workspace.run(*APPLY)
    assert result.exit_code == 1
    assert "at most 64 FaceLists" in result.stderr and "Traceback" not in result.stderr


def test_the_lock_id_is_reserved_in_the_configuration():
    from facesync.diff import diff
    from facesync.livestate import LiveState
    from facesync.model import DesiredCollection, DesiredState

    mine = DesiredCollection(kind=LOCK_KIND, id=LOCK_ID, name="mine", recognition_model="recognition_04")
    want = DesiredState(collections=(mine,))
    plan = diff(want, LiveState())
    assert plan.changes == () and "reserved for facesync's apply lock" in plan.warnings[0].message
    assert plan.warnings[0].code == "reserved_id"


def test_import_never_imports_the_lock(workspace: Workspace, service: Service):
    from click.testing import CliRunner

    from facesync.cli import main

    service.api.put("/facelists/vip", json={"name": "VIP"}).raise_for_status()
    service.api.put(f"/facelists/{LOCK_ID}", json={"name": "facesync apply lock"}).raise_for_status()
    result = CliRunner().invoke(
        main, ["import", "--all", "--rate-limit", "0"], env={"FACESYNC_ENDPOINT": workspace.endpoint}
    )
    assert result.exit_code == 0, result.output
    assert "vip" in result.stdout and LOCK_ID not in result.stdout
