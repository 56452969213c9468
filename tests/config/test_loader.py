from __future__ import annotations

from pathlib import Path

import pytest

from facesync.config.env import expand
from facesync.config.loader import load_yaml


def _load(tmp_path: Path, text: str):
    path = tmp_path / "x.yaml"
    path.write_text(text)
    return load_yaml(path)


def test_positions_of_keys_and_values(tmp_path: Path) -> None:
    doc, diags = _load(tmp_path, "version: 1\npersonGroups:\n  staff:\n    name: Staff\n    faces: [a, b]\n")
    assert not diags and doc is not None
    assert doc.data["personGroups"]["staff"]["name"] == "Staff"
    assert doc.positions.key(("personGroups", "staff")) == (3, 3)
    assert doc.positions.value(("personGroups", "staff", "name")) == (4, 11)
    assert doc.positions.value(("personGroups", "staff", "faces", 1)) == (5, 16)
    # An unknown path falls back to the nearest recorded parent.
    assert doc.positions.value(("personGroups", "staff", "nope")) == (4, 5)


def test_duplicate_keys_are_reported_at_the_second(tmp_path: Path) -> None:
    doc, diags = _load(tmp_path, "a: 1\nb:\n  c: 1\n  c: 2\na: 3\n")
    assert doc is not None
    assert doc.data == {"a": 1, "b": {"c": 1}}  # the first one is kept
    assert [(d.line, d.column) for d in diags] == [(4, 3), (5, 1)]
    assert "duplicate key 'c' (first defined at line 3, column 3)" in diags[0].message


def test_syntax_error_has_a_position(tmp_path: Path) -> None:
    doc, diags = _load(tmp_path, "a: [1, 2\nb: 3\n")
    assert doc is None
    assert len(diags) == 1 and diags[0].message.startswith("YAML syntax error")
    assert diags[0].line == 2


def test_nothing_is_expanded_and_dollar_braces_are_noted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("X", "ex")
    text = "a: ${X}\nb: ${Y:-fallback}\nc: ['pre-${X}-post']\nd: $${X}\n${X}: keys stay\ne: plain\n"
    doc, diags = _load(tmp_path, text)
    assert doc is not None and not diags
    assert doc.data == {
        "a": "${X}",
        "b": "${Y:-fallback}",
        "c": ["pre-${X}-post"],
        "d": "$${X}",
        "${X}": "keys stay",
        "e": "plain",
    }
    assert doc.dollar_braces == [("a",), ("b",), ("c", 0), ("d",)]  # values only, never keys


def test_env_default_applies_to_empty_values() -> None:
    assert expand("${E:-d}", {"E": ""}) == ("d", [])
    assert expand("${E}", {"E": ""}) == ("", [])
    assert expand("no vars", {}) == ("no vars", [])


@pytest.mark.parametrize(
    ("written", "expanded", "missing"),
    [
        ("https://${HOST}/x", "https://h/x", []),
        ("$${HOST} and ${HOST}", "${HOST} and h", []),
        ("${NOPE}${HOST}", "h", ["NOPE"]),
        ("${NOPE:-a:-b}", "a:-b", []),  # the default runs to the first "}"
        ("${NOPE:-x${HOST}}", "x${HOST}", []),
        ("${NOPE:-never closed", "${NOPE:-never closed", []),  # not the syntax: text
        ("${9x} ${} $ {HOST}", "${9x} ${} $ {HOST}", []),
        ("${HOST:-${NOPE:-${HOST}", "h", []),
    ],
)
def test_expansion_syntax_edges(written: str, expanded: str, missing: list[str]) -> None:
    assert expand(written, {"HOST": "h"}) == (expanded, missing)


def test_dates_stay_text_and_merge_keys_work(tmp_path: Path) -> None:
    doc, diags = _load(tmp_path, "base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\nd: 2024-01-01\n")
    assert not diags and doc is not None
    assert doc.data["c"] == {"x": 1, "y": 3}
    assert doc.data["d"] == "2024-01-01"


def test_unreadable_file(tmp_path: Path) -> None:
    doc, diags = load_yaml(tmp_path / "absent.yaml")
    assert doc is None and diags[0].line == 0 and "cannot read file" in diags[0].message


def test_anchors_reused_across_many_persons_stay_within_the_alias_budget(tmp_path: Path) -> None:
    persons = "".join(f"  p{i}: {{<<: *person, userData: '{i}'}}\n" for i in range(2000))
    doc, diags = _load(tmp_path, f"base: &person {{faces: [a.png, b.png]}}\npersons:\n{persons}")
    assert not diags and doc is not None
    assert doc.data["persons"]["p1999"] == {"faces": ["a.png", "b.png"], "userData": "1999"}


def test_a_byte_order_mark_is_not_part_of_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "x.yaml"
    path.write_bytes(b"\xef\xbb\xbfversion: 1\n")
    doc, diags = load_yaml(path)
    assert not diags and doc is not None and doc.data == {"version": 1}


@pytest.mark.parametrize(
    ("text", "where"),
    [
        # Far past any parser's own limit (PyYAML 6.0.4 stops near 1,000 with its own words): the
        # 65th bracket is where facesync refuses, whatever the parser would have said.
        pytest.param("a: " + "[" * 5000 + "]" * 5000, (1, 68), id="flow-5000"),
        pytest.param("a: " + "[" * 70 + "]" * 70, (1, 68), id="flow-70"),
        pytest.param("a: " + "{x: " * 3000 + "1" + "}" * 3000, (1, 260), id="flow-mappings-3000"),
        pytest.param(
            "\n".join(" " * i + f"k{i}:" for i in range(2000)) + " 1\n", (66, None), id="block-2000"
        ),
    ],
)
def test_deep_nesting_gets_facesyncs_own_error_at_the_level_it_went_too_deep(
    tmp_path: Path, text: str, where: tuple[int, int | None]
) -> None:
    doc, diags = _load(tmp_path, text)
    assert doc is None and len(diags) == 1
    assert diags[0].message == "YAML nests deeper than 64 levels; refusing the document"
    assert diags[0].line == where[0]
    if where[1] is not None:
        assert diags[0].column == where[1]


def test_a_control_character_is_named_in_facesyncs_own_words(tmp_path: Path) -> None:
    doc, diags = _load(tmp_path, "a: 1\nb: x\x07y\n")
    assert doc is None and len(diags) == 1
    assert diags[0].message == "YAML error: control characters are not allowed (U+0007)"
    assert (diags[0].line, diags[0].column) == (2, 5)
