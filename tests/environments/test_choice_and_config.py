"""Choosing environments, and the `environments:` block's errors at file:line:column."""

from __future__ import annotations

from pathlib import Path

import pytest

from facesync.config.errors import ConfigError
from facesync.environments.resolve import resolve_desired, resolve_environment_endpoint
from facesync.environments.spec import Environment, load_environments
from facesync.model import CollectionKind, DesiredCollection, DesiredState
from tests.environments.conftest import THREE
from tests.environments.helpers import Region, env_config
from tests.sync.sync_helpers import Workspace, write_staff


def test_a_config_with_environments_needs_a_choice(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("plan")
    assert result.exit_code == 1
    assert "defines environments (prod, dr, staging): choose with --env NAME" in result.stderr
    assert all(r.stats()["total"] == 0 for r in fleet.values())


def test_unknown_environment_is_a_usage_error_with_a_suggestion(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("drift", "--env", "prd")
    assert result.exit_code == 1
    assert "--env prd: no such environment (did you mean prod?)" in result.stderr


def test_env_flag_without_environments_is_an_error_and_plain_configs_are_unchanged(
    ws: Workspace, fleet: dict[str, Region]
):
    write_staff(ws)
    result = ws.run("plan", "--env", "prod")
    assert result.exit_code == 1
    assert "has no `environments:` block" in result.stderr
    plain = ws.run("plan", env={"FACESYNC_ENDPOINT": fleet["prod"].url, "FACESYNC_KEY": "prod-secret-1"})
    assert plain.exit_code == 0, plain.output + plain.stderr
    assert "14 to create" in plain.stdout


def test_endpoint_and_key_flags_do_not_mix_with_environments(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("plan", "--env", "prod", "--endpoint", fleet["dr"].url)
    assert result.exit_code == 1
    assert "--endpoint and --key cannot be used with `environments:`" in result.stderr


def test_only_the_chosen_environments_variables_are_needed(
    ws: Workspace, fleet: dict[str, Region], monkeypatch
):
    env_config(ws, THREE)
    monkeypatch.delenv("PROD_FACE_ENDPOINT")
    result = ws.run("plan", "--env", "dr")
    assert result.exit_code == 0, result.output + result.stderr
    result = ws.run("plan", "--env", "prod")
    assert result.exit_code == 1
    assert "facesync.yaml:" in result.stderr
    assert "environment 'prod': environment variable 'PROD_FACE_ENDPOINT' is not set" in result.stderr


def test_local_endpoint_is_relative_to_the_config(ws: Workspace, tmp_path: Path, monkeypatch):
    env_config(ws, '  staging: {endpoint: "local:.facesync/staging.sqlite"}\n')
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    result = ws.run("apply", "--env", "staging", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr
    assert (ws.root / ".facesync" / "staging.sqlite").exists()
    assert ws.run("drift", "--env", "staging").exit_code == 0


BAD = """\
version: 1
environments:
  prod: {endpoint: "${PROD_FACE_ENDPOINT}", keyEnv: "not a name", ratelimit: 3}
  "bad name!": {endpoint: x}
  dr: {keyEnv: DR_FACE_KEY, rateLimit: -1, parallelism: 0, recognitionModel: recognition_09}
  staging: {endpoint: "local:x.sqlite", protect: maybe, targets: staff}
"""


def test_errors_name_file_line_and_column(tmp_path: Path):
    config = tmp_path / "facesync.yaml"
    config.write_text(BAD)
    with pytest.raises(ConfigError) as caught:
        load_environments(config)
    found = [(d.line, d.message) for d in caught.value.errors]
    assert (3, "environment 'prod': unknown key 'ratelimit' (did you mean 'rateLimit'?)") in found
    assert any(line == 3 and "'keyEnv' names an environment variable" in m for line, m in found)
    assert any(line == 4 and "environment name 'bad name!'" in m for line, m in found)
    assert any(line == 5 and "needs 'endpoint'" in m for line, m in found)
    assert any(line == 5 and "'rateLimit' is calls per second" in m for line, m in found)
    assert any(line == 5 and "'parallelism'" in m for line, m in found)
    assert any(line == 5 and "'recognitionModel' must be one of" in m for line, m in found)
    assert any(line == 6 and "'protect' is true or false" in m for line, m in found)
    assert any(line == 6 and "'targets' is a list" in m for line, m in found)
    assert all(d.file.endswith("facesync.yaml") and d.column > 0 for d in caught.value.errors)


def test_cli_reports_environment_errors_and_sends_nothing(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, "  prod: {endpoint: x, rateLimit: fast}\n")
    result = ws.run("plan", "--all-envs")
    assert result.exit_code == 1
    assert "facesync.yaml:" in result.stderr and "'rateLimit' is calls per second" in result.stderr


def _desired() -> DesiredState:
    return DesiredState(
        collections=tuple(
            DesiredCollection(kind, cid, cid.title(), recognition_model="recognition_04")
            for kind, cid in (
                (CollectionKind.PERSON_GROUP, "staff"),
                (CollectionKind.LARGE_FACE_LIST, "lookalikes"),
            )
        )
    )


def test_overrides_resolve_into_a_desired_state_purely():
    desired = _desired()
    env = Environment("staging", "local:x", targets=("staff",), recognition_model="recognition_03")
    own = resolve_desired(desired, env)
    assert [(c.id, c.recognition_model) for c in own.collections] == [("staff", "recognition_03")]
    assert desired == _desired()  # untouched
    assert resolve_desired(desired, Environment("prod", "local:x")) == desired


def test_the_key_comes_only_from_key_env(tmp_path: Path):
    env = Environment("prod", "https://prod.example.com", key_env="PROD_FACE_KEY")
    endpoint = resolve_environment_endpoint(env, tmp_path, {"PROD_FACE_KEY": "k1", "FACESYNC_KEY": "k0"})
    assert endpoint.key == "k1"
    from facesync.client.errors import EndpointError

    with pytest.raises(EndpointError, match=r"no Face key for environment 'prod'.*set PROD_FACE_KEY"):
        resolve_environment_endpoint(env, tmp_path, {"FACESYNC_KEY": "k0", "DR_FACE_KEY": "k2"})


def test_validation_reads_no_variable_and_reports_the_block(tmp_path: Path, monkeypatch):
    from facesync.config import validate
    from facesync.environments.load import environment_problems

    monkeypatch.delenv("PROD_FACE_ENDPOINT", raising=False)
    config = tmp_path / "facesync.yaml"
    config.write_text('version: 1\nenvironments:\n  prod: {endpoint: "${PROD_FACE_ENDPOINT}"}\n')
    assert environment_problems(config) == []
    assert validate(config).ok
    config.write_text("version: 1\nenvironments:\n  prod: {endpoint: x, rateLimit: fast}\n")
    assert [(d.line, "rateLimit" in d.message) for d in environment_problems(config)] == [(3, True)]
