"""import --env, apply's JSON events per environment, and the cross-environment comparison."""

from __future__ import annotations

import json

from click.testing import CliRunner

from facesync.cli import main
from facesync.document import differences, environments_document
from tests.environments.conftest import THREE
from tests.environments.helpers import Region, env_config
from tests.sync.sync_helpers import Workspace


def test_apply_json_events_name_their_environment(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("apply", "--env", "prod", "--env", "staging", "--auto-approve", "--format", "json")
    assert result.exit_code == 0, result.output + result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert events[0]["event"] == "plan" and len(events[0]["plan"]["environments"]) == 2
    changes = [e for e in events if e["event"] == "change"]
    assert {e["environment"] for e in changes} == {"prod", "staging"}
    summary = events[-1]
    assert summary["event"] == "summary" and summary["ok"] is True
    assert [e["environment"] for e in summary["environments"]] == ["prod", "staging"]


def test_import_reads_the_named_environment_with_its_own_key(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    assert ws.run("apply", "--env", "staging", "--auto-approve").exit_code == 0
    result = CliRunner().invoke(
        main,
        ["import", "--all", "--env", "staging", "-f", str(ws.root / "facesync.yaml")],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "staff:" in result.stdout and "Alice Smith" in result.stdout
    assert set(fleet["staging"].keys_seen) == {"staging-secret-3"}
    assert "staging-secret-3" not in result.stdout + result.stderr


def _plan(name: str, changes: list[dict], targets: list[str] | None = None) -> dict:
    return {
        "environment": name,
        "changes": changes,
        "summary": {"create": 0, "update": 0, "replace": 0, "delete": 0, "train": 0},
        "checksum": f"sha256:{name}",
        "scope": {"targets": targets or []},
    }


def _delete(address: str, person_id: str) -> dict:
    return {"action": "delete", "address": address, "before": {"name": "X", "personId": person_id}}


def test_differences_ignore_service_ids_and_environments_that_do_not_hold_the_address():
    address = 'personGroup.staff/person["X"]'
    same = differences([_plan("a", [_delete(address, "id-1")]), _plan("b", [_delete(address, "id-2")])])
    assert same == []
    differ = differences(
        [_plan("a", [_delete(address, "id-1")]), _plan("b", []), _plan("c", [], ["visitors"])]
    )
    assert differ == [
        {
            "address": address,
            "environments": {"a": "is there but not in the configuration", "b": "matches the configuration"},
        }
    ]


def test_the_combined_checksum_changes_with_any_environment():
    one = environments_document([("a", _plan("a", []), None), ("b", _plan("b", []), None)])
    other_b = _plan("b", [])
    other_b["checksum"] = "sha256:changed"
    two = environments_document([("a", _plan("a", []), None), ("b", other_b, None)])
    assert one["checksum"] != two["checksum"]
    failed = environments_document([("a", _plan("a", []), None), ("b", None, "unreachable")])
    assert failed["environments"][1] == {"environment": "b", "error": "unreachable"}
