"""facesync.config.shape: the declared formats' checker, on its own.

What a YAML value must be to pass each kind of field, that every problem is found in one pass
with its location, that classes are immutable values, and the JSON Schema each kind describes.
The formats themselves are tested through `facesync validate` (test_corpus, test_cli).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from facesync.config.shape import KEY_MARKER, Limits, OneOf, Problem, Shape, Validator, after, before, field


class Inner(Shape):
    """An inner mapping."""

    count: int = field(1, ge=0, le=10)


class Outer(Shape):
    shape_title = "The outer one"

    name: str = field(min_length=1, max_length=5, description="Short name.")
    code: str | None = field(None, pattern=r"^[a-z]+$")
    ratio: float | None = field(None, ge=0, le=1)
    flag: bool = False
    mode: Literal["on", "off"] = "on"
    box: tuple[int, int] | None = None
    tags: list[str] = field(default_factory=list, min_length=0)
    inner: Inner | None = field(None, alias="innerThing", description="Nested.")
    by_id: dict[Annotated[str, Limits(pattern=r"^[a-z]+$", max_length=3)], Inner] = field(
        default_factory=dict, alias="byId"
    )
    anything: dict[str, Any] | None = None


def problems(tp: Any, data: Any) -> list[tuple[str, tuple[Any, ...]]]:
    value, found = Validator(tp).validate(data)
    assert (value is None) == bool(found)
    return [(p.kind, p.loc) for p in found]


def test_a_valid_mapping_builds_an_instance_with_defaults_and_aliases() -> None:
    value, found = Validator(Outer).validate({"name": "ab", "innerThing": {"count": 3}, "byId": {"x": {}}})
    assert found == []
    assert value.name == "ab" and value.code is None and value.flag is False and value.mode == "on"
    assert value.tags == [] and value.inner == Validator(Inner).validate({"count": 3})[0]
    assert value.by_id["x"].count == 1


def test_every_problem_is_found_in_one_pass_with_its_location() -> None:
    data = {
        "name": "",
        "code": "ABC",
        "ratio": 2,
        "flag": "maybe",
        "mode": "auto",
        "box": [1],
        "tags": ["a", 3],
        "innerThing": {"count": -1, "extra": 1},
        "byId": {"TOOLONG": {}},
        "bogus": 1,
    }
    assert problems(Outer, data) == [
        ("string_too_short", ("name",)),
        ("string_pattern_mismatch", ("code",)),
        ("less_than_equal", ("ratio",)),
        ("bool_parsing", ("flag",)),
        ("literal_error", ("mode",)),
        ("too_short", ("box",)),
        ("string_type", ("tags", 1)),
        ("greater_than_equal", ("innerThing", "count")),
        ("extra_forbidden", ("innerThing", "extra")),
        ("string_too_long", ("byId", "TOOLONG", KEY_MARKER)),
        ("extra_forbidden", ("bogus",)),
    ]


def test_a_missing_required_key_and_a_non_mapping() -> None:
    assert problems(Outer, {}) == [("missing", ("name",))]
    assert problems(Outer, ["name"]) == [("model_type", ())]
    assert problems(dict[str, int], [1]) == [("dict_type", ())]
    assert problems(list[int], "1") == [("list_type", ())]


@pytest.mark.parametrize(
    ("given", "built"),
    [(True, True), ("yes", True), (" Off ", False), (1, True), (0, False), ("n", False)],
)
def test_booleans_accept_yaml_words_and_zero_one(given: Any, built: bool) -> None:
    assert Validator(bool).validate(given) == (built, [])


@pytest.mark.parametrize("given", ["maybe", 2, 1.5, None, []])
def test_anything_else_is_not_a_boolean(given: Any) -> None:
    assert problems(bool, given) == [("bool_parsing", ())]


@pytest.mark.parametrize(("given", "built"), [(3, 3), (3.0, 3), (" 7 ", 7)])
def test_integers_come_from_ints_whole_floats_and_digits(given: Any, built: int) -> None:
    assert Validator(int).validate(given) == (built, [])


@pytest.mark.parametrize(
    ("given", "kind"),
    [
        (True, "int_type"),
        (2.5, "int_from_float"),
        ("x", "int_parsing"),
        (float("nan"), "finite_number"),
        ([], "int_type"),
    ],
)
def test_what_is_not_an_integer(given: Any, kind: str) -> None:
    assert problems(int, given) == [(kind, ())]


def test_floats_come_from_numbers_and_text_but_never_booleans() -> None:
    assert Validator(float).validate(1) == (1.0, [])
    assert Validator(float).validate("0.5") == (0.5, [])
    assert problems(float, False) == [("float_type", ())]
    assert problems(float, float("inf")) == [("finite_number", ())]


def test_a_pattern_ends_at_the_end_of_the_text_as_in_json_schema() -> None:
    lowercase = Annotated[str, Limits(pattern=r"^[a-z]+$")]
    assert Validator(lowercase).validate("abc") == ("abc", [])
    assert problems(lowercase, "abc\n") == [("string_pattern_mismatch", ())]  # a YAML block scalar's
    assert Validator(Annotated[str, Limits(pattern=r"costs \$")]).validate("costs $") == ("costs $", [])


def test_text_is_only_text() -> None:
    assert problems(str, 5) == [("string_type", ())]
    assert problems(str, b"x") == [("string_type", ())]


def test_a_literal_matches_by_value_and_type() -> None:
    assert Validator(Literal[1]).validate(1) == (1, [])
    assert problems(Literal[1], True) == [("literal_error", ())]
    _, found = Validator(Literal["a", "b"]).validate("c")
    assert found == [Problem("literal_error", (), "c", ("a", "b"))]


def test_a_list_has_its_least_length() -> None:
    at_least_one = Annotated[list[int], Limits(min_length=1)]
    assert Validator(at_least_one).validate([1]) == ([1], [])
    assert problems(at_least_one, []) == [("too_few_items", ())]


def test_a_tuple_has_its_exact_length() -> None:
    assert Validator(tuple[int, int]).validate([1, "2"]) == ((1, 2), [])
    assert problems(tuple[int, int], [1, 2, 3]) == [("too_long", ())]
    assert problems(tuple[int, int], [1, "x"]) == [("int_parsing", (1,))]
    assert problems(tuple[int, int], "1,2") == [("tuple_type", ())]


class Hooked(Shape):
    pair: tuple[int, int] | None = None
    low: int = 0
    high: int = 0

    @before("pair")
    def _split(value: Any) -> Any:
        return value.split(",") if isinstance(value, str) else value

    @after("pair")
    def _ordered(value: tuple[int, int] | None) -> tuple[int, int] | None:
        if value is not None and value[0] > value[1]:
            raise ValueError("pair must be ordered")
        return value

    @after()
    def _low_below_high(self) -> Hooked:
        if self.low > self.high:
            raise ValueError("low must not exceed high")
        return self


def test_hooks_run_before_and_after_a_field_and_after_the_whole() -> None:
    value, found = Validator(Hooked).validate({"pair": "1, 2"})
    assert found == [] and value.pair == (1, 2)
    _, found = Validator(Hooked).validate({"pair": "2,1"})
    assert found == [Problem("value_error", ("pair",), "2,1", "pair must be ordered")]
    _, found = Validator(Hooked).validate({"low": 2})
    assert [(p.kind, p.loc, p.detail) for p in found] == [("value_error", (), "low must not exceed high")]


def _kind(value: Any) -> int | None:
    return 0 if isinstance(value, str) else 1 if isinstance(value, dict) else None


Either = Annotated[
    Annotated[str, Limits(min_length=1)] | Inner, OneOf(_kind, "either_type", "text or a mapping")
]


def test_a_chosen_union_checks_with_the_member_its_function_picks() -> None:
    assert Validator(list[Either]).validate(["a", {"count": 2}])[0][0] == "a"
    assert problems(list[Either], ["", {"count": "x"}, 5]) == [
        ("string_too_short", (0,)),
        ("int_parsing", (1, "count")),
        ("either_type", (2,)),
    ]


def test_instances_are_immutable_values() -> None:
    first = Validator(Inner).validate({"count": 2})[0]
    second = Validator(Inner).validate({"count": 2})[0]
    assert first == second and hash(first) == hash(second) and first is not second
    assert first != Validator(Inner).validate({})[0]
    assert repr(first) == "Inner(count=2)"
    with pytest.raises(AttributeError):
        first.count = 3
    assert Validator(Outer).keys_at(())[-3:] == ["innerThing", "byId", "anything"]  # declaration order


def test_keys_at_names_what_a_mapping_accepts() -> None:
    validator = Validator(Outer)
    assert validator.keys_at(("innerThing",)) == ["count"]
    assert validator.keys_at(("byId", "x")) == ["count"]
    assert validator.keys_at(("name",)) == []
    assert Validator(list[Either]).keys_at((0,)) == ["count"]


def test_the_json_schema_of_each_kind() -> None:
    schema = Validator(Outer).json_schema()
    assert schema["title"] == "The outer one" and schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["name"] == {"type": "string", "minLength": 1, "maxLength": 5, "description": "Short name."}
    assert props["code"] == {"type": "string", "pattern": "^[a-z]+$"}
    assert props["ratio"] == {"type": "number", "minimum": 0, "maximum": 1}
    assert props["flag"] == {"type": "boolean", "default": False}
    assert props["mode"] == {"enum": ["on", "off"], "type": "string", "default": "on"}
    assert props["box"] == {
        "maxItems": 2,
        "minItems": 2,
        "prefixItems": [{"type": "integer"}, {"type": "integer"}],
        "type": "array",
    }
    assert props["tags"] == {"items": {"type": "string"}, "minItems": 0, "type": "array"}
    assert props["innerThing"] == {"$ref": "#/$defs/Inner", "description": "Nested."}
    assert props["byId"] == {
        "type": "object",
        "patternProperties": {"^[a-z]+$": {"$ref": "#/$defs/Inner"}},
        "propertyNames": {"maxLength": 3},
    }
    assert props["anything"] == {"type": "object", "additionalProperties": True}
    assert schema["$defs"]["Inner"]["description"] == "An inner mapping."
    assert schema["$defs"]["Inner"]["properties"]["count"] == {
        "type": "integer",
        "minimum": 0,
        "maximum": 10,
        "default": 1,
    }
    assert Validator(list[Either]).json_schema()["items"]["oneOf"][0] == {"type": "string", "minLength": 1}
    assert Validator(Literal[1]).json_schema() == {"const": 1, "type": "integer"}


def test_a_union_without_a_chooser_is_refused_when_first_used() -> None:
    validator = Validator(int | str)
    with pytest.raises(TypeError, match="OneOf"):
        validator.validate(1)


def test_validating_the_quickstart_imports_no_pydantic(tmp_path: Path) -> None:
    # The reason this module exists: `facesync validate` starts without pydantic (issue 18's
    # start-up figure, bench/cli_startup.py). The clients still use it; validate must not.
    code = (
        "import sys; from facesync.cli import main\n"
        "try:\n    main(['validate', '-f', 'quickstart/facesync.yaml'])\n"
        "except SystemExit as exit:\n    assert exit.code == 0, exit.code\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'pydantic_core')))"
    )
    repo = Path(__file__).resolve().parents[2]
    shutil.copytree(repo / "examples" / "quickstart", tmp_path / "quickstart")
    env = {**os.environ, "PYTHONPATH": str(repo)}
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        check=True,
        timeout=120,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
