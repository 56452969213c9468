"""apply/plan/drift over environments, end to end: the CLI against several emulators."""

from __future__ import annotations

import json
from pathlib import Path

from tests.environments.conftest import THREE
from tests.environments.helpers import Region, env_config, plan_doc, show
from tests.sync.sync_helpers import Workspace

ALL_SECRETS = ("prod-secret-1", "dr-secret-2", "staging-secret-3", "generic-secret-0")


def test_apply_all_converges_every_region_to_identical_contents(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("apply", "--all-envs", "--auto-approve")
    assert result.exit_code == 0, result.output + result.stderr
    for name in fleet:
        assert f"[{name}] Apply complete: 17 done, 0 failed, 0 skipped." in result.stdout
    snapshots = {name: region.snapshot() for name, region in fleet.items()}
    assert snapshots["prod"] == snapshots["dr"] == snapshots["staging"]
    assert len(snapshots["prod"]) == 4
    # The DR region's faults were met (and retried): the copy is identical all the same.
    assert {"500", "503"} & {str(s) for s in fleet["dr"].stats()["statuses"]}
    again = ws.run("drift", "--all-envs")
    assert again.exit_code == 0, again.output + again.stderr
    # Each environment keeps its own caches and journal.
    for name in fleet:
        assert (ws.root / ".facesync" / "environments" / name / "cache" / "faces.json").exists()


def test_keys_never_cross_environments(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("apply", "--all-envs", "--auto-approve", "--debug")
    assert result.exit_code == 0, result.output + result.stderr
    for region in fleet.values():
        assert region.keys_seen, region.name
        assert set(region.keys_seen) == {region.key}, region.name
    out = result.stdout + result.stderr
    assert not any(secret in out for secret in ALL_SECRETS)


def test_an_environment_without_its_key_is_never_sent_another_key(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE.replace("keyEnv: DR_FACE_KEY, ", ""))
    result = ws.run("apply", "--all-envs", "--auto-approve")
    # The DR emulator wants a key; the one it would get (FACESYNC_KEY, prod's) must not be sent.
    assert result.exit_code == 1
    assert "[dr]" in result.stdout + result.stderr
    assert set(fleet["dr"].keys_seen) <= {None}
    assert set(fleet["prod"].keys_seen) == {"prod-secret-1"}
    assert "[prod] Apply complete" in result.stdout


def test_hand_change_in_one_region_is_drift_named_for_that_environment(
    ws: Workspace, fleet: dict[str, Region]
):
    env_config(ws, THREE)
    assert ws.run("apply", "--all-envs", "--auto-approve").exit_code == 0
    with fleet["dr"].calm() as api:
        bob = next(p for p in api.get("/persongroups/staff/persons").json() if p["name"] == "Bob Jones")
        api.delete(f"/persongroups/staff/persons/{bob['personId']}").raise_for_status()
    result = ws.run("drift", "--all-envs", "--format", "json")
    assert result.exit_code == 2, result.output + result.stderr
    doc = json.loads(result.stdout)
    by_env = {e["environment"]: e for e in doc["environments"]}
    assert by_env["prod"]["changes"] == [] and by_env["staging"]["changes"] == []
    assert by_env["dr"]["changes"]
    differences = {d["address"]: d["environments"] for d in doc["differences"]}
    assert differences['personGroup.staff/person["Bob Jones"]'] == {
        "prod": "matches the configuration",
        "dr": "is missing",
        "staging": "matches the configuration",
    }
    text = ws.run("drift", "--all-envs")
    assert text.exit_code == 2
    assert "The environments differ from each other:" in text.stdout
    assert "dr: is missing" in text.stdout
    assert "dr: drift" in text.stdout and "prod: in sync" in text.stdout


def test_a_failed_environment_does_not_stop_the_others(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("apply", "--all-envs", "--auto-approve", env={"DR_FACE_ENDPOINT": "http://127.0.0.1:9"})
    assert result.exit_code == 1
    assert "[dr] Error" in result.stdout + result.stderr
    assert "[prod] Apply complete" in result.stdout and "[staging] Apply complete" in result.stdout
    assert fleet["prod"].snapshot() == fleet["staging"].snapshot()


def test_plan_json_carries_each_environment_and_its_checksum(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    doc = plan_doc(ws.run("plan", "--env", "prod", "--env", "dr", "--format", "json", "--detailed-exitcode"))
    assert [e["environment"] for e in doc["environments"]] == ["prod", "dr"]
    for entry in doc["environments"]:
        assert entry["checksum"].startswith("sha256:")
        assert entry["scope"]["environment"] == entry["environment"]
        assert entry["summary"]["create"] == 14
    assert doc["summary"]["create"] == 28
    assert doc["differences"] == []  # both are empty: they differ from the config alike
    assert fleet["staging"].stats()["total"] == 0


def test_markdown_has_a_section_per_environment_and_a_summary_table(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("plan", "--all-envs", "--format", "markdown")
    assert result.exit_code == 0, result.output + result.stderr
    md = result.stdout
    assert md.count("<!-- facesync-plan") == 1
    assert "| environment | endpoint | status |" in md
    for name in fleet:
        assert f"#### `{name}`: Plan: 14 to create" in md
    assert "Checksum (all environments): `sha256:" in md


def test_saved_plan_applies_every_environment_and_refuses_if_any_is_stale(
    ws: Workspace, fleet: dict[str, Region], tmp_path: Path
):
    env_config(ws, THREE)
    out = tmp_path / "plan.json"
    assert ws.run("plan", "--all-envs", "--out", str(out)).exit_code == 0
    shown = show(out)
    assert shown.exit_code == 0 and "── environment dr" in shown.stdout
    # Someone creates a group in staging after the review: staging's plan is stale.
    fleet["staging"].api.put(
        "/persongroups/staff", json={"name": "Staff", "recognitionModel": "recognition_04"}
    )
    untouched = {n: r.snapshot() for n, r in fleet.items() if n != "staging"}
    result = ws.run("apply", str(out))
    assert result.exit_code == 3, result.output + result.stderr
    assert "the plan of staging changed since it was reviewed; nothing was applied" in result.stderr
    # Each environment was locked and planned once; none was written (the locks are gone again).
    assert {n: r.snapshot() for n, r in fleet.items() if n != "staging"} == untouched
    # A fresh review of all three applies all three, from the file alone.
    assert ws.run("plan", "--all-envs", "--out", str(out)).exit_code == 0
    result = ws.run("apply", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    assert fleet["prod"].snapshot() == fleet["dr"].snapshot() == fleet["staging"].snapshot()
