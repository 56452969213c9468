"""The directory and its groups, desired × live → changes (called by `facesync.diff`).

- A directory person is its name, as in a person group (twins: the one whose faces match best
  is kept). Its faces are enrolled once per model in `recognitionModels`: a face is its
  fingerprint *in one model*, addressed `…/model[recognition_04]/face[fs1:…]`.
- A model newly listed is enrolled beside the others (`model_added`); a model no longer listed
  has its faces deleted (`model_removed`), gated like any delete. Apply adds before it deletes.
- A kept face (`persistedFaceId:`) is matched in whichever model holds it.
- A DynamicPersonGroup is its id. Its members are names in the configuration and personIds on
  the service: each name stands for the directory person the directory's own diff keeps.

Pure functions: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Protocol

from facesync.address import Address
from facesync.livestate import LiveCollection, LiveFace, LivePerson
from facesync.model import RECOGNITION_MODELS, DesiredCollection, DesiredFace, DesiredMember, DesiredPerson
from facesync.plan import Action, Change, CollectionStats, Reason

MODELS_KEY = "personDirectory.recognitionModels"

TwinChooser = Callable[[DesiredPerson, list[LivePerson]], LivePerson]


class Differ(Protocol):
    """What the core's differ offers a room: its changes and stats, and its person and face rules."""

    changes: list[Change]
    stats: list[CollectionStats]

    def add(self, change: Change) -> None: ...

    def persons(self, desired: DesiredCollection, live: Iterable[LivePerson], address: Address) -> None: ...

    def faces(
        self, wanted: Iterable[DesiredFace], live: Iterable[LiveFace], owner: Address, person_id: str | None
    ) -> None: ...


def diff_directory(differ: Differ, desired: DesiredCollection, live: LiveCollection | None) -> None:
    """The directory always exists: only its persons and faces change."""
    address = Address.directory()
    if live is not None:
        differ.stats.append(CollectionStats(address, len(live.persons), live.face_count, desired.protect))
    differ.persons(desired, live.persons if live is not None else (), address)


def diff_person_faces(
    differ: Differ,
    directory: DesiredCollection,
    want: DesiredPerson,
    live_faces: Iterable[LiveFace],
    person: Address,
    person_id: str | None,
) -> None:
    """One directory person's faces, model by model: every enrolled model holds every face."""
    enrolled = directory.recognition_models
    by_model: dict[str, list[LiveFace]] = defaultdict(list)
    for face in live_faces:
        by_model[face.recognition_model or ""].append(face)
    home = {f.persisted_face_id: model for model, faces in by_model.items() for f in faces}
    models = sorted({*enrolled, *by_model}, key=_model_order)
    for model in models:
        wanted = [
            w
            for w in want.faces
            if (w.fingerprint is not None and model in enrolled)
            or (w.fingerprint is None and home.get(w.persisted_face_id or "", enrolled[0]) == model)
        ]
        before = len(differ.changes)
        differ.faces(wanted, by_model.get(model, ()), person.child_model(model), person_id)
        new_model = model in enrolled and not by_model.get(model) and any(by_model.values())
        differ.changes[before:] = [
            _model_reason(c, model, enrolled, new_model) for c in differ.changes[before:]
        ]


def _model_order(model: str) -> int:
    return RECOGNITION_MODELS.index(model) if model in RECOGNITION_MODELS else len(RECOGNITION_MODELS)


def _model_reason(change: Change, model: str, enrolled: tuple[str, ...], new_model: bool) -> Change:
    """Say when a face is added or deleted because of the model list, not of the face list."""
    others = ", ".join(m for m in enrolled if m != model)
    if change.action is Action.CREATE and new_model:
        return dataclasses.replace(
            change,
            reason=Reason.MODEL_ADDED,
            explanation=f"{model} is enrolled ({MODELS_KEY}) beside the faces of the other models, "
            "which keep answering",
        )
    if change.action is Action.DELETE and change.reason is Reason.NOT_DECLARED and model not in enrolled:
        return dataclasses.replace(
            change,
            reason=Reason.MODEL_REMOVED,
            explanation=f"{model} is no longer in {MODELS_KEY}: deleted once the faces of "
            f"{others or 'the listed models'} are added",
        )
    return change


def diff_dynamic_group(
    differ: Differ,
    desired: DesiredCollection,
    live: LiveCollection | None,
    ids: dict[str, str],
) -> None:
    """`ids`: member name → personId (see `member_ids`)."""
    address = Address(desired.kind, desired.id)
    if live is not None:
        # References only: deleting the group loses no person or face, so only `protect` guards it.
        differ.stats.append(CollectionStats(address, 0, 0, desired.protect))
    if not desired.present:
        if live is not None:
            differ.add(Change(Action.DELETE, address, Reason.ENSURE_ABSENT, "ensure: absent", live=live))
        return
    if live is None:
        differ.add(Change(Action.CREATE, address, Reason.DECLARED, "declared in the configuration", desired))
        for member in sorted(desired.members, key=lambda m: m.name):
            differ.add(_add_member(address, member.name, member, ids.get(member.name)))
        return
    changed = [
        name
        for name, old, new in (
            ("name", live.name, desired.name),
            ("userData", live.user_data, desired.user_data),
        )
        if (old or None) != (new or None)
    ]
    if changed:
        differ.add(
            Change(
                Action.UPDATE,
                address,
                Reason.FIELDS_CHANGED,
                " and ".join(changed) + " changed",
                desired,
                live,
            )
        )
    present = {m.person_id for m in live.members}
    for member in sorted(desired.members, key=lambda m: m.name):
        person_id = ids.get(member.name)
        if person_id is None or person_id not in present:
            differ.add(_add_member(address, member.name, member, person_id))
    wanted = {ids[m.name] for m in desired.members if m.name in ids}
    names: dict[str, int] = defaultdict(int)
    for m in live.members:
        names[m.name or m.person_id] += 1
    for gone in sorted(live.members, key=lambda m: (m.name or "", m.person_id)):
        if gone.person_id in wanted:
            continue
        name = gone.name or gone.person_id
        explanation = (
            "not in members"
            if gone.name is not None
            else (f"not in members, and personId {gone.person_id} is no directory person")
        )
        differ.add(
            Change(
                Action.DELETE,
                address.child_person(name, gone.person_id if names[name] > 1 else None),
                Reason.NOT_DECLARED,
                explanation,
                live=gone,
            )
        )


def _add_member(address: Address, name: str, member: DesiredMember, person_id: str | None) -> Change:
    why = "listed in members" + ("" if person_id is not None else " (the person is created first)")
    return Change(Action.CREATE, address.child_person(name), Reason.DECLARED, why, member, owner_id=person_id)


def member_ids(
    group: DesiredCollection,
    directory: DesiredCollection | None,
    live_directory: LiveCollection | None,
    best_twin: TwinChooser,
) -> dict[str, str]:
    """Member name → the personId of the directory person of that name the directory's diff keeps
    (`best_twin` picks it among twins, as for persons); names without a live person are left out."""
    if live_directory is None:
        return {}
    by_name: dict[str, list[LivePerson]] = defaultdict(list)
    for person in live_directory.persons:
        by_name[person.name].append(person)
    wanted = {p.name: p for p in directory.persons} if directory is not None else {}
    ids: dict[str, str] = {}
    for member in group.members:
        candidates = by_name.get(member.name)
        if candidates:
            want = wanted.get(member.name, DesiredPerson(member.name))
            ids[member.name] = best_twin(want, candidates).person_id
    return ids
