"""Directory and DynamicPersonGroup diffs on hand-built states: persons and faces per model, a
model upgrade without downtime, group fields and members, and the gates."""

from __future__ import annotations

import pytest

from facesync.address import Address, AddressError, resolve_targets
from facesync.diff import diff
from facesync.livestate import LiveFace, LivePerson, LiveState, LiveSummary
from facesync.model import DesiredFace, DesiredState
from facesync.plan import Action, Gate, Reason, SafetyPolicy, safety_refusals
from tests.directory.states import (
    DPG,
    PD,
    R3,
    R4,
    directory,
    enrolled,
    group,
    live_directory,
    live_group,
)
from tests.sync.states import fp, want_face


def changes(plan) -> list[tuple[str, str]]:
    return [(c.action.value, str(c.address)) for c in plan.changes]


def state(*collections) -> DesiredState:
    return DesiredState(collections=collections)


def face(name: str, model: str = R4) -> str:
    return f'personDirectory/person["{name[0].upper()}"]/model[{model}]/face[{fp(name)}]'


DAD = [want_face("d1"), want_face("d2")]


def test_a_new_directory_person_is_created_with_its_faces_in_every_model_and_nothing_trains():
    plan = diff(state(directory({"D": DAD}, (R3, R4))), LiveState((live_directory(),)))
    assert changes(plan) == [
        ("create", 'personDirectory/person["D"]'),
        ("create", face("d1", R3)),
        ("create", face("d2", R3)),
        ("create", face("d1", R4)),
        ("create", face("d2", R4)),
    ]
    assert all(c.action is not Action.TRAIN for c in plan.changes)
    assert plan.changes[1].after_fields()["recognitionModel"] == R3


def test_a_matching_directory_plans_nothing():
    live = live_directory(LivePerson("p1", "D", None, (enrolled("d1", "f1"), enrolled("d2", "f2"))))
    assert diff(state(directory({"D": DAD})), LiveState((live,))).empty


def test_adding_a_model_adds_its_faces_and_keeps_the_old_ones():
    live = live_directory(LivePerson("p1", "D", None, (enrolled("d1", "f1", R3), enrolled("d2", "f2", R3))))
    plan = diff(state(directory({"D": DAD}, (R3, R4))), LiveState((live,)))
    assert changes(plan) == [("create", face("d1", R4)), ("create", face("d2", R4))]
    assert {c.reason for c in plan.changes} == {Reason.MODEL_ADDED}
    assert "keep answering" in plan.changes[0].explanation


def test_dropping_a_model_deletes_its_faces_and_says_why():
    live = live_directory(
        LivePerson(
            "p1",
            "D",
            None,
            (
                enrolled("d1", "f1", R3),
                enrolled("d1", "f3", R4),
                enrolled("d2", "f2", R3),
                enrolled("d2", "f4", R4),
            ),
        )
    )
    plan = diff(state(directory({"D": DAD}, (R4,))), LiveState((live,)))
    assert changes(plan) == [("delete", face("d1", R3)), ("delete", face("d2", R3))]
    assert {c.reason for c in plan.changes} == {Reason.MODEL_REMOVED}
    assert plan.changes[0].explanation == (
        "recognition_03 is no longer in personDirectory.recognitionModels: deleted once the faces of "
        "recognition_04 are added"
    )


def test_moving_to_a_new_model_in_one_step_shows_both_adds_and_deletes():
    live = live_directory(LivePerson("p1", "D", None, (enrolled("d1", "f1", R3),)))
    plan = diff(state(directory({"D": [want_face("d1")]}, (R4,))), LiveState((live,)))
    assert [(c.action.value, c.reason.value) for c in plan.changes] == [
        ("delete", "model_removed"),
        ("create", "model_added"),
    ]


def test_dropping_a_model_of_a_large_directory_needs_force():
    persons = [
        LivePerson(f"p{i}", f"P{i}", None, (enrolled(f"x{i}", f"a{i}", R3), enrolled(f"x{i}", f"b{i}", R4)))
        for i in range(6)
    ]
    desired = directory({f"P{i}": [want_face(f"x{i}")] for i in range(6)}, (R4,))
    plan = diff(state(desired), LiveState((live_directory(*persons),)))
    refusals = safety_refusals(plan, SafetyPolicy())
    assert [(r.gate, str(r.address)) for r in refusals] == [(Gate.DELETE_SHARE, "personDirectory")]
    assert "deleting 6 of 12 faces (50%)" in refusals[0].message


def test_a_face_without_fingerprint_in_an_unlisted_model_is_deleted_and_kept_faces_stay_in_their_model():
    kept = DesiredFace(fingerprint=None, persisted_face_id="k-3")
    live = live_directory(
        LivePerson(
            "p1",
            "D",
            None,
            (
                enrolled("d1", "f1", R4),
                enrolled("x", "k-3", R3),  # kept by id, in a model no longer listed
                LiveFace("h-1", "by hand", None, "by hand", recognition_model="recognition_01"),
            ),
        )
    )
    plan = diff(state(directory({"D": [want_face("d1"), kept]}, (R4,))), LiveState((live,)))
    assert changes(plan) == [("delete", 'personDirectory/person["D"]/model[recognition_01]/face[h-1]')]
    assert plan.changes[0].reason is Reason.NO_FINGERPRINT
    assert plan.warnings == ()


def test_directory_twins_keep_the_best_match_and_persons_not_declared_are_deleted():
    live = live_directory(
        LivePerson("p1", "D", None, ()),
        LivePerson("p2", "D", None, (enrolled("d1", "f1"), enrolled("d2", "f2"))),
        LivePerson("p3", "Gone", None, (enrolled("g", "f3"),)),
    )
    plan = diff(state(directory({"D": DAD})), LiveState((live,)))
    assert changes(plan) == [
        ("delete", 'personDirectory/person["D"](p1)'),
        ("delete", 'personDirectory/person["Gone"]'),
    ]
    assert plan.changes[0].is_repair


def test_a_new_group_lists_its_members_and_names_their_persons():
    live = LiveState((live_directory(LivePerson("p1", "D", None, ())),))
    desired = state(directory({"D": [], "M": []}), group("parents", ["M", "D"]))
    plan = diff(desired, live)
    assert changes(plan) == [
        ("create", 'personDirectory/person["M"]'),
        ("create", "dynamicPersonGroup.parents"),
        ("create", 'dynamicPersonGroup.parents/member["D"]'),
        ("create", 'dynamicPersonGroup.parents/member["M"]'),
    ]
    members = plan.changes[2:]
    assert [(c.person_id, c.explanation) for c in members] == [
        ("p1", "listed in members"),
        (None, "listed in members (the person is created first)"),
    ]
    assert plan.changes[1].after == {"name": "Parents", "userData": None}
    assert members[0].after == {"name": "D"}


def test_members_join_and_leave_by_person_id_and_fields_update_in_place():
    live = LiveState(
        (
            live_directory(
                LivePerson("p1", "D", None, ()),
                LivePerson("p2", "M", None, ()),
                LivePerson("p3", "K", None, ()),
            ),
            live_group("parents", [("p1", "D"), ("p3", "K"), ("p9", None)], name="Old name"),
        )
    )
    desired = state(directory({"D": [], "M": [], "K": []}), group("parents", ["D", "M"], name="Parents"))
    plan = diff(desired, live)
    assert changes(plan) == [
        ("update", "dynamicPersonGroup.parents"),
        ("create", 'dynamicPersonGroup.parents/member["M"]'),
        ("delete", 'dynamicPersonGroup.parents/member["p9"]'),
        ("delete", 'dynamicPersonGroup.parents/member["K"]'),
    ]
    update, add, stray, leave = plan.changes
    assert (update.before, update.after) == (
        {"name": "Old name", "userData": None},
        {"name": "Parents", "userData": None},
    )
    assert add.person_id == "p2"
    assert stray.explanation == "not in members, and personId p9 is no directory person"
    assert (leave.person_id, leave.before) == ("p3", {"name": "K", "personId": "p3"})
    # References only: nothing is destroyed, whatever the share.
    assert safety_refusals(plan, SafetyPolicy(min_existing=1)) == []


def test_a_member_is_the_twin_the_directory_keeps():
    live = LiveState(
        (
            live_directory(
                LivePerson("p1", "D", None, ()),
                LivePerson("p2", "D", None, (enrolled("d1", "f1"), enrolled("d2", "f2"))),
            ),
            live_group("parents", [("p1", "D")]),
        )
    )
    plan = diff(state(directory({"D": DAD}), group("parents", ["D"])), live)
    assert changes(plan) == [
        ("delete", 'personDirectory/person["D"](p1)'),
        ("create", 'dynamicPersonGroup.parents/member["D"]'),
        ("delete", 'dynamicPersonGroup.parents/member["D"]'),
    ]
    assert [c.person_id for c in plan.changes[1:]] == ["p2", "p1"]


def test_a_protected_group_is_not_deleted_without_force_and_undeclared_groups_are_unmanaged():
    live = LiveState(
        (live_directory(), live_group("parents", [])),
        others=(LiveSummary(DPG, "kids", "Kids"), LiveSummary(PD, "", "PersonDirectory")),
    )
    desired = DesiredState(
        collections=(directory({}), group("parents", [], ensure="absent", protect=True)), prune=True
    )
    plan = diff(desired, live)
    assert changes(plan) == [
        ("delete", "dynamicPersonGroup.parents"),
        ("delete", "dynamicPersonGroup.kids"),  # pruned like any collection; never the directory
    ]
    assert plan.changes[0].before == {"name": "Parents", "userData": None, "members": 0}
    gates = {(r.gate, str(r.address)) for r in safety_refusals(plan, SafetyPolicy())}
    assert gates == {(Gate.PROTECTED, "dynamicPersonGroup.parents"), (Gate.PRUNE, "dynamicPersonGroup.kids")}


def test_targets_narrow_to_a_directory_person_or_a_group():
    live = LiveState((live_directory(), live_group("parents", [])))
    desired = state(directory({"D": [want_face("d1")], "M": []}), group("parents", ["D"]))
    only_d = resolve_targets(desired, ['personDirectory/person["D"]'])
    assert changes(diff(desired, live, targets=only_d)) == [
        ("create", 'personDirectory/person["D"]'),
        ("create", face("d1")),
    ]
    only_group = resolve_targets(desired, ["parents"])
    assert changes(diff(desired, live, targets=only_group)) == [
        ("create", 'dynamicPersonGroup.parents/member["D"]')
    ]
    assert resolve_targets(desired, ["personDirectory"]) == (Address.directory(),)
    with pytest.raises(AddressError, match="not declared"):
        resolve_targets(state(group("parents", [])), ["personDirectory"])


def test_directory_addresses_read_back():
    for text in (
        "personDirectory",
        'personDirectory/person["Dad"](p1)',
        f'personDirectory/person["Dad"]/model[recognition_04]/face[{fp("x")}](f1)',
        "dynamicPersonGroup.parents",
        'dynamicPersonGroup.parents/member["Dad"]',
    ):
        assert str(Address.parse(text)) == text
    for bad, why in (
        ("personDirectory.x", "has no id"),
        ("dynamicPersonGroup", "needs its id"),
        ('personGroup.x/member["a"]', "only a DynamicPersonGroup has members"),
        ('dynamicPersonGroup.x/person["a"]', "lists members"),
        (f'personDirectory/person["a"]/face[{fp("x")}]', "enrolled in a model"),
        ('personDirectory/person["a"]/model[recognition_9]', "unknown recognition model"),
        ('personGroup.x/person["a"]/model[recognition_04]', "only a directory person"),
    ):
        with pytest.raises(AddressError, match=why):
            Address.parse(bad)
    person = Address.parse('personDirectory/person["Dad"]')
    assert person.contains(
        Address.parse(f'personDirectory/person["Dad"]/model[recognition_03]/face[{fp("x")}]')
    )
    assert not Address.parse('personDirectory/person["Dad"]/model[recognition_04]').contains(
        Address.parse(f'personDirectory/person["Dad"]/model[recognition_03]/face[{fp("x")}]')
    )


def test_emptying_a_directory_person_is_held_by_the_face_loss_gate_but_a_model_move_is_not():
    live = LiveState(
        (live_directory(LivePerson("p1", "D", None, (enrolled("d1", "f1", R3), enrolled("d2", "f2", R3)))),)
    )
    emptied = diff(state(directory({"D": []}, (R3,))), live)
    assert [(r.gate, str(r.address)) for r in safety_refusals(emptied, SafetyPolicy())] == [
        (Gate.FACE_LOSS, 'personDirectory/person["D"]')
    ]
    moved = diff(state(directory({"D": DAD}, (R4,))), live)  # deletes in 03, adds in 04
    assert safety_refusals(moved, SafetyPolicy()) == []


def test_a_directory_person_renamed_in_the_config_keeps_its_person_id_and_faces():
    from dataclasses import replace

    desired = directory({"Dad": DAD})
    desired = replace(desired, persons=(replace(desired.persons[0], renamed_from="D"),))
    live = live_directory(LivePerson("p1", "D", None, (enrolled("d1", "f1"), enrolled("d2", "f2"))))
    plan = diff(state(desired), LiveState((live,)))
    assert [(c.action, c.reason, str(c.address), c.person_id) for c in plan.changes] == [
        (Action.UPDATE, Reason.RENAMED, 'personDirectory/person["Dad"]', "p1")
    ]
