"""`facesync test` and `facesync audit` run against the one environment chosen with --env."""

from __future__ import annotations

from tests.environments.conftest import THREE
from tests.environments.helpers import Region, env_config
from tests.sync.sync_helpers import Workspace


def _detects(region: Region) -> int:
    return sum(n for op, n in region.stats()["operations"].items() if "Detect" in op)


def test_recognition_tests_run_against_the_chosen_environment_only(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    assert ws.run("apply", "--env", "staging", "--auto-approve").exit_code == 0
    (ws.root / "facesync.test.yaml").write_text(
        "tests:\n  - {name: one face, probe: images/alice/1.png, detect: {faces: 1}}\n"
    )
    result = ws.run("test", "--env", "staging")
    assert result.exit_code == 0, result.output + result.stderr
    assert _detects(fleet["staging"]) == 1 and _detects(fleet["prod"]) == _detects(fleet["dr"]) == 0
    several = ws.run("test", "--env", "staging", "--env", "prod")
    assert several.exit_code == 1
    assert "facesync test runs against one environment at a time" in several.stderr
    # --all-envs is not an option of test: help lists only what applies.
    assert ws.run("test", "--all-envs").exit_code == 1
    unchosen = ws.run("audit", "--yes")
    assert unchosen.exit_code == 1 and "choose with --env NAME" in unchosen.stderr
