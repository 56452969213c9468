"""DynamicPersonGroups: CRUD, membership changes as operations, and the references of a person."""

from __future__ import annotations

import pytest

from tests.emulator_directory.conftest import OPERATION_SECONDS, Directory, error

UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture
def family(directory: Directory) -> list[str]:
    """Three directory persons, every operation done."""
    return [directory.person(name) for name in ("Dad", "Mom", "Son")]


def test_create_without_members_is_200_and_with_members_202(directory: Directory, family: list[str]):
    r = directory.put("/dynamicpersongroups/empty", json={"name": "Empty", "userData": "u"})
    assert r.status_code == 200 and r.content == b"" and "operation-location" not in r.headers
    assert directory.get("/dynamicpersongroups/empty").json() == {
        "dynamicPersonGroupId": "empty",
        "name": "Empty",
        "userData": "u",
    }
    r = directory.put("/dynamicpersongroups/parents", json={"name": "Parents", "addPersonIds": family[:2]})
    assert r.status_code == 202 and r.content == b""
    assert r.headers["operation-location"].split("/face/")[1].startswith("v1.2-preview.1/operations/")
    # the group exists at once; its members once the operation has succeeded
    assert directory.get("/dynamicpersongroups/parents").json()["name"] == "Parents"
    assert directory.members("parents") == []
    assert directory.finish(r)["status"] == "succeeded"
    assert directory.members("parents") == sorted(family[:2])


def test_group_operation_reports_the_group_where_recorded(directory: Directory, family: list[str]):
    old = directory.at("v1.0-preview")
    r = old.put("/dynamicpersongroups/g", json={"name": "G", "addPersonIds": family[:1]})
    first = old.operation(r)
    assert first["status"] == "notStarted"
    assert first["resourceLocation"].endswith("/face/v1.0-preview/dynamicpersongroups/g")
    assert first["resourceLocation"].startswith(("http://", "https://"))
    done = old.finish(r)
    assert set(done) == {"status", "createdTime", "lastActionTime", "finishedTime", "resourceLocation"}
    # later versions answer their OperationResult: an operationId, no resourceLocation
    later = directory.patch("/dynamicpersongroups/g", json={"addPersonIds": family[1:2]})
    assert set(directory.finish(later)) == {
        "operationId",
        "status",
        "createdTime",
        "lastActionTime",
        "finishedTime",
    }


def test_patch_adds_and_removes_members_when_its_operation_succeeds(directory: Directory, family: list[str]):
    dad, mom, son = family
    directory.group("g", dad, mom)
    r = directory.patch("/dynamicpersongroups/g", json={"addPersonIds": [son], "removePersonIds": [dad]})
    assert r.status_code == 202 and r.content == b""
    assert directory.members("g") == sorted([dad, mom])
    directory.clock.advance(0.5 * OPERATION_SECONDS)
    assert directory.operation(r)["status"] == "running"
    assert directory.members("g") == sorted([dad, mom])
    directory.clock.advance(0.5 * OPERATION_SECONDS)
    assert directory.operation(r)["status"] == "succeeded"
    assert directory.members("g") == sorted([mom, son])


def test_patch_of_name_and_user_data_only_is_200(directory: Directory, family: list[str]):
    directory.group("g", family[0], name="Old")
    r = directory.patch("/dynamicpersongroups/g", json={"name": "New"})
    assert r.status_code == 200 and r.content == b""
    assert directory.get("/dynamicpersongroups/g").json() == {"dynamicPersonGroupId": "g", "name": "New"}
    assert directory.patch("/dynamicpersongroups/g", json={"userData": "u"}).status_code == 200
    assert directory.get("/dynamicpersongroups/g").json()["userData"] == "u"
    assert directory.members("g") == [family[0]]
    error(
        directory.patch("/dynamicpersongroups/g", json={}),
        400,
        "BadArgument",
        "Both 'name' and 'userData' are empty.",
    )
    # members alone are a change: 202
    assert directory.patch("/dynamicpersongroups/g", json={"removePersonIds": [family[0]]}).status_code == 202


def test_adding_a_member_twice_or_removing_a_stranger_changes_nothing(
    directory: Directory, family: list[str]
):
    dad, mom, _ = family
    directory.group("g", dad)
    r = directory.patch(
        "/dynamicpersongroups/g", json={"addPersonIds": [dad, dad.upper()], "removePersonIds": [mom]}
    )
    assert directory.finish(r)["status"] == "succeeded"
    assert directory.members("g") == [dad]


def test_naming_a_person_not_in_the_directory_fails_the_operation(directory: Directory, family: list[str]):
    dad, mom, _ = family
    directory.group("g", dad)
    r = directory.patch("/dynamicpersongroups/g", json={"addPersonIds": [mom, UNKNOWN]})
    assert r.status_code == 202
    done = directory.finish(r)
    assert done["status"] == "failed"
    assert UNKNOWN in done["message"]
    assert directory.members("g") == [dad]  # all or nothing
    r = directory.put("/dynamicpersongroups/h", json={"name": "H", "addPersonIds": [UNKNOWN]})
    assert directory.finish(r)["status"] == "failed"
    assert directory.members("h") == []  # the group was made, its members not


@pytest.mark.parametrize(
    "body",
    [
        {"addPersonIds": ["not-a-uuid"]},
        {"removePersonIds": [5]},
        {"addPersonIds": "x"},
        {"name": "x" * 129},
        {"userData": "x" * 16385},
    ],
)
def test_bad_patch_bodies_are_400(directory: Directory, family: list[str], body: dict):
    directory.group("g", family[0])
    error(directory.patch("/dynamicpersongroups/g", json=body), 400, "BadArgument")
    assert directory.members("g") == [family[0]]


def test_a_person_added_and_removed_in_one_call_is_400(directory: Directory, family: list[str]):
    directory.group("g")
    r = directory.patch(
        "/dynamicpersongroups/g", json={"addPersonIds": [family[0]], "removePersonIds": [family[0]]}
    )
    error(r, 400, "BadArgument")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'name' is empty."),
        ({"name": ""}, "'name' is empty."),
        ({"name": "x" * 129}, "'name' is too long."),
        ({"name": "G", "userData": "x" * 16385}, "'userData' is too long."),
        ({"name": "G", "addPersonIds": ["nope"]}, None),
        ({"name": "G", "addPersonIds": {}}, "Request body is invalid."),
    ],
)
def test_create_body_rules(directory: Directory, body: dict, message: str | None):
    error(directory.put("/dynamicpersongroups/g", json=body), 400, "BadArgument", message)
    error(directory.get("/dynamicpersongroups/g"), 404, "DynamicPersonGroupNotFound")


def test_create_existing_group_is_409_and_bad_ids_are_400(directory: Directory):
    directory.group("g")
    error(directory.put("/dynamicpersongroups/g", json={"name": "again"}), 409, "DynamicPersonGroupExists")
    for bad in ("UPPER", "x" * 65, "a%2Fb", "sp%20ace"):
        error(directory.put(f"/dynamicpersongroups/{bad}", json={"name": "x"}), 400, "BadArgument")


@pytest.mark.parametrize("gid", ["missing", "UPPER"])
def test_unknown_or_malformed_group_is_404(directory: Directory, gid: str):
    for r in (
        directory.get(f"/dynamicpersongroups/{gid}"),
        directory.patch(f"/dynamicpersongroups/{gid}", json={"name": "x"}),
        directory.delete(f"/dynamicpersongroups/{gid}"),
        directory.get(f"/dynamicpersongroups/{gid}/persons"),
    ):
        error(r, 404, "DynamicPersonGroupNotFound")
    assert directory.get("/dynamicpersongroups/missing").json()["error"]["message"] == (
        "Dynamic person group is not found.\r\nParameter name: dynamicPersonGroupId"
    )


def test_delete_group_is_202_and_leaves_the_persons(directory: Directory, family: list[str]):
    directory.group("g", *family)
    r = directory.delete("/dynamicpersongroups/g")
    assert r.status_code == 202 and r.content == b""
    assert directory.finish(r)["status"] == "succeeded"
    error(directory.get("/dynamicpersongroups/g"), 404, "DynamicPersonGroupNotFound")
    assert len(directory.get("/persons").json()) == 3
    assert directory.get(f"/persons/{family[0]}/dynamicPersonGroupReferences").json() == {
        "dynamicPersonGroupIds": []
    }
    directory.group("g")  # the id is free again, with no members left over
    assert directory.members("g") == []


def test_list_groups_sorted_with_paging(directory: Directory):
    for gid in ("c", "a", "b", "d"):
        directory.group(gid, name=gid.upper())
    listed = directory.get("/dynamicpersongroups").json()
    assert listed == [{"dynamicPersonGroupId": g, "name": g.upper()} for g in "abcd"]
    page = directory.get("/dynamicpersongroups", params={"start": "a", "top": 2}).json()
    assert [g["dynamicPersonGroupId"] for g in page] == ["b", "c"]
    error(directory.get("/dynamicpersongroups", params={"top": 0}), 400, "BadArgument")


def test_group_persons_and_references_page_by_id(directory: Directory, family: list[str]):
    members = sorted(family)
    directory.group("g", *family)
    directory.group("h", family[0])
    directory.group("i")
    page = directory.get("/dynamicpersongroups/g/persons", params={"start": members[0], "top": 1}).json()
    assert page == {"personIds": members[1:2]}
    refs = directory.get(f"/persons/{family[0]}/dynamicPersonGroupReferences").json()
    assert refs == {"dynamicPersonGroupIds": ["g", "h"]}
    refs = directory.get(f"/persons/{family[0]}/dynamicPersonGroupReferences", params={"start": "g"}).json()
    assert refs == {"dynamicPersonGroupIds": ["h"]}
    # v1.0-preview's reference body also names the person
    old = directory.at("v1.0-preview").get(f"/persons/{family[1]}/dynamicPersonGroupReferences").json()
    assert old == {"personId": family[1], "dynamicPersonGroupIds": ["g"]}
    error(directory.get("/dynamicpersongroups/g/persons", params={"top": 1001}), 400, "BadArgument")


def test_deleting_a_person_takes_them_out_of_every_group(directory: Directory, family: list[str]):
    dad, mom, _ = family
    directory.group("g", dad, mom)
    directory.group("h", dad)
    assert directory.delete(f"/persons/{dad}").status_code == 202
    assert directory.members("g") == [mom]
    assert directory.members("h") == []


def test_group_writes_are_counted_as_mutating(directory: Directory, family: list[str]):
    directory.group("g", family[0])
    directory.patch("/dynamicpersongroups/g", json={"name": "x"})
    directory.delete("/dynamicpersongroups/g")
    operations = directory.stats()["operations"]
    assert operations["PersonDirectory_CreateDynamicPersonGroup"] == 1
    assert operations["PersonDirectory_UpdateDynamicPersonGroup"] == 1
    assert operations["PersonDirectory_DeleteDynamicPersonGroup"] == 1
    # 3 persons created + 3 group writes
    assert directory.stats()["mutating"] == 6
