"""The GitOps kit's workflows for a config with `environments:` (examples/github-actions/environments/):
valid workflows, real flags, OpenID Connect by default with each environment's key as the commented
fallback, and the CI path through a protected environment (a label, or a run by hand)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from facesync.cli import command as cli_command
from tests.environments.helpers import Region, env_config
from tests.environments.test_gates_and_order import PROTECTED, WITHOUT_BOB, _persons
from tests.github_expressions import evaluate, interpolate, truthy
from tests.sync.sync_helpers import Workspace
from tests.test_gitops_kit import (
    ACTION_USES,
    AZURE_LOGIN,
    KIT,
    ActionsLoader,
    _command_options,
    fake_gh,
    load_actions_yaml,
    needs_jq,
    needs_node,
    run_bash,
    run_github_script,
    schema_errors,
)

ENV_KIT = KIT / "environments"
WORKFLOWS = sorted(ENV_KIT.glob("*.yml"))
KEY_VAR = re.compile(r"^[A-Z_]+_FACE_KEY$")
LABEL = "facesync:allow-destroy-{}"


def _steps(doc: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(name, step) for name, job in doc["jobs"].items() for step in job.get("steps", [])]


def _doc(name: str) -> dict[str, Any]:
    return load_actions_yaml(ENV_KIT / name)  # type: ignore[no-any-return]


def _step(doc: dict[str, Any], **match: str) -> dict[str, Any]:
    (step,) = [s for _, s in _steps(doc) if all(s.get(k) == v for k, v in match.items())]
    return step


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


def _args(step: dict[str, Any], context: dict[str, Any]) -> list[str]:
    return shlex.split(interpolate(step["with"]["args"], context))


def _contexts(path: Path) -> list[dict[str, Any]]:
    """Every way the workflow's expressions can be filled in: each environment, with and without
    the allow-destroy label or the run-by-hand flag."""
    out = []
    for environment in ("staging", "prod", "westeurope-dr"):
        for forced in (False, True):
            labels = [{"name": LABEL.format(environment)}] if forced else []
            context = {
                "matrix": {"environment": environment},
                "inputs": {"environment": environment, "force_env": forced},
                "github": {"event": {"pull_request": {"labels": labels}}},
                "steps": {
                    "reviewed": {"outputs": {"force-env": f"--force-env {environment}" if forced else ""}}
                },
            }
            job_env = next(iter(load_actions_yaml(path)["jobs"].values())).get("env", {})
            context["env"] = {"FACESYNC_CONFIG": "facesync.yaml"} | {
                name: interpolate(value, context) for name, value in job_env.items()
            }
            out.append(context)
    return out


def test_workflows_call_facesync_only_with_options_its_cli_has_and_always_choose_environments() -> None:
    calls = []
    for path in WORKFLOWS:
        for context in _contexts(path):
            for _, step in _steps(load_actions_yaml(path)):
                if ACTION_USES.match(step.get("uses", "")):
                    calls.append((path.name, _args(step, context)))
    assert {args[0] for _, args in calls} == {"plan", "apply", "drift"}
    for name, args in calls:
        options = _command_options(cli_command(args[0]))
        for token in args[1:]:
            if token.startswith("-"):
                assert token in options, f"{name}: facesync {args[0]} has no option {token}"
        # A plan file names its environments; every other call names them itself.
        assert "--env" in args or args[:2] == ["apply", "reviewed/plan.json"], (name, args)
        if "--force-env" in args:  # only ever for the environment the job is about
            forced = args[args.index("--force-env") + 1]
            assert "--env" not in args or args[args.index("--env") + 1] == forced, (name, args)


def test_every_job_signs_in_with_oidc_before_calling_the_service() -> None:
    for path in WORKFLOWS:
        doc = load_actions_yaml(path)
        for job_name, job in doc["jobs"].items():
            steps = job.get("steps", [])
            calls = [i for i, s in enumerate(steps) if ACTION_USES.match(s.get("uses", ""))]
            if not calls:
                continue
            assert job["permissions"]["id-token"] == "write", (path.name, job_name)
            logins = [i for i, s in enumerate(steps) if s.get("uses", "").startswith("azure/login@")]
            assert len(logins) == 1 and logins[0] < calls[0], (path.name, job_name)
            assert steps[logins[0]]["with"] == AZURE_LOGIN


def _key_fallback(path: Path) -> dict[str, Any]:
    """The workflow with the commented per-environment keys uncommented, without azure/login."""
    text = re.sub(r"^(\s*)# ([A-Z_]+_FACE_KEY: .*)$", r"\1\2", path.read_text(), flags=re.MULTILINE)
    doc = yaml.load(text, Loader=ActionsLoader)
    for job in doc["jobs"].values():
        if "steps" in job:
            job["steps"] = [s for s in job["steps"] if not s.get("uses", "").startswith("azure/login@")]
    return doc  # type: ignore[no-any-return]


def test_keys_are_only_a_commented_fallback_where_each_job_gets_only_its_own() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "--key" not in text and "FACESYNC_KEY" not in text, path.name
        for job, step in _steps(load_actions_yaml(path)):
            assert not any(KEY_VAR.match(name) for name in step.get("env", {})), (path.name, job)
        doc = _key_fallback(path)
        assert schema_errors("github-workflow.json", doc) == []
        for job, step in _steps(doc):
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
    doc = _doc("facesync-apply.yml")
    assert doc["concurrency"] == {"group": "facesync-apply", "cancel-in-progress": False}
    assert doc["jobs"]["staging"]["with"] == {"environment": "staging"}
    production = doc["jobs"]["production"]
    assert production["needs"] == "staging"
    assert production["strategy"]["matrix"]["environment"] == ["prod", "westeurope-dr"]
    assert production["strategy"]["fail-fast"] is False
    # A called workflow gets no more than its caller grants: the caller grants what it needs.
    called = _doc("facesync-apply-environment.yml")["jobs"]["apply"]["permissions"]
    for job in ("staging", "production"):
        assert doc["jobs"][job]["permissions"] == called


def test_plan_and_apply_filter_the_same_paths_as_the_single_configuration_kit() -> None:
    single = load_actions_yaml(KIT / "facesync-plan.yml")["on"]["pull_request"]["paths"]
    assert _doc("facesync-plan.yml")["on"]["pull_request"]["paths"] == single
    assert _doc("facesync-apply.yml")["on"]["push"]["paths"] == single


def test_each_environments_cache_is_under_the_facesync_folder_beside_the_configuration() -> None:
    # The same "Locate .facesync" step as the single-configuration kit (tested there against
    # facesync.localstate), and each environment's own subfolder of it.
    single = load_actions_yaml(KIT / "facesync-plan.yml")["jobs"]["plan"]["steps"]
    (locate,) = [s for s in single if s.get("id") == "state"]
    for path in WORKFLOWS:
        for job in load_actions_yaml(path)["jobs"].values():
            steps = job.get("steps", [])
            caches = [s for s in steps if s.get("uses", "").startswith("actions/cache@")]
            for cache in caches:
                assert [s for s in steps if s.get("id") == "state"] == [locate], path.name
                assert cache["with"]["path"] in (
                    "${{ steps.state.outputs.path }}/environments/${{ matrix.environment }}",
                    "${{ steps.state.outputs.path }}/environments/${{ inputs.environment }}",
                ), path.name


# --- protected environments: the way through in CI ----------------------------------------------


def _force_env(labels: list[str], environment: str) -> str:
    job = _doc("facesync-plan.yml")["jobs"]["plan"]
    context = {
        "matrix": {"environment": environment},
        "github": {"event": {"pull_request": {"labels": [{"name": n} for n in labels]}}},
    }
    return str(evaluate(job["env"]["FORCE_ENV"], context))


def test_the_allow_destroy_label_forces_only_its_own_environment_and_replans() -> None:
    assert {"labeled", "unlabeled"} <= set(_doc("facesync-plan.yml")["on"]["pull_request"]["types"])
    for environment in ("staging", "prod", "westeurope-dr"):
        assert _force_env([], environment) == ""
        assert _force_env(["facesync:allow-destroy-prod", "docs"], environment) == (
            "--force-env prod" if environment == "prod" else ""
        )
    assert _force_env(["facesync:allow-destroy"], "prod") == ""


@needs_node
@pytest.mark.parametrize(
    ("code", "force_env", "expected"),
    [
        ("2", "--force-env prod", "The label `facesync:allow-destroy-prod` accepts the deletes"),
        ("3", "", "add the label `facesync:allow-destroy-prod`"),
    ],
)
def test_the_plan_comment_says_what_the_label_does_or_that_it_is_needed(
    code: str, force_env: str, expected: str, tmp_path: Path
) -> None:
    step = _step(_doc("facesync-plan.yml"), name="Post or update this environment's plan comment")
    env = {"PLAN_EXIT": code, "FACESYNC_ENVIRONMENT": "prod", "FORCE_ENV": force_env}
    (call,) = run_github_script(step["with"]["script"], env, tmp_path)
    assert call["body"].startswith("<!-- facesync-plan:facesync-prod -->") and expected in call["body"]


@needs_jq
@pytest.mark.parametrize(
    ("environment", "labels", "force_env"),
    [
        ("prod", ["facesync:allow-destroy-prod"], "--force-env prod"),
        ("westeurope-dr", ["facesync:allow-destroy-prod"], None),
        ("prod", [], None),
    ],
)
def test_the_merge_applies_with_force_env_only_when_its_pull_request_carries_the_label(
    environment: str, labels: list[str], force_env: str | None, tmp_path: Path
) -> None:
    step = _step(_doc("facesync-apply-environment.yml"), id="reviewed")
    pr = {"number": 8, "head": {"sha": "h"}, "labels": [{"name": n} for n in labels]}
    env = fake_gh(tmp_path, pr, "99") | {"FACESYNC_ENVIRONMENT": environment}
    work = tmp_path / "work"
    work.mkdir()
    code, outputs = run_bash(step["run"], env, work, tmp_path)
    assert code == 0
    assert outputs.get("force-env") == force_env and outputs["pr"] == "8"


def test_a_run_by_hand_applies_main_only_and_forces_only_when_asked() -> None:
    doc = _doc("facesync-apply-environment.yml")
    assert doc["on"]["workflow_dispatch"]["inputs"]["force_env"]["type"] == "boolean"
    assert doc["on"]["workflow_dispatch"]["inputs"]["environment"]["options"] == [
        "staging",
        "prod",
        "westeurope-dr",
    ]
    guard = _step(doc, name="Refuse a run by hand from another branch")
    dispatch = {"event_name": "workflow_dispatch", "event": {"repository": {"default_branch": "main"}}}
    assert truthy(evaluate(guard["if"], {"github": dispatch | {"ref": "refs/heads/feature"}}))
    assert not truthy(evaluate(guard["if"], {"github": dispatch | {"ref": "refs/heads/main"}}))
    by_hand = _step(doc, id="dispatched")
    reviewed = _step(doc, id="apply")
    for event, runs_by_hand in (("workflow_dispatch", True), ("push", False)):
        assert truthy(evaluate(by_hand["if"], {"github": {"event_name": event}})) is runs_by_hand
        assert truthy(evaluate(reviewed["if"], {"github": {"event_name": event}})) is not runs_by_hand
    for forced in (False, True):
        context = {
            "inputs": {"environment": "prod", "force_env": forced},
            "env": {"FACESYNC_CONFIG": "f.yaml"},
        }
        args = _args(by_hand, context)
        assert args[:4] == ["apply", "-f", "f.yaml", "--env"] and "--auto-approve" in args
        assert ("--force-env" in args) is forced


@needs_jq
def test_a_labelled_pull_request_deletes_in_the_protected_environment_through_the_kit(
    ws: Workspace, fleet: dict[str, Region], tmp_path: Path
) -> None:
    """Plan on the pull request, then the merge's apply, with the workflows' own arguments."""
    env_config(ws, PROTECTED)
    assert ws.run("apply", "--all-envs", "--auto-approve").exit_code == 0
    ws.config(WITHOUT_BOB + "environments:\n" + PROTECTED)  # Bob leaves: a delete in protected prod
    config = str(ws.root / "facesync.yaml")
    plan_step = _step(_doc("facesync-plan.yml"), id="plan")
    download = _step(_doc("facesync-apply-environment.yml"), id="reviewed")
    apply_step = _step(_doc("facesync-apply-environment.yml"), id="apply")

    def plan(labels: list[str]) -> int:
        context = {"matrix": {"environment": "prod"}, "env": {"FACESYNC_CONFIG": config}}
        context["env"]["FORCE_ENV"] = _force_env(labels, "prod")
        return ws.run(*_args(plan_step, context)).exit_code

    def merge(labels: list[str]) -> int:
        pr = {"number": 9, "head": {"sha": "h"}, "labels": [{"name": n} for n in labels]}
        env = fake_gh(tmp_path, pr, "99", plan=ws.root / "plan.json") | {"FACESYNC_ENVIRONMENT": "prod"}
        shutil.rmtree(ws.root / "reviewed", ignore_errors=True)
        code, outputs = run_bash(download["run"], env, ws.root, tmp_path)
        assert code == 0
        context = {"env": {"FACESYNC_CONFIG": config}, "steps": {"reviewed": {"outputs": outputs}}}
        return ws.run(*_args(apply_step, context)).exit_code

    assert plan([]) == 3  # refused: no plan artifact, nothing to merge
    assert plan([LABEL.format("prod")]) == 2  # the label: the deletes are planned, and reviewed
    assert merge([]) == 3  # the label removed before the merge: refused, nothing changed
    assert "Bob Jones" in _persons(fleet["prod"])
    assert merge([LABEL.format("prod")]) == 0
    assert "Bob Jones" not in _persons(fleet["prod"])
