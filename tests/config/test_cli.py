"""`facesync validate` and `facesync schema` through click's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from facesync.cli import main
from facesync.config.models import json_schema_text
from tests.config.conftest import WriteConfig

REPO = Path(__file__).resolve().parents[2]
BROKEN = """
version: 1
personGroups:
  staff:
    name: Staff
    usrData: x
    persons:
      A: {faces: [a.png]}
      B: {faces: [a.png]}
"""


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_schema_file_is_generated_from_the_models() -> None:
    committed = (REPO / "schemas" / "facesync.schema.json").read_text(encoding="utf-8")
    result = _run("schema")
    assert result.exit_code == 0
    assert result.output == json_schema_text() == committed, (
        "regenerate: python -m facesync schema > schemas/facesync.schema.json"
    )
    schema = json.loads(committed)
    assert schema["$id"].endswith("facesync.schema.json") and schema["title"]
    assert schema["required"] == ["version"]


def test_examples_are_valid_and_carry_the_schema_line() -> None:
    for config in sorted((REPO / "examples").glob("*/facesync.yaml")):
        if config.parent.name == "quickstart":
            continue
        first = config.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/facesync.schema.json"
        result = _run("validate", "-f", str(config))
        assert result.exit_code == 0, result.output
        assert result.output.endswith("0 errors, 0 warnings\n")


def test_showcase_covers_every_collection_kind() -> None:
    data = yaml.safe_load((REPO / "examples/showcase/facesync.yaml").read_text())
    assert len(data["personGroups"]) >= 2 and len(data["faceLists"]) >= 2
    assert data["largePersonGroups"] and data["largeFaceLists"]


def test_text_output_and_exit_code(write_config: WriteConfig) -> None:
    write_config(BROKEN, {"a.png": 1})
    result = _run("validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "facesync.yaml:5:5: error: unknown key 'usrData' (did you mean 'userData'?)",
        "facesync.yaml:8:19: warning: image 'a.png' is also a face of person 'A' (line 7): "
        "the same image on two persons blurs who is who",
        "1 error, 1 warning",
    ]


def test_warnings_alone_exit_zero(write_config: WriteConfig) -> None:
    write_config(BROKEN.replace("    usrData: x\n", ""), {"a.png": 1})
    result = _run("validate", "--tier", "F0", "--api-version", "v1.2")
    assert result.exit_code == 0
    lines = result.output.splitlines()
    assert lines[-2] == "facesync.yaml: valid: 1 collection, 2 persons, 2 faces"
    assert lines[-1] == "0 errors, 1 warning"


def test_json_output(write_config: WriteConfig) -> None:
    path = write_config(BROKEN, {"conf/a.png": 1}, name="conf/x.yaml")
    result = _run("validate", "-f", str(path.parent), "--format", "json")
    assert result.exit_code == 1
    rows = json.loads(result.output)
    assert rows[0] == {
        "file": "conf/x.yaml",
        "line": 5,
        "column": 5,
        "message": "unknown key 'usrData' (did you mean 'userData'?)",
        "severity": "error",
    }
    assert [r["severity"] for r in rows] == ["error", "warning"]


def test_github_output(write_config: WriteConfig) -> None:
    write_config(BROKEN, {"a.png": 1})
    result = _run("validate", "--format", "github")
    assert result.exit_code == 1
    first, second = result.output.splitlines()
    assert first == (
        "::error file=facesync.yaml,line=5,col=5::unknown key 'usrData' (did you mean 'userData'?)"
    )
    assert second.startswith("::warning file=facesync.yaml,line=8,col=19::image 'a.png'")


def test_missing_config_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = _run("validate")
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "facesync.yaml: error: configuration file not found (use -f PATH)",
        "1 error, 0 warnings",
    ]
    github = _run("validate", "-f", "nope.yaml", "--format", "github")
    assert github.output == "::error file=nope.yaml::configuration file not found (use -f PATH)\n"


def test_github_escapes_newlines_and_commas() -> None:
    from facesync.cli.validate import github_annotation
    from facesync.config.errors import Diagnostic

    line = github_annotation(Diagnostic("a,b:c.yaml", 1, 2, "50% bad\nnext", "warning"))
    assert line == "::warning file=a%2Cb%3Ac.yaml,line=1,col=2::50%25 bad%0Anext"


def test_root_option_sets_where_images_may_live(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config("", {"shared/a.png": 1})
    config = "version: 1\nfaceLists:\n  fl: {name: F, faces: [../shared/a.png]}\n"
    write_config(config, name="repo/facesync.yaml")
    refused = _run("validate", "-f", "repo/facesync.yaml")
    assert refused.exit_code == 1
    assert "resolves outside the configuration root 'repo'" in refused.output
    allowed = _run("validate", "-f", "repo/facesync.yaml", "--root", ".")
    assert allowed.exit_code == 0, allowed.output
