"""`personDirectory` and `dynamicPersonGroups` in the configuration: desired state and the rules
validate checks (each at file:line:column), without calling the service."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facesync.config import load, validate
from facesync.config.models import json_schema_text
from facesync.model import CollectionKind, DesiredCollection
from tests.config.conftest import WriteConfig

IMAGES = {"img/dad.png": 1, "img/mum.png": 2, "img/kid.png": 3}

FAMILY = """
version: 1
service: {apiVersion: v1.2-preview.1}
defaults: {recognitionModel: recognition_04}
personDirectory:
  recognitionModels: [recognition_03, recognition_04]
  persons:
    Dad: {userData: dad, faces: [img/dad.png]}
    Mum: {faces: [img/mum.png]}
    Kid: {faces: [img/kid.png]}
dynamicPersonGroups:
  parents:
    name: Parents
    userData: '{"door": "front"}'
    members: [Dad, Mum]
  old: {ensure: absent}
"""


def _errors(path: Path, **kwargs: object) -> list[str]:
    return [str(d) for d in validate(path, **kwargs).diagnostics if d.is_error]  # type: ignore[arg-type]


def _kind(state_collections: tuple[DesiredCollection, ...], kind: CollectionKind) -> list[DesiredCollection]:
    return [c for c in state_collections if c.kind is kind]


def test_directory_and_groups_become_desired_state(write_config: WriteConfig) -> None:
    state, warnings = load(write_config(FAMILY, IMAGES))
    assert warnings == []
    (directory,) = _kind(state.collections, CollectionKind.PERSON_DIRECTORY)
    assert directory.id == ""
    assert directory.recognition_models == ("recognition_03", "recognition_04")
    assert directory.recognition_model == "recognition_04"  # the newest: what probes use
    assert [(p.name, p.user_data, len(p.faces)) for p in directory.persons] == [
        ("Dad", "dad", 1),
        ("Mum", None, 1),
        ("Kid", None, 1),
    ]
    parents, old = _kind(state.collections, CollectionKind.DYNAMIC_PERSON_GROUP)
    assert (parents.id, parents.name, parents.user_data) == ("parents", "Parents", '{"door": "front"}')
    assert [m.name for m in parents.members] == ["Dad", "Mum"]
    assert parents.members[0].pos is not None and parents.members[0].pos.line == 14
    assert (old.id, old.present) == ("old", False)


@pytest.mark.parametrize(
    ("defaults", "models"),
    [
        ("defaults: {recognitionModel: recognition_03}\n", ("recognition_03",)),
        # No service default: the model is in the directory's paths. Not recognition_01 then.
        ("", ("recognition_04",)),
    ],
)
def test_directory_models_default_to_the_default_recognition_model_else_04(
    write_config: WriteConfig, defaults: str, models: tuple[str, ...]
) -> None:
    text = FAMILY.replace("  recognitionModels: [recognition_03, recognition_04]\n", "")
    text = text.replace("defaults: {recognitionModel: recognition_04}\n", defaults)
    state, _ = load(write_config(text, IMAGES))
    (directory,) = _kind(state.collections, CollectionKind.PERSON_DIRECTORY)
    assert directory.recognition_models == models


@pytest.mark.parametrize("version", ["v1.0", "v1.2"])
def test_a_version_without_the_directory_is_an_error_naming_the_preview_versions(
    write_config: WriteConfig, version: str
) -> None:
    path = write_config(FAMILY.replace("v1.2-preview.1", version), IMAGES)
    errors = _errors(path)
    assert errors == [
        f"facesync.yaml:4:1: error: 'personDirectory' needs a preview API version: API {version} has "
        "no PersonDirectory; set service.apiVersion to v1.2-preview.1 (or v1.1-preview.1, v1.0-preview)",
        f"facesync.yaml:10:1: error: 'dynamicPersonGroups' needs a preview API version: API {version} "
        "has no PersonDirectory; set service.apiVersion to v1.2-preview.1 (or v1.1-preview.1, "
        "v1.0-preview)",
    ]


def test_the_api_version_flag_selects_the_preview_version_too(write_config: WriteConfig) -> None:
    path = write_config(FAMILY.replace("service: {apiVersion: v1.2-preview.1}\n", ""), IMAGES)
    assert _errors(path) != []
    assert _errors(path, api_version="v1.0-preview") == []


def test_a_member_must_be_a_directory_person_with_a_suggestion(write_config: WriteConfig) -> None:
    path = write_config(FAMILY.replace("members: [Dad, Mum]", "members: [Dad, Mom, Stranger]"), IMAGES)
    assert _errors(path) == [
        "facesync.yaml:14:20: error: member 'Mom' of dynamicPersonGroup 'parents' is not a person of "
        "the personDirectory (did you mean 'Mum'?)",
        "facesync.yaml:14:25: error: member 'Stranger' of dynamicPersonGroup 'parents' is not a person "
        "of the personDirectory",
    ]


def test_members_without_a_directory_are_errors(write_config: WriteConfig) -> None:
    text = """
    version: 1
    service: {apiVersion: v1.0-preview}
    dynamicPersonGroups:
      parents: {name: Parents, members: [Dad]}
    """
    errors = _errors(write_config(text))
    assert errors == [
        "facesync.yaml:4:38: error: member 'Dad' of dynamicPersonGroup 'parents' is not a directory "
        "person: the configuration has no personDirectory (members are its persons)"
    ]


def test_a_member_listed_twice_and_a_model_listed_twice_are_errors(write_config: WriteConfig) -> None:
    text = FAMILY.replace("members: [Dad, Mum]", "members: [Dad, Mum, Dad]").replace(
        "[recognition_03, recognition_04]", "[recognition_04, recognition_04]"
    )
    assert _errors(write_config(text, IMAGES)) == [
        "facesync.yaml:5:39: error: recognition model 'recognition_04' is listed twice in recognitionModels",
        "facesync.yaml:14:25: error: member 'Dad' is listed twice in dynamicPersonGroup 'parents' "
        "(first at line 14, column 15)",
    ]


def test_an_unknown_model_and_an_unknown_key_are_reported_with_suggestions(write_config: WriteConfig) -> None:
    text = FAMILY.replace("[recognition_03, recognition_04]", "[recognition_3]").replace(
        "    name: Parents\n", "    name: Parents\n    member: [Kid]\n"
    )
    errors = _errors(write_config(text, IMAGES))
    assert any(
        e.startswith("facesync.yaml:5:23: error: recognition model 'recognition_3' is not valid")
        and "(did you mean 'recognition_03'?)" in e
        for e in errors
    ), errors
    assert "facesync.yaml:13:5: error: unknown key 'member' (did you mean 'members'?)" in errors


def test_a_group_without_members_needs_v1_0_preview(write_config: WriteConfig) -> None:
    text = FAMILY.replace("members: [Dad, Mum]", "members: []")
    assert _errors(write_config(text, IMAGES)) == [
        "facesync.yaml:11:3: error: dynamicPersonGroup 'parents' has no members: API v1.0-preview is the "
        "only version that creates a DynamicPersonGroup without any; list a member, or use "
        "'ensure: absent'"
    ]
    assert _errors(write_config(text.replace("v1.2-preview.1", "v1.0-preview"), IMAGES)) == []


def test_a_group_needs_a_name_and_the_directory_is_defined_once(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config(FAMILY.replace("    name: Parents\n", ""), IMAGES)
    write_config("version: 1\npersonDirectory: {persons: {}}\n", name="more.yaml")
    errors = _errors(tmp_path)
    assert errors == [
        "facesync.yaml:11:3: error: dynamicPersonGroup 'parents' needs a 'name' (required unless "
        "'ensure: absent')",
        "more.yaml:2:1: error: 'personDirectory' is already defined at facesync.yaml:4:1",
    ]


def test_a_directory_person_holds_at_most_248_faces(write_config: WriteConfig, tmp_path: Path) -> None:
    images = {f"img/many/{i:03}.png": i for i in range(249)}
    text = FAMILY.replace("Kid: {faces: [img/kid.png]}", "Kid: {faces: [img/many]}")
    errors = _errors(write_config(text, {**IMAGES, **images}))
    assert errors == [
        "facesync.yaml:9:5: error: person 'Kid' has 249 faces; the Face API allows at most 248 per person"
    ]


def test_the_committed_schema_describes_both_kinds() -> None:
    committed = (Path(__file__).parents[2] / "schemas" / "facesync.schema.json").read_text()
    assert committed == json_schema_text()
    schema = json.loads(committed)
    assert set(schema["properties"]) >= {"personDirectory", "dynamicPersonGroups"}
    group = schema["$defs"]["DynamicPersonGroupModel"]["properties"]
    assert set(group) == {"name", "userData", "members", "ensure", "protect"}
    directory = schema["$defs"]["PersonDirectoryModel"]["properties"]
    assert directory["recognitionModels"]["items"]["enum"] == [
        "recognition_01",
        "recognition_02",
        "recognition_03",
        "recognition_04",
    ]
