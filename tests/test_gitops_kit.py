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

from facesync.cli import main as cli_main
from facesync.render.markdown import comment_marker

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


def test_workflows_take_the_key_from_secrets_only_and_never_put_it_on_a_command_line() -> None:
    for path in WORKFLOWS:
        text = path.read_text()
        assert "--key" not in text, path.name
        doc = load_actions_yaml(path)
        assert doc["env"]["FACESYNC_ENDPOINT"] == "${{ vars.FACESYNC_ENDPOINT }}", path.name
        key_envs = [s["env"]["FACESYNC_KEY"] for s in all_steps(doc) if "FACESYNC_KEY" in s.get("env", {})]
        # The production key once; the plan workflow's optional staging steps use the staging key.
        assert [k for k in key_envs if "STAGING" not in k] == ["${{ secrets.FACESYNC_KEY }}"], path.name
        assert set(key_envs) <= {"${{ secrets.FACESYNC_KEY }}", "${{ secrets.FACESYNC_STAGING_KEY }}"}
        mentions = {line.strip() for line in text.splitlines() if "FACESYNC_KEY" in line and "#" not in line}
        assert mentions <= {
            "FACESYNC_KEY: ${{ secrets.FACESYNC_KEY }}",
            "FACESYNC_KEY: ${{ secrets.FACESYNC_STAGING_KEY }}",
        }, path.name


def _command_options(command: click.Command) -> dict[str, click.Option]:
    return {name: opt for opt in command.params if isinstance(opt, click.Option) for name in opt.opts}


def test_workflows_call_facesync_only_with_options_its_cli_has() -> None:
    calls = []
    for path in WORKFLOWS:
        for step in all_steps(load_actions_yaml(path)):
            if ACTION_USES.match(step.get("uses", "")):
                calls.append((path.name, shlex.split(step["with"]["args"])))
    assert {args[0] for _, args in calls} == {"validate", "plan", "apply", "drift", "test"}
    for name, args in calls:
        command = cli_main.commands[args[0]]
        options = _command_options(command)
        for i, token in enumerate(args[1:], start=1):
            if not token.startswith("-"):
                continue
            assert token in options, f"{name}: facesync {args[0]} has no option {token}"
            option = options[token]
            if isinstance(option.type, click.Choice):
                assert args[i + 1] in option.type.choices, f"{name}: {token} {args[i + 1]}"


def test_plan_comment_is_found_by_the_marker_the_markdown_plan_starts_with() -> None:
    step = step_named(workflow("facesync-plan.yml"), lambda s: "github-script" in s.get("uses", ""))
    script = step["with"]["script"]
    assert "const MARKER = `<!-- facesync-plan:${process.env.FACESYNC_COMMENT} -->`;" in script
    plan = step_named(
        workflow("facesync-plan.yml"), lambda s: "plan" in str(s.get("with", {}).get("args", ""))
    )
    assert "--comment-marker ${{ env.FACESYNC_COMMENT }}" in plan["with"]["args"]
    # What the script looks for is exactly what `plan --comment-marker NAME` writes first.
    assert comment_marker({}, "default") == "<!-- facesync-plan:default -->"
    assert "updateComment" in step["with"]["script"]


def _evaluate_if(condition: str, exit_code: str) -> bool:
    """The few GitHub expressions the plan workflow's conditions use, evaluated for one plan exit code."""
    text = EXPRESSION.sub(r"\1", condition)
    text = text.replace("steps.plan.outputs.exit-code", repr(exit_code))
    text = text.replace("&&", " and ").replace("||", " or ")
    assert re.fullmatch(r"[\s'0-9a-z=!()]*", text), text
    return bool(eval(text, {"__builtins__": {}}))


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
    assert _evaluate_if(upload["if"], exit_code) is uploads_plan
    assert _evaluate_if(fail["if"], exit_code) is fails_job
    assert fail["run"].rstrip().endswith("exit 1")


def test_apply_workflow_applies_the_reviewed_plan_one_run_at_a_time() -> None:
    doc = workflow("facesync-apply.yml")
    assert doc["on"] == {"push": {"branches": ["main"]}}
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


def test_plan_workflow_runs_the_recognition_tests_on_staging_after_applying_there() -> None:
    doc = workflow("facesync-plan.yml")
    staging = step_named(doc, lambda s: s.get("id") == "staging")
    tests = step_named(doc, lambda s: s.get("id") == "recognition")
    steps = list(all_steps(doc))
    assert steps.index(staging) < steps.index(tests)
    assert "vars.FACESYNC_STAGING_ENDPOINT != ''" in staging["if"]
    assert shlex.split(staging["with"]["args"])[0] == "apply"
    for step in (staging, tests):
        assert step["env"] == {
            "FACESYNC_ENDPOINT": "${{ vars.FACESYNC_STAGING_ENDPOINT }}",
            "FACESYNC_KEY": "${{ secrets.FACESYNC_STAGING_KEY }}",
        }
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
        ("facesync-plan.yml", {"contents": "read", "pull-requests": "write"}),
        ("facesync-apply.yml", {"contents": "read", "actions": "read", "pull-requests": "read"}),
        ("facesync-drift.yml", {"contents": "read", "issues": "write"}),
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
    step_id: str, inputs: dict[str, str], env: dict[str, str], tmp_path: Path, cwd: Path | None = None
) -> tuple[subprocess.CompletedProcess[str], dict[str, str]]:
    """Run one `shell: bash` step of action.yml like the runner: `bash --noprofile --norc -eo pipefail`."""
    action = load_actions_yaml(ROOT / "action.yml")
    step = action_step(step_id)
    assert step["shell"] == "bash"
    assert "${{" not in step["run"], "inputs reach the script through env, never by interpolation"
    values = {name: spec.get("default", "") for name, spec in action["inputs"].items()} | inputs
    expressions = {f"inputs.{name}": value for name, value in values.items()}
    expressions["github.action_path"] = str(ROOT)
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
    assert log.read_text().splitlines()[-1] == str(ROOT)


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
