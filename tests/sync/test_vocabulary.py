"""The plan's typed vocabulary: addresses, resource kinds, reasons, refusals as data."""

from __future__ import annotations

import json

import pytest

from facesync.address import Address, AddressError, ResourceKind
from facesync.diff import diff
from facesync.livestate import LivePerson, LiveState, LiveSummary
from facesync.model import CollectionKind
from facesync.plan import Action, Gate, Reason, SafetyPolicy, safety_refusals
from facesync.render import render_json
from tests.sync.states import FL, LPG, PG, fp, group, live_face, live_group, state, want_face

STAFF = Address(PG, "staff")
ALICE = STAFF.child_person("Alice Smith")
FACE = ALICE.child_face(fp("a1"))


def test_addresses_print_as_plans_show_them_and_parse_back():
    assert str(STAFF) == "personGroup.staff"
    assert str(ALICE) == 'personGroup.staff/person["Alice Smith"]'
    assert str(FACE) == f'personGroup.staff/person["Alice Smith"]/face[{fp("a1")}]'
    twin = STAFF.child_person("Bob", "p-2")
    duplicate = Address(FL, "vip").child_face(fp("v"), "f-9")
    odd = STAFF.child_person('Dana "DJ" O\'Neil ]/[')
    for address in (STAFF, ALICE, FACE, twin, duplicate, odd):
        assert Address.parse(str(address)) == address
    assert str(twin) == 'personGroup.staff/person["Bob"](p-2)'
    assert str(duplicate) == f"faceList.vip/face[{fp('v')}](f-9)"


@pytest.mark.parametrize(
    "text",
    [
        "staff",
        "group.staff",
        "faceList.vip/person[\"A\"]",
        "personGroup.staff/face[x]",
        "personGroup.Staff",
        'personGroup.staff/person["A"]/extra',
    ],
)
def test_text_that_is_not_an_address_is_refused_with_a_reason(text: str):
    with pytest.raises(AddressError, match=r"address|kind|persons|person"):
        Address.parse(text)


def test_an_address_knows_its_kind_collection_and_what_it_contains():
    assert (STAFF.kind, ALICE.kind, FACE.kind) == (
        ResourceKind.PERSON_GROUP,
        ResourceKind.PERSON,
        ResourceKind.FACE,
    )
    assert FACE.collection == ALICE.collection == STAFF and FACE.owner == ALICE
    assert STAFF.contains(FACE) and ALICE.contains(FACE) and STAFF.contains(STAFF)
    assert not ALICE.contains(STAFF.child_person("Bob"))
    assert not STAFF.contains(Address(LPG, "staff"))
    assert ALICE.contains(STAFF.child_person("Alice Smith", "p-1"))  # a name holds its twins
    assert not STAFF.child_person("Alice Smith", "p-2").contains(STAFF.child_person("Alice Smith", "p-1"))
    assert ResourceKind.of_collection(CollectionKind.LARGE_FACE_LIST).is_collection
    assert not ResourceKind.FACE.is_collection


def test_changes_carry_codes_for_logic_and_words_for_people():
    desired = state(group("staff", {"Alice": [want_face("a1")]}), prune=True)
    live = LiveState(
        (live_group("staff", [LivePerson("p1", "Alice", None, (live_face("old", "f-old"),))]),),
        others=(LiveSummary(FL, "legacy", "Legacy"),),
    )
    plan = diff(desired, live)
    assert [(c.action, c.reason) for c in plan.changes] == [
        (Action.CREATE, Reason.DECLARED),
        (Action.DELETE, Reason.NOT_DECLARED),
        (Action.TRAIN, Reason.CONTENTS_CHANGED),
        (Action.DELETE, Reason.PRUNED),
    ]
    assert [c.explanation for c in plan.changes] == [
        "declared in the configuration",
        "not in the configuration",
        "contents changed",
        "pruned: not declared in the configuration (prune: true)",
    ]
    # Apply reads the typed resources: the face to add, the live ids to delete and act in.
    add, delete = plan.changes[0], plan.changes[1]
    assert add.desired is desired.collections[0].persons[0].faces[0] and add.person_id == "p1"
    assert delete.persisted_face_id == "f-old" and delete.person_id == "p1"


def test_the_prune_gate_follows_the_reason_code_not_its_wording():
    live = LiveState((), others=(LiveSummary(PG, "legacy", "Legacy"),))
    plan = diff(state(prune=True), live)
    reworded = type(plan)(
        changes=tuple(
            type(c)(c.action, c.address, c.reason, "gone (reworded)", c.desired, c.live) for c in plan.changes
        )
    )
    (refusal,) = safety_refusals(reworded, SafetyPolicy())
    assert (refusal.gate, refusal.address) == (Gate.PRUNE, Address(PG, "legacy"))


def test_the_json_plan_and_checksum_are_derived_from_typed_changes():
    plan = diff(state(group("staff", {"Alice": [want_face("a1")]})), LiveState())
    data = json.loads(render_json(plan))
    assert [c["address"] for c in data["changes"]] == [str(c.address) for c in plan.changes]
    assert data["changes"][0] == {
        "action": "create",
        "kind": "personGroup",
        "address": "personGroup.staff",
        "before": None,
        "after": {"name": "Staff", "userData": None, "recognitionModel": "recognition_04"},
        "reason": "declared in the configuration",
        "reason_code": "declared",
    }
    assert data["checksum"] == plan.checksum == diff(
        state(group("staff", {"Alice": [want_face("a1")]})), LiveState()
    ).checksum


def test_the_published_plan_schema_names_every_reason_code_and_gate():
    from pathlib import Path

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
    change = schema["properties"]["changes"]["items"]["properties"]
    refusal = schema["properties"]["refusals"]["items"]["properties"]
    assert change["reason_code"]["enum"] == [r.value for r in Reason]
    assert refusal["gate"]["enum"] == [g.value for g in Gate]
