"""The GitOps kit's workflows for a config with `environments:` (examples/github-actions/environments/):
valid workflows, real flags, and each job holding only its own environment's key."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest

from facesync.cli import main as cli_main
from tests.test_gitops_kit import ACTION_USES, KIT, _command_options, load_actions_yaml, schema_errors

ENV_KIT = KIT / "environments"
WORKFLOWS = sorted(ENV_KIT.glob("*.yml"))
KEY_VAR = re.compile(r"^[A-Z_]+_FACE_KEY$")


def _steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in doc["jobs"].items() for step in job.get("steps", [])]


def test_the_environments_kit_has_plan_apply_and_drift() -> None:
    assert [p.name for p in WORKFLOWS] == [
        "facesync-apply-environment.yml",
        "facesync-apply.yml",
        "facesync-drift.yml",
        "facesync-plan.yml",
    ]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_is_valid_against_the_github_workflow_schema(path: Path) -> None:
    assert schema_errors("github-workflow.json", load_actions_yaml(path)) == []


def test_workflows_call_facesync_only_with_options_its_cli_has_and_always_choose_environments() -> None:
    calls = []
    for path in WORKFLOWS:
        for _, step in _steps(load_actions_yaml(path)):
            if ACTION_USES.match(step.get("uses", "")):
                calls.append((path.name, shlex.split(step["with"]["args"])))
    assert {args[0] for _, args in calls} == {"plan", "apply", "drift"}
    for name, args in calls:
        options = _command_options(cli_main.commands[args[0]])
        for token in args[1:]:
            if token.startswith("-"):
                assert token in options, f"{name}: facesync {args[0]} has no option {token}"
        # A plan file names its environments; every other call names them itself.
        assert "--env" in args or args[:2] == ["apply", "reviewed/plan.json"], (name, args)


def test_matrix_jobs_get_only_their_own_environments_key() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "--key" not in text and "FACESYNC_KEY" not in text, path.name
        for job, step in _steps(load_actions_yaml(path)):
            for name, value in step.get("env", {}).items():
                if not KEY_VAR.match(name):
                    continue
                assert "secrets." in value, (path.name, name)
                if job == "regions":  # compares prod with its DR copy: needs both, by design
                    continue
                assert re.fullmatch(
                    r"\$\{\{ (matrix|inputs)\.environment == '[a-z-]+' && secrets\.[A-Z_]+ \|\| '' \}\}",
                    value,
                ), (path.name, job, name, value)


def test_staging_is_applied_before_the_production_regions_in_parallel() -> None:
    doc = load_actions_yaml(ENV_KIT / "facesync-apply.yml")
    assert doc["concurrency"] == {"group": "facesync-apply", "cancel-in-progress": False}
    assert doc["jobs"]["staging"]["with"] == {"environment": "staging"}
    production = doc["jobs"]["production"]
    assert production["needs"] == "staging"
    assert production["strategy"]["matrix"]["environment"] == ["prod", "westeurope-dr"]
    assert production["strategy"]["fail-fast"] is False
