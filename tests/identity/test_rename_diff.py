"""How the planner pairs a missing person with a live one: only when the pairing is certain."""

from __future__ import annotations

from dataclasses import replace

from facesync.diff import diff
from facesync.livestate import LivePerson, LiveState
from facesync.model import DesiredPerson
from facesync.plan import Action, Plan, Reason
from tests.sync.states import group, live_face, live_group, state, want_face


def changes(plan: Plan) -> list[tuple[Action, Reason, str]]:
    return [(c.action, c.reason, str(c.address)) for c in plan.changes]


def test_a_renamed_key_with_the_same_faces_keeps_the_person_without_a_hint():
    desired = state(group("fam", {"Daughter Smith": [want_face("d1"), want_face("d2")]}))
    live = LiveState(
        (
            live_group(
                "fam", [LivePerson("p1", "Daughter", None, (live_face("d1", "f1"), live_face("d2", "f2")))]
            ),
        )
    )
    plan = diff(desired, live)
    assert changes(plan) == [
        (Action.UPDATE, Reason.RENAMED_ON_SERVICE, 'personGroup.fam/person["Daughter Smith"]')
    ]
    assert plan.changes[0].person_id == "p1"


def test_renamed_from_with_new_faces_is_one_rename_and_the_face_changes_on_that_person():
    wanted = group("fam", {"Daughter Smith": [want_face("d1"), want_face("d3")]})
    person = replace(wanted.persons[0], renamed_from="Daughter")
    desired = state(replace(wanted, persons=(person,)))
    live = LiveState(
        (
            live_group(
                "fam", [LivePerson("p1", "Daughter", None, (live_face("d1", "f1"), live_face("d2", "f2")))]
            ),
        )
    )
    plan = diff(desired, live)
    assert [(a, r) for a, r, _ in changes(plan)] == [
        (Action.UPDATE, Reason.RENAMED),
        (Action.CREATE, Reason.DECLARED),
        (Action.DELETE, Reason.NOT_DECLARED),
        (Action.TRAIN, Reason.CONTENTS_CHANGED),
    ]
    assert {c.person_id for c in plan.changes if c.kind.value == "face"} == {"p1"}


def test_two_live_persons_with_the_same_faces_are_not_guessed_between():
    desired = state(group("fam", {"Son": [want_face("s")]}))
    live = LiveState(
        (
            live_group(
                "fam",
                [
                    LivePerson("p1", "Sonny", None, (live_face("s", "f1"),)),
                    LivePerson("p2", "Junior", None, (live_face("s", "f2"),)),
                ],
            ),
        )
    )
    assert [(a, r) for a, r, _ in changes(diff(desired, live))] == [
        (Action.CREATE, Reason.DECLARED),
        (Action.CREATE, Reason.DECLARED),
        (Action.DELETE, Reason.NOT_DECLARED),
        (Action.DELETE, Reason.NOT_DECLARED),
        (Action.TRAIN, Reason.CONTENTS_CHANGED),
    ]


def test_a_person_without_faces_is_never_paired():
    desired = state(replace(group("fam", {}), persons=(DesiredPerson("Baby"),)))
    live = LiveState((live_group("fam", [LivePerson("p1", "Newborn", None, ())]),))
    assert [(a, r) for a, r, _ in changes(diff(desired, live))] == [
        (Action.CREATE, Reason.DECLARED),
        (Action.DELETE, Reason.NOT_DECLARED),
    ]
