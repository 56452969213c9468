"""apply end to end against the emulator: order, refusals, failures, faults and interruption."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from facesync.fingerprint import decode_face_user_data
from tests.sync.sync_helpers import STAFF_CONFIG, Service, Workspace, write_staff

REPO = Path(__file__).parents[2]


def live_snapshot(service: Service) -> dict[str, Any]:
    """Everything on the service, as {collection: {person name: [fingerprints]}} plus training."""
    api = service.api
    out: dict[str, Any] = {}
    for segment in ("persongroups", "largepersongroups"):
        for group in api.get(f"/{segment}").json():
            gid = (
                group[f"{segment[:-1].replace('persongroup', 'PersonGroup').replace('large', 'large')}Id"]
                if False
                else None
            )
            gid = group.get("personGroupId") or group.get("largePersonGroupId")
            persons: dict[str, list[str]] = {}
            names = Counter()
            for person in api.get(f"/{segment}/{gid}/persons").json():
                names[person["name"]] += 1
                faces = [
                    decode_face_user_data(
                        api.get(f"/{segment}/{gid}/persons/{person['personId']}/persistedfaces/{fid}")
                        .json()
                        .get("userData")
                    )[0]
                    for fid in person["persistedFaceIds"]
                ]
                persons[person["name"]] = sorted(f or "?" for f in faces)
            training = api.get(f"/{segment}/{gid}/training").json().get("status", "never")
            out[f"{segment}/{gid}"] = {
                "persons": persons,
                "twins": [n for n, c in names.items() if c > 1],
                "training": training,
            }
    for fl in api.get("/facelists").json():
        faces = api.get(f"/facelists/{fl['faceListId']}").json()["persistedFaces"]
        out[f"facelists/{fl['faceListId']}"] = {
            "faces": sorted(decode_face_user_data(f.get("userData"))[0] or "?" for f in faces)
        }
    for lfl in api.get("/largefacelists").json():
        lid = lfl["largeFaceListId"]
        faces = api.get(f"/largefacelists/{lid}/persistedfaces").json()
        training = api.get(f"/largefacelists/{lid}/training").json().get("status", "never")
        out[f"largefacelists/{lid}"] = {
            "faces": sorted(decode_face_user_data(f.get("userData"))[0] or "?" for f in faces),
            "training": training,
        }
    return out


def expected_snapshot(ws: Workspace) -> dict[str, Any]:
    """What the configuration says, from a fresh plan against an empty emulator-free diff."""
    from facesync.config import load as load_config

    desired, _ = load_config(ws.root / "facesync.yaml")
    out: dict[str, Any] = {}
    for c in desired.collections:
        if not c.present:
            continue
        key = f"{c.kind.path_segment}/{c.id}"
        if c.kind.has_persons:
            out[key] = {
                "persons": {p.name: sorted(f.fingerprint or "?" for f in p.faces) for p in c.persons},
                "twins": [],
                "training": "succeeded",
            }
        else:
            out[key] = {"faces": sorted(f.fingerprint or "?" for f in c.faces)}
            if c.kind.trainable:
                out[key]["training"] = "succeeded"
    return out


BIG_CONFIG = """
version: 1
defaults: {recognitionModel: recognition_04}
personGroups:
  staff:
    name: Staff
    persons:
%s
largePersonGroups:
  visitors:
    name: Visitors
    persons:
%s
faceLists:
  vip: {name: VIP, faces: [images/vip]}
largeFaceLists:
  look: {name: Look, faces: [images/look]}
"""


def write_big(ws: Workspace, staff: int = 15, visitors: int = 8) -> None:
    seed = 1000
    staff_lines, visitor_lines = [], []
    for i in range(staff):
        for j in range(3):
            seed += 1
            ws.image(f"images/staff/p{i}/{j}.png", seed)
        staff_lines.append(f"      Person {i}: {{faces: [images/staff/p{i}]}}")
    for i in range(visitors):
        for j in range(2):
            seed += 1
            ws.image(f"images/visitors/v{i}/{j}.png", seed)
        visitor_lines.append(f"      V{i}: {{faces: [images/visitors/v{i}]}}")
    for i in range(6):
        seed += 1
        ws.image(f"images/vip/{i}.png", seed)
        seed += 1
        ws.image(f"images/look/{i}.png", seed)
    ws.config(BIG_CONFIG % ("\n".join(staff_lines), "\n".join(visitor_lines)))


def test_from_empty_to_every_resource_kind(workspace: Workspace, service: Service):
    write_staff(workspace)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert "Apply complete: 17 done, 0 failed, 0 skipped." in result.stdout
    assert live_snapshot(service) == expected_snapshot(workspace)


def test_without_a_terminal_apply_needs_auto_approve(workspace: Workspace, service: Service):
    write_staff(workspace)
    result = workspace.run("apply", "--rate-limit", "0")
    assert result.exit_code == 3
    assert "--auto-approve" in result.stderr
    assert service.stats()["mutating"] == 0


def test_stale_plan_file_and_wrong_checksum_are_refused(workspace: Workspace, service: Service):
    write_staff(workspace)
    assert workspace.run("plan", "--rate-limit", "0", "--out", "reviewed.json").exit_code == 0
    service.api.put("/facelists/vip", json={"name": "Made by hand"}).raise_for_status()
    before = service.stats()["operations"]
    stale = workspace.run("apply", str(workspace.root / "reviewed.json"), "--rate-limit", "0")
    assert stale.exit_code == 3 and "the plan changed since it was reviewed" in stale.stderr
    wrong = workspace.run("apply", "--checksum", "sha256:" + "0" * 64, "--rate-limit", "0")
    assert wrong.exit_code == 3
    # Apply plans once, under its lock: taking and releasing the lock (a FaceList of its own) is
    # all that was written.
    after = service.stats()["operations"]
    changed = {op for op in after if after[op] != before.get(op, 0)}
    writes = {op for op in changed if not op.endswith(("_List", "_Get", "_GetTrainingStatus"))}
    assert writes == {"FaceList_Create", "FaceList_Delete"}, changed
    assert not any(c["faceListId"].startswith("facesync-lock") for c in service.api.get("/facelists").json())
    assert workspace.run("plan", "--rate-limit", "0", "--out", "fresh.json").exit_code == 0
    fresh = workspace.run("apply", str(workspace.root / "fresh.json"), "--rate-limit", "0")
    assert fresh.exit_code == 0, fresh.output + fresh.stderr
    checksum = json.loads((workspace.root / "fresh.json").read_text())["checksum"]
    assert workspace.plan_json()["changes"] == [] and checksum.startswith("sha256:")


def test_failed_training_is_an_error_with_the_services_message(workspace: Workspace):
    # The only face is refused (no face in the image): what training then says is shown as is.
    workspace.image("images/casper.png", 0, uniform=True)
    workspace.config(
        """
        version: 1
        personGroups:
          ghosts:
            name: Ghosts
            persons:
              Casper:
                faces: [images/casper.png]
        """
    )
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 1
    assert "No face detected" in result.stderr
    assert "There is no persisted face in group." in result.stderr


def test_a_failed_branch_stops_its_dependants_and_others_finish(workspace: Workspace, service: Service):
    write_staff(workspace)
    workspace.image("images/alice/3.png", 0, uniform=True)  # no face: the service rejects it
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--parallelism", "1")
    assert result.exit_code == 1
    assert "No face detected" in result.stderr
    assert "Apply finished with errors: 17 done, 1 failed, 0 skipped." in result.stdout
    (workspace.root / "images/alice/3.png").unlink()
    again = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert again.exit_code == 0
    assert live_snapshot(service) == expected_snapshot(workspace)


def test_fail_fast_skips_what_has_not_started(workspace: Workspace):
    write_staff(workspace)
    workspace.image("images/alice/0.png", 0, uniform=True)
    result = workspace.run(
        "apply", "--auto-approve", "--rate-limit", "0", "--fail-fast", "--parallelism", "1"
    )
    assert result.exit_code == 1
    assert "skipped" in result.stdout and "0 skipped" not in result.stdout


def test_json_format_streams_one_event_per_line(workspace: Workspace):
    write_staff(workspace)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--format", "json")
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "plan" and events[0]["plan"]["summary"]["create"] == 14
    summary = events[-1]
    assert (summary["event"], summary["ok"], summary["done"], summary["failed"], summary["skipped"]) == (
        "summary",
        True,
        17,
        0,
        0,
    )
    assert sorted(summary["trained"]) == [
        "largeFaceList.lookalikes",
        "largePersonGroup.visitors",
        "personGroup.staff",
    ]
    assert {e["event"] for e in events[1:-1]} == {"change", "training"}
    assert sum(1 for e in events if e["event"] == "training" and e["status"] == "succeeded") == 3


def test_replace_and_ensure_absent_are_applied(workspace: Workspace, service: Service):
    write_staff(workspace)
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    workspace.config(
        STAFF_CONFIG.replace(
            "  visitors:\n    name: Visitors",
            "  visitors:\n    name: Visitors\n    recognitionModel: recognition_03",
        ).replace(
            "  lookalikes:\n    name: Lookalikes\n    faces: [images/lookalikes]",
            "  lookalikes:\n    ensure: absent",
        )
    )
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr
    got = service.api.get("/largepersongroups/visitors", params={"returnRecognitionModel": "true"}).json()
    assert got["recognitionModel"] == "recognition_03"
    assert service.api.get("/largefacelists/lookalikes").status_code == 404
    assert live_snapshot(service) == expected_snapshot(workspace)


def test_faults_and_lost_responses_converge_in_at_most_three_runs(workspace: Workspace, service: Service):
    write_big(workspace)
    service.knobs(fault_rate=0.1, lost_response_rate=0.05, rate_limit=200, seed=11)
    codes = []
    for _ in range(3):
        result = workspace.run("apply", "--auto-approve", "--rate-limit", "150")
        codes.append(result.exit_code)
        if result.exit_code == 0:
            break
    assert codes[-1] == 0, codes
    service.knobs(fault_rate=0.0, lost_response_rate=0.0, rate_limit=None)
    assert service.stats()["statuses"].get("500", 0) > 0  # faults really happened
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert workspace.plan_json("--refresh", "full")["changes"] == []


def _spawn_apply(ws: Workspace, rate_limit: str = "0") -> subprocess.Popen[bytes]:
    env = {**os.environ, "FACESYNC_ENDPOINT": ws.endpoint, "NO_COLOR": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facesync",
            "apply",
            "--auto-approve",
            "-f",
            str(ws.root / "facesync.yaml"),
            "--rate-limit",
            rate_limit,
            "--parallelism",
            "2",
        ],
        env=env,
        cwd=ws.root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As a background job or a test runner's worker would start it: SIGINT ignored. SIGTERM
        # must stop the run all the same (it once relied on SIGINT and ran to the end).
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_an_interrupted_apply_is_finished_by_the_next_one(workspace: Workspace, service: Service, sig: int):
    write_big(workspace, staff=8, visitors=4)  # ~60 writes: the kill lands halfway
    # Paced at 10 calls/s, the 30 writes left after the signal's trigger take 3 s at the least:
    # the run cannot finish first, however slowly this test gets to send the signal.
    proc = _spawn_apply(workspace, rate_limit="10")
    deadline = time.monotonic() + 60
    while service.stats()["mutating"] < 30:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(sig)
    proc.wait(timeout=30)
    assert service.api.get("/persongroups/staff").status_code == 200
    if sig == signal.SIGTERM:
        assert proc.returncode == 130  # and it released its lock while unwinding
    else:
        # A killed run cannot release its lock on the service: that is what force-unlock is for.
        assert workspace.run("force-unlock", "--yes").exit_code == 0
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--lock-timeout", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert live_snapshot(service) == expected_snapshot(workspace)
    assert workspace.plan_json("--refresh", "full")["changes"] == []


def test_a_collection_written_but_never_trained_is_trained_by_the_next_plan(
    workspace: Workspace, service: Service
):
    write_staff(workspace)
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    # What a run killed between its last write and its train call leaves behind: a journal entry.
    journal = workspace.root / ".facesync" / "pending-training.json"
    journal.write_text(json.dumps({workspace.endpoint: ["personGroup.staff"]}))
    plan = workspace.plan_json()
    assert [(c["action"], c["address"]) for c in plan["changes"]] == [("train", "personGroup.staff")]
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    assert json.loads(journal.read_text()) == {workspace.endpoint: []}
    assert workspace.plan_json()["changes"] == []


def test_progress_lines_in_ci(workspace: Workspace):
    write_staff(workspace)
    out = workspace.run("apply", "--auto-approve", "--rate-limit", "0").stdout
    assert 'done               + personGroup.staff/person["Alice Smith"]' in out
    assert "training succeeded * personGroup.staff" in out


def test_no_wait_starts_training_and_returns(workspace: Workspace, service: Service):
    write_staff(workspace)
    service.knobs(train_seconds=30)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--no-wait")
    assert result.exit_code == 0, result.output
    assert "Training started (not waited for)" in result.stdout
    status = service.api.get("/persongroups/staff/training").json()["status"]
    assert status.lower() in ("notstarted", "running")
