"""Desired × live → changes, one rule at a time, on hand-built states."""

from __future__ import annotations

from facesync.address import Address
from facesync.diff import diff
from facesync.livestate import (
    LiveCollection,
    LiveFace,
    LivePerson,
    LiveState,
    LiveSummary,
    LiveTraining,
    TrainingStatus,
)
from facesync.model import DesiredCollection, DesiredFace
from facesync.plan import Action, Reason, SafetyPolicy, safety_refusals
from tests.sync.states import FL, LFL, LPG, PG, TRAINED, fp, group, live_face, live_group, state, want_face


def actions(plan) -> list[tuple[str, str]]:
    return [(c.action.value, str(c.address)) for c in plan.changes]


def test_matching_states_plan_nothing():
    desired = state(group("staff", {"Alice": [want_face("a1"), want_face("a2")]}))
    live = LiveState(
        (
            live_group(
                "staff", [LivePerson("p1", "Alice", None, (live_face("a1", "f1"), live_face("a2", "f2")))]
            ),
        )
    )
    assert diff(desired, live).empty


def test_missing_collection_is_created_with_contents_and_trained():
    plan = diff(state(group("staff", {"Alice": [want_face("a1")]})), LiveState())
    assert actions(plan) == [
        ("create", "personGroup.staff"),
        ("create", 'personGroup.staff/person["Alice"]'),
        ("create", f'personGroup.staff/person["Alice"]/face[{fp("a1")}]'),
        ("train", "personGroup.staff"),
    ]


def test_collection_without_faces_is_not_trained_because_training_would_fail():
    plan = diff(state(group("staff", {"Alice": []})), LiveState())
    assert [c.action for c in plan.changes] == [Action.CREATE, Action.CREATE]


def test_recognition_model_change_replaces_and_says_what_is_lost():
    desired = state(group("staff", {"Alice": [want_face("a1")]}, recognition_model="recognition_04"))
    live = LiveState(
        (
            live_group(
                "staff",
                [LivePerson("p1", "Alice", None, (live_face("a1", "f1"),))],
                recognition_model="recognition_01",
            ),
        )
    )
    plan = diff(desired, live)
    assert plan.changes[0].action is Action.REPLACE
    assert "recognition_01 → recognition_04" in plan.changes[0].explanation
    assert "1 persons and 1 faces" in plan.changes[0].explanation
    assert [c.action for c in plan.changes[1:]] == [Action.CREATE, Action.CREATE, Action.TRAIN]


def test_name_and_user_data_updates_do_not_retrain():
    desired = state(group("staff", {"Alice": [want_face("a1")]}, name="Staff", user_data="new"))
    live = LiveState(
        (live_group("staff", [LivePerson("p1", "Alice", "old", (live_face("a1", "f1"),))], name="Old"),)
    )
    plan = diff(desired, live)
    assert actions(plan) == [("update", "personGroup.staff"), ("update", 'personGroup.staff/person["Alice"]')]
    assert plan.changes[0].explanation == "name and userData changed"


def test_twins_keep_the_person_whose_faces_match_best():
    desired = state(group("staff", {"Alice": [want_face("a1"), want_face("a2")]}))
    twin_empty = LivePerson("p0", "Alice", None, ())
    real = LivePerson("p9", "Alice", None, (live_face("a1", "f1"), live_face("a2", "f2")))
    plan = diff(desired, LiveState((live_group("staff", [twin_empty, real]),)))
    assert actions(plan) == [
        ("delete", 'personGroup.staff/person["Alice"](p0)'),
        ("train", "personGroup.staff"),
    ]
    assert "twin" in plan.changes[0].explanation and "p9" in plan.changes[0].explanation


def test_faces_are_matched_by_fingerprint_and_unknown_ones_deleted():
    desired = state(group("staff", {"Alice": [want_face("a1"), want_face("new")]}))
    stranger = LiveFace("f-hand", "added in the portal", None, "added in the portal")
    alice = LivePerson("p1", "Alice", None, (live_face("a1", "f1"), live_face("gone", "f2"), stranger))
    plan = diff(desired, LiveState((live_group("staff", [alice]),)))
    assert sorted(actions(plan)) == sorted(
        [
            ("create", f'personGroup.staff/person["Alice"]/face[{fp("new")}]'),
            ("delete", f'personGroup.staff/person["Alice"]/face[{fp("gone")}]'),
            ("delete", 'personGroup.staff/person["Alice"]/face[f-hand]'),
            ("train", "personGroup.staff"),
        ]
    )
    reasons = {str(c.address): c.explanation for c in plan.changes}
    assert "no facesync fingerprint" in reasons['personGroup.staff/person["Alice"]/face[f-hand]']


def test_a_kept_persisted_face_id_is_not_deleted():
    kept = DesiredFace(fingerprint=None, persisted_face_id="f-hand")
    desired = state(group("staff", {"Alice": [want_face("a1"), kept]}))
    alice = LivePerson("p1", "Alice", None, (live_face("a1", "f1"), LiveFace("f-hand", None, None)))
    assert diff(desired, LiveState((live_group("staff", [alice]),))).empty


def test_a_kept_persisted_face_id_that_is_gone_is_a_change_no_apply_can_make():
    kept = DesiredFace(fingerprint=None, persisted_face_id="f-missing")
    desired = state(group("staff", {"Alice": [want_face("a1"), kept]}))
    alice = LivePerson("p1", "Alice", None, (live_face("a1", "f1"),))
    plan = diff(desired, LiveState((live_group("staff", [alice]),)))
    # Only the lost face: nothing to train on changes while the face cannot come back.
    assert actions(plan) == [("create", 'personGroup.staff/person["Alice"]/face[f-missing]')]
    (change,) = plan.changes
    assert change.reason is Reason.KEPT_FACE_MISSING and not change.appliable
    assert plan.blockers == (change,) and not plan.warnings


def test_duplicate_faces_with_one_fingerprint_keep_one():
    desired = state(group("staff", {"Alice": [want_face("a1")]}))
    alice = LivePerson("p1", "Alice", None, (live_face("a1", "f1"), live_face("a1", "f2")))
    plan = diff(desired, LiveState((live_group("staff", [alice]),)))
    assert actions(plan) == [
        ("delete", f'personGroup.staff/person["Alice"]/face[{fp("a1")}](f2)'),
        ("train", "personGroup.staff"),
    ]


def test_note_change_updates_a_face_but_replaces_a_face_list_face():
    lfl = DesiredCollection(
        LFL, "lfl", "L", recognition_model="recognition_04", faces=(want_face("x", note="new"),)
    )
    fl = DesiredCollection(
        FL, "fl", "F", recognition_model="recognition_04", faces=(want_face("x", note="new"),)
    )
    live = LiveState(
        (
            LiveCollection(
                LFL,
                "lfl",
                "L",
                recognition_model="recognition_04",
                faces=(live_face("x", "f1", "old"),),
                training=TRAINED,
            ),
            LiveCollection(
                FL, "fl", "F", recognition_model="recognition_04", faces=(live_face("x", "f2", "old"),)
            ),
        )
    )
    plan = diff(state(fl, lfl), live)
    assert [(c.action, c.kind, c.address.collection_id) for c in plan.changes] == [
        (Action.REPLACE, "face", "fl"),
        (Action.UPDATE, "face", "lfl"),
    ]


def test_untrained_failed_and_pending_collections_are_trained():
    desired = state(
        group("a", {"A": [want_face("a")]}),
        group("b", {"B": [want_face("b")]}),
        group("c", {"C": [want_face("c")]}, kind=LPG),
    )
    live = LiveState(
        (
            live_group(
                "a",
                [LivePerson("p", "A", None, (live_face("a", "f"),))],
                training=LiveTraining(TrainingStatus.NOT_TRAINED),
            ),
            live_group(
                "b",
                [LivePerson("p", "B", None, (live_face("b", "f"),))],
                training=LiveTraining(TrainingStatus.FAILED, "boom"),
            ),
            live_group("c", [LivePerson("p", "C", None, (live_face("c", "f"),))], kind=LPG),
        )
    )
    plan = diff(desired, live, pending_training=[(LPG, "c")])
    assert [(c.action, str(c.address), c.explanation) for c in plan.changes] == [
        (Action.TRAIN, "personGroup.a", "never trained"),
        (Action.TRAIN, "personGroup.b", "last training failed: boom"),
        (Action.TRAIN, "largePersonGroup.c", "an earlier apply changed it and did not see it trained"),
    ]


def test_unmanaged_collections_are_reported_and_pruned_only_when_asked():
    live = LiveState((), others=(LiveSummary(PG, "legacy", "Legacy"),))
    plain = diff(state(), live)
    assert plain.empty and [u.id for u in plain.unmanaged] == ["legacy"]
    pruned = diff(state(prune=True), live)
    assert actions(pruned) == [("delete", "personGroup.legacy")]
    assert [r.message for r in safety_refusals(pruned, SafetyPolicy())] == [
        "personGroup.legacy would be pruned: pruning deletes unmanaged collections"
    ]


def test_targets_limit_the_plan():
    desired = state(group("a", {"A": [want_face("a")]}), group("b", {"B": [want_face("b")]}))
    plan = diff(desired, LiveState(), targets={Address(PG, "b")})
    assert {c.address.collection_id for c in plan.changes} == {"b"}


def test_protected_collection_is_not_deleted_or_replaced_without_force():
    desired = state(group("staff", {}, ensure="absent", protect=True))
    plan = diff(desired, LiveState((live_group("staff", []),)))
    assert actions(plan) == [("delete", "personGroup.staff")]
    assert [r.message for r in safety_refusals(plan, SafetyPolicy())] == [
        "personGroup.staff is protected (protect: true): refusing to delete it"
    ]


def test_deleting_over_the_threshold_needs_force_but_small_collections_never_trip():
    big = [LivePerson(f"p{i}", f"P{i}", None, (live_face(f"x{i}", f"f{i}"),)) for i in range(10)]
    keep = {f"P{i}": [want_face(f"x{i}")] for i in range(6)}
    plan = diff(state(group("g", keep)), LiveState((live_group("g", big),)))
    assert [r.message for r in safety_refusals(plan, SafetyPolicy())] == [
        "personGroup.g: deleting 4 of 10 persons (40%) is over the 30% threshold",
        "personGroup.g: deleting 4 of 10 faces (40%) is over the 30% threshold",
    ]
    assert safety_refusals(plan, SafetyPolicy(delete_threshold=0.5)) == []
    small = diff(state(group("g", {})), LiveState((live_group("g", big[:9]),)))
    assert len(small.changes) == 9 and safety_refusals(small, SafetyPolicy()) == []


def test_checksum_ignores_local_paths_but_not_content():
    live = LiveState()
    a = diff(state(group("g", {"A": [want_face("a")]})), live)
    moved = DesiredFace(fingerprint=fp("a"), image_path="/elsewhere/a.jpg", detection_model="detection_03")
    b = diff(state(group("g", {"A": [moved]})), live)
    c = diff(state(group("g", {"A": [want_face("other")]})), live)
    assert a.checksum == b.checksum != c.checksum
