"""`facesync init`: a starter kit written into a repository, never over the user's files, that
validates, whose workflows are the documented examples, and whose $schema line resolves offline."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result
from imagegen import face_image

from facesync import __version__
from facesync.cli import main
from facesync.config.models import json_schema_text
from facesync.kit import KIT_FILES, PLACEHOLDER_ACTION
from tests.test_gitops_kit import ROOT, load_actions_yaml, schema_errors

WORKFLOWS = ("facesync-plan.yml", "facesync-apply.yml", "facesync-drift.yml")
ALL_FILES = [
    "facesync.yaml",
    "facesync.schema.json",
    ".gitignore",
    ".pre-commit-config.yaml",
    *(f".github/workflows/{name}" for name in WORKFLOWS),
]


def init(*args: str) -> Result:
    return CliRunner().invoke(main, ["init", *args])


def validate(config: Path) -> Result:
    return CliRunner().invoke(main, ["validate", "-f", str(config)])


def test_init_writes_the_kit_and_validate_passes_on_what_it_wrote(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    result = init(str(repo))
    assert result.exit_code == 0, result.output
    assert sorted(str(p.relative_to(repo)) for p in repo.rglob("*") if p.is_file()) == sorted(ALL_FILES)
    assert [line.split()[0] for line in result.stdout.splitlines()[: len(ALL_FILES)]] == ["wrote"] * 7
    assert "7 file(s) written or updated, 0 skipped." in result.stdout
    checked = validate(repo / "facesync.yaml")
    assert checked.exit_code == 0, checked.output
    assert "valid: 0 collections" in checked.stdout


def test_init_writes_into_the_current_folder_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert init().exit_code == 0
    assert (tmp_path / ".github" / "workflows" / "facesync-plan.yml").is_file()


def test_the_workflows_it_writes_are_the_examples_and_valid_against_the_workflow_schema(
    tmp_path: Path,
) -> None:
    assert init(str(tmp_path)).exit_code == 0
    for name in WORKFLOWS:
        written = tmp_path / ".github" / "workflows" / name
        assert written.read_bytes() == (ROOT / "examples" / "github-actions" / name).read_bytes()
        assert schema_errors("github-workflow.json", load_actions_yaml(written)) == []


def test_init_names_where_facesync_is_hosted_everywhere_with_action(tmp_path: Path) -> None:
    result = init(str(tmp_path), "--action", "acme/facesync@v2.0.0")
    assert result.exit_code == 0, result.output
    assert "Next: replace" not in result.stdout
    for name in WORKFLOWS:
        written = tmp_path / ".github" / "workflows" / name
        text = written.read_text()
        assert "OWNER/facesync" not in text and "uses: acme/facesync@v2.0.0" in text
        assert schema_errors("github-workflow.json", load_actions_yaml(written)) == []
    (repo,) = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"]
    assert (repo["repo"], repo["rev"]) == ("https://github.com/acme/facesync", "v2.0.0")


def test_without_action_it_leaves_the_placeholder_and_says_so(tmp_path: Path) -> None:
    result = init(str(tmp_path))
    assert f"OWNER/facesync@v{__version__}" == PLACEHOLDER_ACTION
    assert f"Next: replace {PLACEHOLDER_ACTION}" in result.stdout
    assert f"uses: {PLACEHOLDER_ACTION}" in (tmp_path / ".github/workflows/facesync-plan.yml").read_text()


@pytest.mark.parametrize("action", ["acme/facesync", "facesync@v1", "acme/face sync@v1", "a/b@"])
def test_a_malformed_action_is_a_one_line_error_and_writes_nothing(action: str, tmp_path: Path) -> None:
    result = init(str(tmp_path / "repo"), "--action", action)
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: --action")
    assert not (tmp_path / "repo").exists()


def test_init_never_overwrites_and_lists_what_it_skipped(tmp_path: Path) -> None:
    mine = "version: 1\nfaceLists: {}\n# mine\n"
    (tmp_path / "facesync.yaml").write_text(mine)
    (tmp_path / ".github" / "workflows").mkdir(parents=True)
    (tmp_path / ".github" / "workflows" / "facesync-plan.yml").write_text("name: mine\n")
    result = init(str(tmp_path))
    assert result.exit_code == 0, result.output  # skipping is what init promises, not a failure
    skipped = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("skipped")]
    assert skipped == [str(tmp_path / "facesync.yaml"), str(tmp_path / ".github/workflows/facesync-plan.yml")]
    assert (tmp_path / "facesync.yaml").read_text() == mine
    assert (tmp_path / ".github" / "workflows" / "facesync-plan.yml").read_text() == "name: mine\n"
    assert (tmp_path / ".github" / "workflows" / "facesync-apply.yml").is_file()

    again = init(str(tmp_path))
    assert again.exit_code == 0
    assert "0 file(s) written or updated, 7 skipped." in again.stdout


def test_an_existing_gitignore_gets_facesync_appended_once_and_git_ignores_the_cache(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitignore").write_text("node_modules/")  # no newline at the end
    result = init(str(tmp_path))
    assert result.exit_code == 0
    assert f"updated  {tmp_path / '.gitignore'}  (added .facesync/)" in result.stdout
    text = (tmp_path / ".gitignore").read_text()
    assert text.startswith("node_modules/\n") and text.rstrip().endswith("\n.facesync/")
    assert init(str(tmp_path)).exit_code == 0
    assert (tmp_path / ".gitignore").read_text() == text  # once
    for path in (".facesync/cache/faces.json", "node_modules/x"):
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=tmp_path).returncode == 0, path


@pytest.mark.parametrize("entry", [".facesync", ".facesync/", "/.facesync/", "**/.facesync"])
def test_a_gitignore_that_already_ignores_the_cache_is_left_alone(entry: str, tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text(f"*.log\n{entry}\n")
    assert init(str(tmp_path)).exit_code == 0
    assert (tmp_path / ".gitignore").read_text() == f"*.log\n{entry}\n"


def test_the_schema_line_points_at_this_facesyncs_schema_beside_the_config(tmp_path: Path) -> None:
    assert init(str(tmp_path)).exit_code == 0
    first = (tmp_path / "facesync.yaml").read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = tmp_path / first.split("$schema=", 1)[1]
    assert target == tmp_path / "facesync.schema.json"
    assert target.read_text() == json_schema_text()
    assert CliRunner().invoke(main, ["schema"]).stdout == target.read_text()
    json.loads(target.read_text())


def test_the_commented_example_is_a_valid_configuration_once_uncommented(tmp_path: Path) -> None:
    assert init(str(tmp_path)).exit_code == 0
    config = tmp_path / "facesync.yaml"
    lines = config.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("# Uncomment and add your images"))
    assert all(line.startswith("# ") for line in lines[start + 1 :])
    config.write_text("\n".join(lines[: start + 1] + [line[2:] for line in lines[start + 1 :]]) + "\n")
    (tmp_path / "images" / "alice").mkdir(parents=True)
    (tmp_path / "images" / "vip").mkdir()
    (tmp_path / "images" / "alice" / "1.jpg").write_bytes(face_image(1, fmt="JPEG"))
    (tmp_path / "images" / "vip" / "ambassador.jpg").write_bytes(face_image(2, fmt="JPEG"))
    result = validate(config)
    assert result.exit_code == 0, result.output
    assert "valid: 2 collections, 1 person, 2 faces" in result.stdout


def test_the_pre_commit_config_runs_this_repositorys_hook_on_the_written_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert init(str(tmp_path)).exit_code == 0
    (repo,) = yaml.safe_load((tmp_path / ".pre-commit-config.yaml").read_text())["repos"]
    (hook,) = repo["hooks"]
    provided = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hook["id"] in provided and provided[hook["id"]]["entry"] == "facesync validate"
    monkeypatch.chdir(tmp_path)  # pre-commit runs hooks at the repository's root
    result = CliRunner().invoke(main, ["validate", *hook["args"]])
    assert result.exit_code == 0, result.output


def test_a_folder_that_is_a_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    result = init(str(tmp_path / "f"))
    assert result.exit_code == 1 and result.stderr == f"Error: {tmp_path / 'f'} is a file, not a folder\n"


def test_a_failed_write_is_a_one_line_error_and_keeps_what_was_written(tmp_path: Path) -> None:
    (tmp_path / ".github").write_text("in the way")
    result = init(str(tmp_path))
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("Error: cannot write")
    assert ".github" in result.stderr
    assert (tmp_path / "facesync.yaml").is_file()
    assert (tmp_path / ".github").read_text() == "in the way"


def test_init_below_a_repositorys_root_says_where_github_reads_workflows(tmp_path: Path) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    result = init(str(tmp_path / "infra" / "faces"))
    assert result.exit_code == 0
    assert f"GitHub reads workflows only from {tmp_path.resolve() / '.github' / 'workflows'}" in result.stderr
    at_root = init(str(tmp_path))
    assert "GitHub reads workflows" not in at_root.stderr


def test_the_help_states_the_exit_codes_and_the_never_overwrite_rule() -> None:
    text = " ".join(CliRunner().invoke(main, ["init", "--help"]).stdout.split())
    assert "Never overwrites" in text
    assert "Exit codes: 0 when every file is in place (written now or skipped because it was there)" in text


def test_the_package_ships_every_template() -> None:
    # The templates are package data: a wheel built from pyproject.toml must carry each one.
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    templates = ROOT / "facesync" / "kit" / "templates"
    shipped = [str(p.relative_to(ROOT / "facesync" / "kit")) for p in templates.rglob("*") if p.is_file()]
    for name in shipped:
        assert any(fnmatch.fnmatch(name, g) for g in globs["facesync.kit"]), name
    used = {f"templates/{f.template}" for f in KIT_FILES if f.template}
    assert used == set(shipped)
