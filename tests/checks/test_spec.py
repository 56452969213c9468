"""The test format: its JSON Schema, the `tests:` key of a config file, and validation at file:line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import jsonschema
import yaml

from facesync.checks.spec import json_schema, json_schema_text, load_tests
from tests.checks.checks_helpers import PASSING
from tests.imagegen import face_image

ROOT = Path(__file__).parents[2]


def test_committed_schema_is_the_generated_one() -> None:
    committed = ROOT / "schemas" / "tests.schema.json"
    assert committed.read_text() == json_schema_text(), (
        "regenerate: python3 -c 'from facesync.checks.spec import json_schema_text as t; "
        'open("schemas/tests.schema.json", "w").write(t())\''
    )


def test_schema_accepts_the_documented_tests_and_rejects_two_expectations() -> None:
    validator = jsonschema.Draft202012Validator(json_schema())
    assert not list(validator.iter_errors(yaml.safe_load(PASSING)))
    bad = {
        "tests": [
            {"name": "x", "probe": "p.jpg", "detect": {"faces": 1}, "identify": {"in": "a", "expect": "b"}}
        ]
    }
    assert list(validator.iter_errors(bad))
    quickstart = ROOT / "examples" / "quickstart" / "facesync.test.yaml"
    if quickstart.exists():
        assert not list(validator.iter_errors(yaml.safe_load(quickstart.read_text())))


def _write(path: Path, text: str) -> Path:
    path.write_text(textwrap.dedent(text).lstrip())
    return path


def test_tests_key_of_a_config_file_and_test_files_beside_it(tmp_path: Path) -> None:
    (tmp_path / "p.png").write_bytes(face_image(1))
    config = _write(
        tmp_path / "facesync.yaml",
        """
        version: 1
        tests:
          - name: in the config
            probe: p.png
            detect: {faces: 1}
        """,
    )
    _write(tmp_path / "more.test.yaml", "tests:\n  - {name: beside, probe: p.png, detect: {faces: 1}}\n")
    tests, diagnostics = load_tests(config)
    assert diagnostics == []
    assert [(t.name, t.pos.line) for t in tests] == [("in the config", 3), ("beside", 2)]
    assert tests[0].probe_path == str(tmp_path / "p.png")
    # A directory config reads the same tests, and never takes a test file for a config file.
    assert [t.name for t in load_tests(tmp_path)[0]] == ["in the config", "beside"]


def test_test_problems_are_reported_at_their_yaml_position_for_validate(tmp_path: Path) -> None:
    config = _write(
        tmp_path / "facesync.yaml",
        """
        version: 1
        tests:
          - name: no probe file
            probe: missing.png
            verify: {person: 'personGroup.staff/person["Bob"]', expect: maybe}
        """,
    )
    found = [(d.line, d.column, d.message) for d in load_tests(config)[1]]
    # Every problem at once: the bad value does not hide the missing probe beside it.
    assert sorted(found) == [
        (4, 12, "probe 'missing.png' does not exist"),
        (5, 65, "'expect' must be 'same' or 'different', not text 'maybe'"),
    ]
    _write(config, "version: 1\ntests: {not: a list}\n")
    assert [str(d).rpartition("/")[2] for d in load_tests(config)[1]] == [
        "facesync.yaml:2:8: error: 'tests' must be a list of tests"
    ]


def test_a_test_file_must_hold_only_tests(tmp_path: Path) -> None:
    _write(tmp_path / "facesync.yaml", "version: 1\n")
    _write(tmp_path / "x.test.yaml", "tests: []\nversion: 1\n")
    _, diagnostics = load_tests(tmp_path / "facesync.yaml")
    assert [str(d).rpartition("/")[2] for d in diagnostics] == [
        "x.test.yaml:2:1: error: unknown key 'version': a test file holds only 'tests'"
    ]
    assert json.dumps(json_schema())  # serialisable
