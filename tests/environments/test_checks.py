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


def test_validate_test_and_force_unlock_need_only_the_chosen_environments_variables(
    ws: Workspace, fleet: dict[str, Region], monkeypatch
):
    env_config(ws, THREE)
    assert ws.run("apply", "--env", "staging", "--auto-approve").exit_code == 0
    (ws.root / "facesync.test.yaml").write_text(
        "tests:\n  - {name: one face, probe: images/alice/1.png, detect: {faces: 1}}\n"
    )
    for name in ("PROD_FACE_ENDPOINT", "DR_FACE_ENDPOINT", "PROD_FACE_KEY", "DR_FACE_KEY"):
        monkeypatch.delenv(name)
    validated = ws.run("validate")  # the pre-commit hook: no environment's variable at all
    monkeypatch.delenv("STAGING_FACE_ENDPOINT")
    assert validated.exit_code == 0, validated.output
    assert ws.run("validate").exit_code == 0
    monkeypatch.setenv("STAGING_FACE_ENDPOINT", fleet["staging"].url)

    tested = ws.run("test", "--env", "staging")
    assert tested.exit_code == 0, tested.output + tested.stderr
    unlocked = ws.run("force-unlock", "--env", "staging", "--yes")
    assert unlocked.exit_code == 0, unlocked.output + unlocked.stderr
    assert unlocked.stderr == f"No lock on {fleet['staging'].url}.\n"
    assert _detects(fleet["staging"]) == 1

    unset = ws.run("force-unlock", "--env", "prod", "--yes")
    assert unset.exit_code == 1
    lines = (ws.root / "facesync.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("  prod:"))
    column = lines[line - 1].index('"${PROD_FACE_ENDPOINT}"') + 1
    assert unset.stderr.splitlines()[0] == (
        f"facesync.yaml:{line}:{column}: error: environment 'prod': environment variable "
        "'PROD_FACE_ENDPOINT' is not set (write ${PROD_FACE_ENDPOINT:-default} to give a default)"
    )
