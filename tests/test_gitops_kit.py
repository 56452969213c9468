"""The GitOps kit: example workflows, the composite action, the pre-commit hook and the container.

Workflows and action.yml are checked against SchemaStore's schemas (vendored under
tests/data/schemas/, see the README there); the action's shell step and the hook's entry are run
the way the runner and pre-commit run them, against this checkout's facesync.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import jsonschema
import pytest
import yaml
from imagegen import face_image

from facesync.cli import command as cli_command
from facesync.localstate import state_dir
from facesync.render.markdown import comment_marker
from tests.github_expressions import evaluate, truthy

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"
KIT = ROOT / "examples" / "github-actions"
WORKFLOWS = sorted(KIT.glob("*.yml"))
ACTION_USES = re.compile(r"^[^/]+/facesync@")
EXPRESSION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


class ActionsLoader(yaml.SafeLoader):
    """YAML as GitHub reads it: only true/false are booleans, so `on:` stays the key "on"."""


ActionsLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
ActionsLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def load_actions_yaml(path: Path) -> Any:
    return yaml.load(path.read_text(), Loader=ActionsLoader)


def validator(name: str) -> jsonschema.Draft7Validator:
    schema = json.loads((SCHEMAS / name).read_text())
    return jsonschema.Draft7Validator(schema)


def schema_errors(name: str, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in validator(name).iter_errors(document)
    ]


def workflow(name: str) -> dict[str, Any]:
    return load_actions_yaml(KIT / name)  # type: ignore[no-any-return]


def all_steps(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in doc["jobs"].values() for step in job.get("steps", [])]


def step_named(doc: dict[str, Any], predicate: Any) -> dict[str, Any]:
    matches = [s for s in all_steps(doc) if predicate(s)]
    assert len(matches) == 1, matches
    return matches[0]


# --- schemas ---------------------------------------------------------------------------------------


def test_the_kit_has_a_plan_an_apply_and_a_drift_workflow() -> None:
    assert [p.name for p in WORKFLOWS] == ["facesync-apply.yml", "facesync-drift.yml", "facesync-plan.yml"]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_example_workflow_is_valid_against_the_github_workflow_schema(path: Path) -> None:
    assert schema_errors("github-workflow.json", load_actions_yaml(path)) == []


def test_action_yml_is_valid_against_the_github_action_schema() -> None:
    assert schema_errors("github-action.json", load_actions_yaml(ROOT / "action.yml")) == []


def test_the_vendored_schemas_reject_what_github_would_reject() -> None:
    # Without these the two tests above could pass on a schema that accepts anything.
    broken_workflow = {"on": "push", "jobs": {"x": {"steps": [{"run": "true"}], "stepz": []}}}
    assert schema_errors("github-workflow.json", broken_workflow)
    broken_action = load_actions_yaml(ROOT / "action.yml")
    del broken_action["runs"]["steps"][-1]["shell"]  # a composite `run:` step needs a shell
    assert schema_errors("github-action.json", broken_action)


def test_the_vendored_schemas_are_the_files_their_readme_names() -> None:
    readme = (SCHEMAS / "README.md").read_text()
    for name in ("github-workflow.json", "github-action.json"):
        digest = hashlib.sha256((SCHEMAS / name).read_bytes()).hexdigest()
        assert f"`{name}`" in readme and digest in readme, name


# --- what the workflows do -------------------------------------------------------------------------

SERVICE_COMMANDS = {"plan", "apply", "drift", "test", "audit", "import", "force-unlock"}
AZURE_LOGIN = {
    "client-id": "${{ secrets.AZURE_CLIENT_ID }}",
    "tenant-id": "${{ secrets.AZURE_TENANT_ID }}",
    "subscription-id": "${{ secrets.AZURE_SUBSCRIPTION_ID }}",
}
# The commented key fallback: exactly these lines, nowhere active.
KEY_FALLBACK_LINES = {
    "# FACESYNC_KEY: ${{ secrets.FACESYNC_KEY }}",
    "#   FACESYNC_KEY: ${{ secrets.FACESYNC_KEY }}",
    "# FACESYNC_KEY: ${{ secrets.FACESYNC_STAGING_KEY }}",
}


def facesync_args(step: dict[str, Any]) -> list[str] | None:
    if not ACTION_USES.match(step.get("uses", "")):
        return None
    return shlex.split(step["with"]["args"])


def service_calls(doc: dict[str, Any]) -> list[tuple[str, int, dict[str, Any], list[str]]]:
    """(job, step index, step, args) of every facesync call that talks to the service."""
    return [
        (job_name, index, step, args)
        for job_name, job in doc["jobs"].items()
        for index, step in enumerate(job.get("steps", []))
        if (args := facesync_args(step)) is not None and args[0] in SERVICE_COMMANDS
    ]


def _command_options(command: click.Command) -> dict[str, click.Option]:
    return {name: opt for opt in command.params if isinstance(opt, click.Option) for name in opt.opts}


def test_the_workflows_init_writes_are_the_examples_byte_for_byte() -> None:
    # One source: facesync/kit/templates/workflows/ ships in the package; the examples are copies
    # that must not drift. To update, edit the template and copy it here.
    templates = ROOT / "facesync" / "kit" / "templates" / "workflows"
    assert sorted(p.name for p in templates.glob("*.yml")) == [p.name for p in WORKFLOWS]
    for example in WORKFLOWS:
        assert example.read_bytes() == (templates / example.name).read_bytes(), (
            f"examples/github-actions/{example.name} differs from the kit: "
            f"cp facesync/kit/templates/workflows/{example.name} examples/github-actions/"
        )


def test_workflows_sign_in_with_oidc_and_never_hold_an_active_key() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "--key" not in text, path.name
        for line in text.splitlines():
            if "FACESYNC_KEY" in line:
                assert line.strip() in KEY_FALLBACK_LINES, (path.name, line)
        doc = load_actions_yaml(path)
        assert doc["env"]["FACESYNC_ENDPOINT"] == "${{ vars.FACESYNC_ENDPOINT }}", path.name
        calls = service_calls(doc)
        assert calls, path.name
        for job_name, index, step, args in calls:
            job = doc["jobs"][job_name]
            assert job["permissions"]["id-token"] == "write", (path.name, job_name)
            logins = [i for i, s in enumerate(job["steps"]) if s.get("uses", "").startswith("azure/login@")]
            assert logins and logins[0] < index, (path.name, step.get("name"))
            assert job["steps"][logins[0]]["with"] == AZURE_LOGIN
            assert args[args.index("--auth") + 1] == "entra", (path.name, step.get("name"))
            assert "FACESYNC_KEY" not in step.get("env", {})


def key_fallback(text: str) -> dict[str, Any]:
    """The workflow as README.md's key fallback makes it: the commented key lines uncommented,
    `--auth entra` and the azure/login step removed."""
    text = re.sub(r"^(\s*)# (env:|\s*FACESYNC_KEY: .*)$", r"\1\2", text, flags=re.MULTILINE)
    doc = yaml.load(text.replace(" --auth entra", ""), Loader=ActionsLoader)
    for job in doc["jobs"].values():
        job["steps"] = [s for s in job.get("steps", []) if not s.get("uses", "").startswith("azure/login@")]
    return doc  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_the_key_fallback_is_a_valid_workflow_giving_every_call_its_key(path: Path) -> None:
    doc = key_fallback(path.read_text())
    assert schema_errors("github-workflow.json", doc) == []
    for _, _, step, args in service_calls(doc):
        assert "--auth" not in args
        assert step["env"]["FACESYNC_KEY"] in (
            "${{ secrets.FACESYNC_KEY }}",
            "${{ secrets.FACESYNC_STAGING_KEY }}",
        ), step.get("name")
        staging = "STAGING" in step.get("env", {}).get("FACESYNC_ENDPOINT", "")
        assert ("STAGING" in step["env"]["FACESYNC_KEY"]) is staging, step.get("name")


def test_workflows_call_facesync_only_with_options_its_cli_has() -> None:
    calls = []
    for path in WORKFLOWS:
        for step in all_steps(load_actions_yaml(path)):
            if (args := facesync_args(step)) is not None:
                calls.append((path.name, args))
    assert {args[0] for _, args in calls} == {"validate", "plan", "show", "apply", "drift", "test"}
    for name, args in calls:
        command = cli_command(args[0])
        options = _command_options(command)
        for i, token in enumerate(args[1:], start=1):
            if not token.startswith("-"):
                continue
            assert token in options, f"{name}: facesync {args[0]} has no option {token}"
            option = options[token]
            if isinstance(option.type, click.Choice):
                assert args[i + 1] in option.type.choices, f"{name}: {token} {args[i + 1]}"


def test_the_auth_option_the_workflows_use_exists_on_every_command_they_call() -> None:
    for command in ("plan", "apply", "drift", "test"):
        option = _command_options(cli_command(command))["--auth"]
        assert isinstance(option.type, click.Choice) and "entra" in option.type.choices, command


def test_plan_comment_is_found_by_the_marker_the_markdown_plan_starts_with() -> None:
    step = step_named(workflow("facesync-plan.yml"), lambda s: "github-script" in s.get("uses", ""))
    script = step["with"]["script"]
    assert "const MARKER = `<!-- facesync-plan:${process.env.FACESYNC_COMMENT} -->`;" in script
    plan = step_named(workflow("facesync-plan.yml"), lambda s: s.get("id") == "plan")
    assert "--comment-marker ${{ env.FACESYNC_COMMENT }}" in plan["with"]["args"]
    # What the script looks for is exactly what `plan --comment-marker NAME` writes first.
    assert comment_marker({}, "default") == "<!-- facesync-plan:default -->"
    assert "updateComment" in step["with"]["script"]


def steps_context(**exit_codes: str) -> dict[str, Any]:
    return {"steps": {step: {"outputs": {"exit-code": code}} for step, code in exit_codes.items()}}


@pytest.mark.parametrize(
    ("exit_code", "uploads_plan", "fails_job"),
    [("0", True, False), ("2", True, False), ("1", False, True), ("3", False, True)],
)
def test_plan_workflow_keeps_only_plans_that_can_be_applied_and_fails_on_refusal_or_error(
    exit_code: str, uploads_plan: bool, fails_job: bool
) -> None:
    doc = workflow("facesync-plan.yml")
    plan = step_named(doc, lambda s: s.get("id") == "plan")
    assert plan["with"]["stdout"] == "plan.md"
    assert set(plan["with"]["ok-exit-codes"].split(",")) == {"0", "1", "2", "3"}  # the comment always runs
    upload = step_named(doc, lambda s: s.get("with", {}).get("name") == "facesync-plan")
    fail = step_named(doc, lambda s: "Fail" in s.get("name", ""))
    context = steps_context(plan=exit_code)
    assert truthy(evaluate(upload["if"], context)) is uploads_plan
    assert truthy(evaluate(fail["if"], context)) is fails_job
    assert fail["run"].rstrip().endswith("exit 1")
    # An error may be an image the service would refuse: annotated from plan.json, never failing
    # the job itself (the last step does, with its reason).
    annotate = step_named(doc, lambda s: "show plan.json" in str(s.get("with", {}).get("args", "")))
    assert truthy(evaluate(annotate["if"], context)) is (exit_code == "1")
    assert annotate["with"]["args"] == "show plan.json --format github"
    assert set(annotate["with"]["ok-exit-codes"].split(",")) == {"0", "1"}


# Files a configuration is made of (the pre-commit hook's `files`), and files it is not.
CONFIG_FILES = [
    "facesync.yaml",
    "infra/faces/facesync.yml",
    "conf/Faces.YAML",
    "images/alice/1.jpg",
    "images/BOB.JPG",
    "a/b/c.jpeg",
    "x.png",
    "y.PNG",
    "z.gif",
    "w.bmp",
    "faces.test.yaml",
    ".github/workflows/facesync-plan.yml",
]
OTHER_FILES = ["README.md", "src/app.py", "notes.txt", "facesync.schema.json", "images/alice/1.jpg.txt"]


def github_path_pattern(pattern: str) -> re.Pattern[str]:
    """A `paths:` filter pattern as GitHub matches it: `**` any characters, `*` any but `/`,
    `[...]` one listed character (docs.github.com, "Filter pattern cheat sheet")."""
    regex, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            regex, i = regex + ".*", i + 2
        elif pattern[i] == "*":
            regex, i = regex + "[^/]*", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            regex, i = regex + pattern[i : end + 1], end + 1
        else:
            regex, i = regex + re.escape(pattern[i]), i + 1
    return re.compile(regex)


def test_plan_and_apply_run_only_for_the_files_the_pre_commit_hook_checks() -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    plan_paths = workflow("facesync-plan.yml")["on"]["pull_request"]["paths"]
    apply_paths = workflow("facesync-apply.yml")["on"]["push"]["paths"]
    assert plan_paths == apply_paths  # a merge that planned nothing applies nothing
    patterns = [github_path_pattern(p) for p in plan_paths]
    for path in CONFIG_FILES + OTHER_FILES:
        filtered_in = any(p.fullmatch(path) for p in patterns)
        assert filtered_in is bool(re.search(hook["files"], path)), path
        assert filtered_in is (path in CONFIG_FILES), path


def run_bash(script: str, env: dict[str, str], cwd: Path, tmp_path: Path) -> tuple[int, dict[str, str]]:
    """A workflow `run:` step as the runner runs it (`bash -e`), and what it wrote to GITHUB_OUTPUT."""
    output = tmp_path / "github_output"
    output.write_text("")
    script_file = tmp_path / "step.sh"
    script_file.write_text(script)
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script_file)],
        cwd=cwd,
        env={**env, "GITHUB_OUTPUT": str(output)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc.returncode, outputs


@pytest.mark.parametrize(
    "config", ["facesync.yaml", "infra/faces/facesync.yaml", "infra/faces", "infra/faces/", "./facesync.yaml"]
)
def test_the_cached_facesync_folder_is_the_one_beside_the_configuration(config: str, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "infra" / "faces").mkdir(parents=True)
    (repo / "facesync.yaml").write_text("version: 1\n")
    (repo / "infra" / "faces" / "facesync.yaml").write_text("version: 1\n")
    expected = state_dir(repo / config).resolve()
    for path in WORKFLOWS:
        doc = load_actions_yaml(path)
        for job in doc["jobs"].values():
            locate = [s for s in job["steps"] if s.get("id") == "state"]
            caches = [s for s in job["steps"] if s.get("uses", "").startswith("actions/cache@")]
            if not caches:
                continue
            assert len(locate) == 1 and caches[0]["with"]["path"] == "${{ steps.state.outputs.path }}"
            code, outputs = run_bash(
                locate[0]["run"], {"FACESYNC_CONFIG": config, "PATH": os.environ["PATH"]}, repo, tmp_path
            )
            assert code == 0
            assert (repo / outputs["path"]).resolve() == expected, (path.name, config, outputs)


def test_apply_workflow_applies_the_reviewed_plan_one_run_at_a_time() -> None:
    doc = workflow("facesync-apply.yml")
    assert doc["on"]["push"]["branches"] == ["main"]
    assert doc["concurrency"] == {"group": "facesync-apply", "cancel-in-progress": False}
    download = step_named(doc, lambda s: "gh run download" in s.get("run", ""))
    assert "--name facesync-plan --dir reviewed" in download["run"]
    apply = step_named(doc, lambda s: ACTION_USES.match(s.get("uses", "")) is not None)
    args = shlex.split(apply["with"]["args"])
    assert args[:2] == ["apply", "reviewed/plan.json"] and "--auto-approve" in args
    assert apply["with"]["ok-exit-codes"] == "0"  # 3 (stale plan) fails the job
    plan = workflow("facesync-plan.yml")
    upload = step_named(plan, lambda s: s.get("with", {}).get("name") == "facesync-plan")
    assert upload["with"]["name"] == "facesync-plan" and upload["with"]["path"] == "plan.json"
    assert "--workflow facesync-plan.yml" in download["run"]


def fake_gh(
    tmp_path: Path, pr: dict[str, Any] | None, run_id: str | None, plan: Path | None = None
) -> dict[str, str]:
    """`gh` that answers the apply workflows' three calls (their --jq filters already applied):
    the merged pull request, the plan run's id, and the download of `plan` (or an empty plan)."""
    bin_dir = tmp_path / "gh-bin"
    bin_dir.mkdir(exist_ok=True)
    (tmp_path / "pr.json").write_text(json.dumps(pr) if pr else "")
    (tmp_path / "plan-artifact.json").write_text(plan.read_text() if plan else "{}")
    script = f"""#!/bin/sh
case "$1 $2" in
  "api "*) cat "{tmp_path / "pr.json"}" ;;
  "run list") printf '%s\\n' "{run_id or ""}" ;;
  "run download") shift 2; while [ "$#" -gt 0 ]; do
      if [ "$1" = --dir ]; then mkdir -p "$2"; cp "{tmp_path / "plan-artifact.json"}" "$2/plan.json"; fi
      shift; done ;;
esac
"""
    (bin_dir / "gh").write_text(script)
    (bin_dir / "gh").chmod(0o755)
    return {"PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}", "GH_REPO": "o/r", "PUSHED_SHA": "abc"}


needs_jq = pytest.mark.skipif(
    shutil.which("jq") is None, reason="jq (on every GitHub runner) is not installed here"
)


@needs_jq
@pytest.mark.parametrize(
    ("pr", "run_id", "code", "outputs"),
    [
        ({"number": 7, "head": {"sha": "h"}, "labels": []}, "99", 0, {"pr": "7"}),
        ({"number": 7, "head": {"sha": "h"}, "labels": []}, None, 1, {"pr": "7"}),
        (None, None, 1, {}),
    ],
    ids=["plan-found", "no-plan-run", "not-from-a-pull-request"],
)
def test_apply_names_the_merged_pull_request_even_when_its_plan_is_missing(
    pr: dict[str, Any] | None, run_id: str | None, code: int, outputs: dict[str, str], tmp_path: Path
) -> None:
    # The outcome comment needs the pull request's number whatever happens after it is known.
    download = step_named(workflow("facesync-apply.yml"), lambda s: s.get("id") == "reviewed")
    work = tmp_path / "work"
    work.mkdir()
    returncode, written = run_bash(download["run"], fake_gh(tmp_path, pr, run_id), work, tmp_path)
    assert (returncode, written) == (code, outputs)
    assert (work / "reviewed" / "plan.json").exists() is (code == 0)


needs_node = pytest.mark.skipif(
    shutil.which("node") is None, reason="node (on every GitHub runner) is not installed here"
)


def run_github_script(
    script: str, env: dict[str, str], cwd: Path, comments: list[dict[str, Any]] | None = None
) -> list[dict[str, Any]]:
    """An actions/github-script step under node, with a `github` that records its REST calls."""
    harness = """
const calls = [];
const record = (name) => async (params) => {
  calls.push({ call: name, ...params });
  return { data: { number: 1 } };
};
const github = {
  paginate: async () => JSON.parse(process.env.EXISTING_COMMENTS),
  rest: { issues: { listComments: 'listComments', updateComment: record('updateComment'),
                    createComment: record('createComment') } },
};
const context = { serverUrl: 'https://github.example', runId: 42, sha: 'abcdef0123456789',
                  repo: { owner: 'o', repo: 'r' }, payload: { pull_request: { number: 7 } } };
const core = { notice: () => {}, setFailed: (m) => calls.push({ call: 'setFailed', message: m }) };
(async () => {
SCRIPT
})().then(() => console.log(JSON.stringify(calls)), (e) => { console.error(e); process.exit(1); });
""".replace("SCRIPT", script)
    path = cwd / "script.js"
    path.write_text(harness)
    proc = subprocess.run(
        ["node", str(path)],
        cwd=cwd,
        env={"PATH": os.environ["PATH"], "EXISTING_COMMENTS": json.dumps(comments or []), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


@needs_node
@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("0", "**Applied** abcdef0"),
        ("3", "**refused** to apply"),
        ("1", "apply **failed**"),
        ("", "**Not applied**"),
    ],
)
def test_apply_posts_its_outcome_and_output_on_the_merged_pull_request(
    code: str, status: str, tmp_path: Path
) -> None:
    doc = workflow("facesync-apply.yml")
    post = step_named(doc, lambda s: s.get("name") == "Post the outcome on the merged pull request")
    apply = step_named(doc, lambda s: s.get("id") == "apply")
    assert apply["with"]["stdout"] == "apply.txt"
    assert post["env"] == {
        "PR_NUMBER": "${{ steps.reviewed.outputs.pr }}",
        "APPLY_EXIT": "${{ steps.apply.outputs.exit-code }}",
    }
    # Posted after a failed apply too, never without a pull request to post on.
    assert truthy(
        evaluate(post["if"], {"steps": {"reviewed": {"outputs": {"pr": "7"}}}, "__status__": "failure"})
    )
    assert not truthy(evaluate(post["if"], {"steps": {"reviewed": {"outputs": {}}}, "__status__": "failure"}))
    if code:
        (tmp_path / "apply.txt").write_text("Apply complete: 2 done, 0 failed, 0 skipped.\n")
    env = {"PR_NUMBER": "7", "APPLY_EXIT": code, "FACESYNC_COMMENT": "default"}
    (call,) = run_github_script(post["with"]["script"], env, tmp_path)
    assert call["call"] == "createComment" and call["issue_number"] == 7
    assert call["body"].startswith("<!-- facesync-apply:default -->\n") and status in call["body"]
    assert ("Apply complete: 2 done" in call["body"]) is bool(code)

    # A re-run updates the same comment.
    again = run_github_script(
        post["with"]["script"],
        env,
        tmp_path,
        comments=[{"id": 5, "user": {"type": "Bot"}, "body": call["body"]}],
    )
    assert [(c["call"], c["comment_id"]) for c in again] == [("updateComment", 5)]


@needs_node
def test_the_apply_output_stays_text_in_the_comment_whatever_it_quotes(tmp_path: Path) -> None:
    post = step_named(
        workflow("facesync-apply.yml"),
        lambda s: s.get("id") is None and "Post the outcome" in s.get("name", ""),
    )
    quoted = "Failed: HTTP 400 ````\n</details><script>x</script>\n~~~~~\n"
    hostile = "first line\n" + "x" * 70_000 + "\n" + quoted + "the end\n"
    (tmp_path / "apply.txt").write_text(hostile)
    (call,) = run_github_script(
        post["with"]["script"], {"PR_NUMBER": "7", "APPLY_EXIT": "1", "FACESYNC_COMMENT": "c"}, tmp_path
    )
    body = call["body"]
    assert len(body) < 65_536 and body.rstrip().endswith("</details>")
    assert "the end" in body and "first line" not in body  # the end says how it ended
    fence = re.search(r"^(`{3,})text$", body, re.MULTILINE)
    assert fence and len(fence.group(1)) > 5  # longer than the ```` and ~~~~~ runs inside
    assert body.count(fence.group(1)) == 2


def test_plan_workflow_runs_the_recognition_tests_on_staging_after_applying_there() -> None:
    doc = workflow("facesync-plan.yml")
    staging = step_named(doc, lambda s: s.get("id") == "staging")
    tests = step_named(doc, lambda s: s.get("id") == "recognition")
    steps = list(all_steps(doc))
    assert steps.index(staging) < steps.index(tests)
    assert "vars.FACESYNC_STAGING_ENDPOINT != ''" in staging["if"]
    assert shlex.split(staging["with"]["args"])[0] == "apply"
    for step in (staging, tests):
        assert step["env"] == {"FACESYNC_ENDPOINT": "${{ vars.FACESYNC_STAGING_ENDPOINT }}"}
    args = shlex.split(tests["with"]["args"])
    assert args[0] == "test" and "--out" in args and tests["with"]["ok-exit-codes"] == "0"
    assert tests["if"] == "steps.staging.outcome == 'success'"
    report = step_named(doc, lambda s: s.get("with", {}).get("name") == "facesync-tests")
    assert report["with"]["path"] == args[args.index("--out") + 1]


def test_drift_workflow_reports_drift_in_one_labelled_issue_and_fails_on_error() -> None:
    doc = workflow("facesync-drift.yml")
    assert "schedule" in doc["on"]
    drift = step_named(doc, lambda s: s.get("id") == "drift")
    assert shlex.split(drift["with"]["args"])[0] == "drift"
    assert drift["with"]["ok-exit-codes"] == "0,2"  # 1 fails the step, and the job
    script = step_named(doc, lambda s: "github-script" in s.get("uses", ""))["with"]["script"]
    assert "const LABEL = 'facesync-drift';" in script
    assert "labels: LABEL, state: 'open'" in script  # finds the open one before creating another


@pytest.mark.parametrize(
    ("name", "job_permissions"),
    [
        ("facesync-plan.yml", {"contents": "read", "pull-requests": "write", "id-token": "write"}),
        (
            "facesync-apply.yml",
            {"contents": "read", "actions": "read", "pull-requests": "write", "id-token": "write"},
        ),
        ("facesync-drift.yml", {"contents": "read", "issues": "write", "id-token": "write"}),
    ],
)
def test_workflow_grants_its_token_only_what_it_uses(name: str, job_permissions: dict[str, str]) -> None:
    doc = workflow(name)
    assert doc["permissions"] == {"contents": "read"}
    assert [job["permissions"] for job in doc["jobs"].values()] == [job_permissions]


# --- the action's shell steps, run as the runner runs them -----------------------------------------


@pytest.fixture()
def facesync_on_path(tmp_path: Path) -> dict[str, str]:
    """An environment whose `facesync` and `python3` run this checkout (not whatever is installed)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "facesync"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m facesync "$@"\n')
    shim.chmod(0o755)
    (bin_dir / "python3").symlink_to(sys.executable)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FACESYNC_", "GITHUB_"))}
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = str(ROOT)
    return env


def write_config(directory: Path, image: str = "a.png") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "a.png").write_bytes(face_image(1))
    config = directory / "facesync.yaml"
    config.write_text(f"version: 1\nfaceLists: {{vip: {{name: VIP, faces: [{image}]}}}}\n")
    return config


def action_step(step_id: str) -> dict[str, Any]:
    action = load_actions_yaml(ROOT / "action.yml")
    (step,) = [s for s in action["runs"]["steps"] if s.get("id") == step_id]
    return step  # type: ignore[no-any-return]


def run_action_step(
    step_id: str,
    inputs: dict[str, str],
    env: dict[str, str],
    tmp_path: Path,
    cwd: Path | None = None,
    action_path: Path = ROOT,
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one `shell: bash` step of action.yml like the runner: `bash --noprofile --norc -eo pipefail`."""
    action = load_actions_yaml(ROOT / "action.yml")
    step = action_step(step_id)
    assert step["shell"] == "bash"
    assert "${{" not in step["run"], "inputs reach the script through env, never by interpolation"
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()} | inputs
    expressions = {f"inputs.{name}": value for name, value in values.items()}
    expressions["github.action_path"] = str(action_path)
    step_env = dict(env)
    for name, value in step.get("env", {}).items():
        step_env[name] = EXPRESSION.sub(lambda m: expressions[m.group(1)], value)
    output = tmp_path / "github_output"
    output.write_text("")
    step_env["GITHUB_OUTPUT"] = str(output)
    script = tmp_path / f"{step_id}.sh"
    script.write_text(step["run"])
    proc = subprocess.run(
        ["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)],
        cwd=cwd or tmp_path,
        env=step_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    outputs = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
    return proc, outputs


def test_action_runs_facesync_with_quoted_args_and_outputs_exit_code_0(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    write_config(tmp_path / "my config")
    proc, outputs = run_action_step(
        "run", {"args": "validate -f 'my config/facesync.yaml'"}, facesync_on_path, tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert "valid: 1 collection, 0 persons, 1 face" in proc.stdout
    assert outputs == {"exit-code": "0"}


def test_action_fails_the_step_with_facesyncs_exit_code_when_not_listed_as_ok(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    write_config(tmp_path, image="missing.png")
    proc, outputs = run_action_step("run", {"args": "validate --format github"}, facesync_on_path, tmp_path)
    assert proc.returncode == 1
    assert "::error file=facesync.yaml,line=2" in proc.stdout
    assert "::error title=facesync validate::facesync validate exited 1 (accepted: 0)" in proc.stdout
    assert outputs == {"exit-code": "1"}


def test_action_passes_the_step_on_an_exit_code_the_caller_lists_as_ok(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    write_config(tmp_path, image="missing.png")
    proc, outputs = run_action_step(
        "run", {"args": "validate", "ok-exit-codes": "2,1"}, facesync_on_path, tmp_path
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert outputs == {"exit-code": "1"}


def test_action_writes_stdout_to_the_file_the_caller_names(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    write_config(tmp_path)
    proc, outputs = run_action_step(
        "run", {"args": "validate --format json", "stdout": "out.json"}, facesync_on_path, tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "out.json").read_text()) == []
    assert outputs == {"exit-code": "0"}


def test_action_never_echoes_its_arguments_on_failure(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    secret = "not-a-real-key-0123456789"
    proc, outputs = run_action_step(
        "run", {"args": f"plan -f absent.yaml --key {secret}"}, facesync_on_path, tmp_path
    )
    assert proc.returncode == 1 and outputs == {"exit-code": "1"}
    assert secret not in proc.stdout + proc.stderr


def _recording_python(tmp_path: Path, env: dict[str, str]) -> tuple[dict[str, str], Path]:
    """`python` that records its arguments, and `facesync` that answers --version: install without pip."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir()
    log = tmp_path / "python-args"
    (bin_dir / "python").write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > "{log}"\n')
    (bin_dir / "facesync").write_text("#!/bin/sh\necho facesync, version 0.0.0-test\n")
    for tool in bin_dir.iterdir():
        tool.chmod(0o755)
    env = dict(env, PATH=f"{bin_dir}{os.pathsep}{env['PATH']}")
    return env, log


def test_action_installs_its_own_checkout_by_default(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    env, log = _recording_python(tmp_path, facesync_on_path)
    proc, _ = run_action_step("install", {}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    # With the entra extra: the kit's workflows pass --auth entra.
    assert log.read_text().splitlines()[-1] == f"{ROOT}[entra]"


@pytest.mark.parametrize("version", ["0.1.0", "facesync==0.1.0", "facesync"])
def test_action_refuses_a_version_that_would_install_the_unrelated_pypi_facesync(
    version: str, tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    env, log = _recording_python(tmp_path, facesync_on_path)
    proc, _ = run_action_step("install", {"version": version}, env, tmp_path)
    assert proc.returncode == 1
    assert "unrelated PyPI project" in proc.stdout
    assert not log.exists()


def test_action_installs_the_requirement_given_as_version(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    env, log = _recording_python(tmp_path, facesync_on_path)
    requirement = "facesync @ git+https://example.invalid/facesync@v0.1.0"
    proc, _ = run_action_step("install", {"version": requirement}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text().splitlines()[-1] == requirement


def _with_python(env: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """`python` as setup-python leaves it on PATH, and the runner's RUNNER_OS."""
    bin_dir = tmp_path / "python-bin"
    bin_dir.mkdir(exist_ok=True)
    if not (bin_dir / "python").exists():
        (bin_dir / "python").symlink_to(sys.executable)
    return dict(env, PATH=f"{bin_dir}{os.pathsep}{env['PATH']}", RUNNER_OS="Linux")


def test_action_restores_pips_cache_before_installing_and_only_when_it_sets_up() -> None:
    steps = load_actions_yaml(ROOT / "action.yml")["runs"]["steps"]
    order = [s.get("id") or s["uses"].split("@")[0] for s in steps]
    assert order[:4] == ["actions/setup-python", "pip-cache", "actions/cache", "install"]
    key, restore = steps[1], steps[2]
    assert key["if"] == "inputs.setup != 'false' && inputs.pip-cache != 'false'"
    assert restore["with"]["key"] == "${{ steps.pip-cache.outputs.key }}"
    assert restore["with"]["path"] == "${{ steps.pip-cache.outputs.dir }}"
    for outputs, restored in (({"key": "facesync-pip-Linux-0123"}, True), ({}, False)):
        assert truthy(evaluate(restore["if"], {"steps": {"pip-cache": {"outputs": outputs}}})) is restored


def test_action_keys_pips_cache_by_facesyncs_dependencies_and_the_python(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    env = _with_python(facesync_on_path, tmp_path)
    proc, outputs = run_action_step("pip-cache", {}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    pip_dir = subprocess.run(
        [sys.executable, "-m", "pip", "cache", "dir"], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert outputs["dir"] == pip_dir
    assert re.fullmatch(r"facesync-pip-Linux-[0-9a-f]{16}", outputs["key"])
    assert run_action_step("pip-cache", {}, env, tmp_path)[1] == outputs  # stable

    other_version = run_action_step("pip-cache", {"version": "facesync @ git+https://x/y@v2"}, env, tmp_path)
    other_checkout = tmp_path / "other-action"
    other_checkout.mkdir()
    (other_checkout / "pyproject.toml").write_text((ROOT / "pyproject.toml").read_text() + "\n# changed\n")
    other_dependencies = run_action_step("pip-cache", {}, env, tmp_path, action_path=other_checkout)
    keys = {outputs["key"], other_version[1]["key"], other_dependencies[1]["key"]}
    assert len(keys) == 3


def test_action_skips_pips_cache_when_pip_has_none(tmp_path: Path, facesync_on_path: dict[str, str]) -> None:
    env = dict(_with_python(facesync_on_path, tmp_path), PIP_NO_CACHE_DIR="1")
    proc, outputs = run_action_step("pip-cache", {}, env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert outputs == {}


# --- the pre-commit hook ---------------------------------------------------------------------------


def test_pre_commit_hook_passes_a_valid_config_then_fails_an_invalid_one(
    tmp_path: Path, facesync_on_path: dict[str, str]
) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hook["id"] == "facesync-validate" and hook["pass_filenames"] is False
    repo = tmp_path / "repo"
    config = write_config(repo)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid"]
    subprocess.run([*git, "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"], cwd=repo, check=True, capture_output=True, text=True
    ).stdout.split()
    # pre-commit runs a hook only when a staged file matches `files`; these both do.
    assert [f for f in staged if re.search(hook["files"], f)] == ["a.png", "facesync.yaml"]
    assert not re.search(hook["files"], "notes.txt")
    # ...and, with pass_filenames false, runs `entry` + `args` in the repository's root.
    command = [*shlex.split(hook["entry"]), *hook.get("args", [])]

    valid = subprocess.run(command, cwd=repo, env=facesync_on_path, capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout + valid.stderr

    config.write_text("version: 1\nfaceLists: {vip: {name: VIP, faces: [a.png]}, Bad Id: {}}\n")
    invalid = subprocess.run(command, cwd=repo, env=facesync_on_path, capture_output=True, text=True)
    assert invalid.returncode == 1, invalid.stdout + invalid.stderr
    assert "facesync.yaml:2:" in invalid.stdout


# --- the container ---------------------------------------------------------------------------------


def _dockerignored(path: str, patterns: list[str]) -> bool:
    """Docker's rule for the simple patterns used here: the last matching pattern wins, `!` re-includes."""
    ignored = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.removeprefix("!")
        candidates = [pattern, pattern.removeprefix("**/")] if pattern.startswith("**/") else [pattern]
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        if any(fnmatch.fnmatchcase(p, c) for c in candidates for p in prefixes) or (
            pattern.startswith("**/") and any(fnmatch.fnmatchcase(part, pattern[3:]) for part in parts)
        ):
            ignored = not negate
    return ignored


def test_dockerignore_keeps_what_pip_install_needs_and_drops_local_state() -> None:
    patterns = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = [w for line in dockerfile.splitlines() if line.startswith("COPY ") for w in line.split()[1:-1]]
    assert set(copied) == {"pyproject.toml", "README.md", "facesync"}
    for needed in [*copied, "facesync/cli/__init__.py"]:
        assert not _dockerignored(needed, patterns), needed
    for local in [".git/config", ".facesync/cache/faces.json", "examples/x/.facesync/a", "e.sqlite"]:
        assert _dockerignored(local, patterns), local
    assert 'ENTRYPOINT ["facesync"]' in dockerfile
    assert re.search(r"^USER (?!root\b)\S+", dockerfile, re.MULTILINE)
    # Documented runs are as the caller, so that .facesync/ and plan files on the mount are theirs.
    runs = [line for line in dockerfile.splitlines() if "docker run" in line]
    assert runs and all('--user "$(id -u):$(id -g)"' in line for line in runs)


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.mark.timeout(900)
@pytest.mark.skipif(not _docker_available(), reason="no container engine: `docker info` fails here")
def test_container_image_builds_and_validates_a_mounted_config(tmp_path: Path) -> None:
    tag = "facesync-kit-test:latest"
    subprocess.run(["docker", "build", "-q", "-t", tag, str(ROOT)], check=True, timeout=840)
    write_config(tmp_path)
    tmp_path.chmod(0o777)
    proc = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{tmp_path}:/repo", tag, "validate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "valid: 1 collection" in proc.stdout
    # A mount the image's user cannot write costs the cache, not the run (a fresh folder: the run
    # above left a cache that would need no write).
    write_config(tmp_path / "ro")
    read_only = subprocess.run(
        ["docker", "run", "--rm", "-v", f"{tmp_path / 'ro'}:/repo:ro", tag, "validate"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert read_only.returncode == 0, read_only.stdout + read_only.stderr
    assert "local cache unusable: /repo is on a read-only file system" in read_only.stderr


# --- the README ------------------------------------------------------------------------------------


def test_readme_schema_line_points_at_the_committed_schema_like_the_examples() -> None:
    readme = (ROOT / "README.md").read_text()
    (line,) = [x for x in readme.splitlines() if x.startswith("# yaml-language-server:")]
    assert "facesync.dev" not in readme
    for example in ("showcase", "quickstart"):
        config = ROOT / "examples" / example / "facesync.yaml"
        assert config.read_text().splitlines()[0] == line
        target = line.split("$schema=", 1)[1]
        assert (config.parent / target).resolve() == ROOT / "schemas" / "facesync.schema.json"
