"""Which files make the configuration: `-f DIR` reads facesync's files and skips other tools'."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from facesync.config import validate
from facesync.config.sources import is_facesync_config
from tests.config.conftest import WriteConfig

PRE_COMMIT = "repos:\n  - repo: local\n    hooks: [{id: x, name: x, entry: x, language: system}]\n"


def test_a_repository_root_skips_other_tools_yaml(
    write_config: WriteConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config(PRE_COMMIT, name=".pre-commit-config.yaml")
    write_config("extends: ['config:recommended']\n", name="renovate.yaml")
    write_config("version: 1\npersonGroups:\n  staff: {name: Staff}\n")
    with caplog.at_level(logging.INFO, logger="facesync.config.sources"):
        result = validate(tmp_path)
    assert result.ok and result.state is not None
    assert result.state.files == ("facesync.yaml",)
    skipped = sorted(r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert skipped == [
        "skipped .pre-commit-config.yaml: not a facesync configuration",
        "skipped renovate.yaml: not a facesync configuration",
    ]


def test_a_directory_without_any_facesync_config_is_an_error(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(PRE_COMMIT, name=".pre-commit-config.yaml")
    write_config("{{ template }}: [\n", name="chart.yaml")
    result = validate(tmp_path)
    assert [(d.line, d.message.split(" (")[0]) for d in result.errors] == [
        (0, "directory holds no facesync configuration")
    ]
    assert ".pre-commit-config.yaml, chart.yaml" in result.errors[0].message


def test_a_broken_file_that_declares_collections_is_still_reported(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config("version: 1\npersonGroups:\n  staff: {name: [Staff\n")
    result = validate(tmp_path)
    assert len(result.errors) == 1 and result.errors[0].message.startswith("YAML syntax error")


@pytest.mark.parametrize(
    ("data", "ours"),
    [
        ({"version": 1}, True),
        ({"version": 1, "prune": True}, True),
        ({"personGroups": {}}, True),  # 'version' forgotten: still ours, and reported
        ({"version": 1, "personGroups": {}, "typo": 1}, True),
        ({"version": "3", "services": {}}, False),  # docker-compose
        ({"repos": []}, False),
        ({"version": 1, "repos": []}, False),
        (["a", "list"], False),
        (None, False),
    ],
)
def test_what_counts_as_a_facesync_config(data: object, ours: bool) -> None:
    assert is_facesync_config(data) is ours


def test_a_single_file_is_always_read(write_config: WriteConfig) -> None:
    path = write_config(PRE_COMMIT, name="odd.yaml")
    assert "unknown key 'repos'" in " ".join(d.message for d in validate(path).errors)


def test_importing_the_package_loads_neither_pydantic_nor_yaml() -> None:
    code = "import sys, facesync.config; print(sorted({'pydantic', 'yaml'} & set(sys.modules)))"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
