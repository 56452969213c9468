"""Issue 18: a configuration without `environments:` is a fleet of one. The same behaviour comes
out of both entry points, because one code path serves them: annotations for failed changes,
refusals, and what each command's help offers."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from facesync.cli import main
from tests.environments.helpers import Region, env_config
from tests.imagegen import face_image
from tests.sync.sync_helpers import STAFF_CONFIG, Workspace, write_staff

ONE = """\
  prod:    {endpoint: "${PROD_FACE_ENDPOINT}", keyEnv: PROD_FACE_KEY, rateLimit: 0}
"""


def _no_face_for_bob(ws: Workspace) -> None:
    """Bob's badge photo holds no face: the service refuses to add it."""
    (ws.root / "images/bob/badge.jpg").write_bytes(face_image(3, fmt="JPEG", uniform=True))


def _bob_line() -> int:
    lines = (STAFF_CONFIG.lstrip()).splitlines()
    return next(i for i, line in enumerate(lines, start=1) if "images/bob/badge.jpg" in line)


def _annotations(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("::error")]


def _apply_single(ws: Workspace, prod: Region, *args: str):
    write_staff(ws)
    _no_face_for_bob(ws)
    return ws.run(
        "apply",
        "--auto-approve",
        *args,
        env={"FACESYNC_ENDPOINT": prod.url, "FACESYNC_KEY": str(prod.key)},
    )


def _apply_environment(ws: Workspace, *args: str):
    env_config(ws, ONE)
    _no_face_for_bob(ws)
    return ws.run("apply", "--env", "prod", "--auto-approve", *args)


@pytest.mark.parametrize("entry", ["one resource", "an environment"])
def test_a_failed_change_is_an_annotation_at_its_config_line_through_either_entry_point(
    ws: Workspace, fleet: dict[str, Region], entry: str
) -> None:
    if entry == "one resource":
        result = _apply_single(ws, fleet["prod"], "--format", "github")
    else:
        result = _apply_environment(ws, "--format", "github")
    assert result.exit_code == 1, result.output + result.stderr
    (annotation,) = _annotations(result.stdout)
    assert re.match(rf"::error file=[^,]*facesync.yaml,line={_bob_line()},col=\d+::", annotation), annotation
    assert "badge.jpg" in annotation
    assert "Failed:" in result.stderr


@pytest.mark.parametrize("entry", ["one resource", "an environment"])
def test_a_failed_apply_ends_with_the_same_outcome_through_either_entry_point(
    ws: Workspace, fleet: dict[str, Region], entry: str
) -> None:
    result = (
        _apply_single(ws, fleet["prod"]) if entry == "one resource" else _apply_environment(ws)
    )
    assert result.exit_code == 1
    prefix = "" if entry == "one resource" else "[prod] "
    assert f"{prefix}Apply finished with errors: " in result.stdout
    assert re.search(r"Failed: (\[prod\] )?personGroup\.staff/person\[\"Bob Jones\"\]/face", result.stderr)


def _options(command: str) -> set[str]:
    text = CliRunner().invoke(main, [command, "--help"], env={"COLUMNS": "200"}).output
    return set(re.findall(r"(--[a-z][a-z-]+)", text))


def test_each_command_offers_only_the_options_that_apply_to_it() -> None:
    for command in ("test", "audit", "force-unlock"):
        offered = _options(command)
        assert "--all-envs" not in offered, command  # they run against one resource at a time
        assert "--env" in offered, command
        assert not offered & {"--verify-sample", "--refresh", "--sequential", "--skip-refused"}, command
    assert "--target" not in _options("force-unlock")
    for command in ("plan", "drift", "apply"):
        assert {"--all-envs", "--verify-sample", "--refresh", "--target"} <= _options(command), command
    drift_help = CliRunner().invoke(main, ["drift", "--help"], env={"COLUMNS": "200"}).output
    assert "--sequential" not in drift_help
    apply_help = CliRunner().invoke(main, ["apply", "--help"], env={"COLUMNS": "200"}).output
    assert "markdown" in apply_help


def test_apply_shows_plan_and_outcome_as_markdown(ws: Workspace, fleet: dict[str, Region]) -> None:
    write_staff(ws)
    prod = fleet["prod"]
    result = ws.run(
        "apply",
        "--auto-approve",
        "--format",
        "markdown",
        env={"FACESYNC_ENDPOINT": prod.url, "FACESYNC_KEY": str(prod.key)},
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.startswith("<!-- facesync-plan:")
    assert "### facesync plan: Plan: 14 to create" in result.stdout
    assert "#### facesync apply: Apply complete" in result.stdout
    # The steps went to stderr: stdout stays Markdown.
    assert not [line for line in result.stdout.splitlines() if line.startswith("done ")]
    assert [line for line in result.stderr.splitlines() if line.startswith("done ")]
