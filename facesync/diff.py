"""Desired × live → the changes that make the service match the configuration (docs/plan-and-apply.md).

- A collection is its id; a declared collection is fully managed.
- A person is its name within the group; of several live persons with one name (twins) the one
  whose faces match best is kept and the rest are deleted.
- A face is its fingerprint; live faces without one are deleted unless the config keeps their id.
  Of several live faces with one fingerprint, the one the local cache already knew with it is kept
  (the others' userData was copied), else the first in the listing — for a person, the order the
  service added its faces in (persistedFaceIds are random, so their order means nothing).

`diff` is a pure function of its arguments: no I/O, no working directory, no clock.
"""

from __future__ import annotations

import logging
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field, replace

from facesync.address import Address, selects
from facesync.config.rules import is_lock_collection
from facesync.directory.diff import diff_directory, diff_dynamic_group, diff_person_faces, member_ids
from facesync.livestate import LiveCollection, LiveFace, LivePerson, LiveState, PlanWarning, TrainingStatus
from facesync.model import (
    DIRECTORY_ID,
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredPerson,
    DesiredState,
)
from facesync.plan import Action, Change, CollectionStats, Plan, Reason

log = logging.getLogger(__name__)

_KIND_ORDER = {k: i for i, k in enumerate(CollectionKind)}


@dataclass
class _Differ:
    pending_training: Collection[tuple[CollectionKind, str]] = ()
    directory: tuple[DesiredCollection | None, LiveCollection | None] = (None, None)
    """The directory, desired and live: a DynamicPersonGroup's members are its persons."""
    changes: list[Change] = field(default_factory=list)
    warnings: list[PlanWarning] = field(default_factory=list)
    stats: list[CollectionStats] = field(default_factory=list)
    person_faces: list[tuple[Address, int]] = field(default_factory=list)
    """Live persons kept in the collection being diffed, with their face counts (face-loss gate)."""
    lost_kept_faces: dict[Address, int] = field(default_factory=dict)
    """Per collection: kept faces the service no longer holds (not there to train on)."""

    def add(self, change: Change) -> None:
        self.changes.append(change)

    # -- collections ----------------------------------------------------------------------------

    def collection(self, desired: DesiredCollection, live: LiveCollection | None) -> None:
        if desired.kind is CollectionKind.PERSON_DIRECTORY:
            self.person_faces = []
            diff_directory(self, desired, live)
            if live is not None:
                self.stats[-1] = replace(self.stats[-1], person_faces=tuple(self.person_faces))
            return
        if desired.kind is CollectionKind.DYNAMIC_PERSON_GROUP:
            ids = member_ids(desired, *self.directory, _best_twin)
            diff_dynamic_group(self, desired, live, ids)
            return
        address = Address(desired.kind, desired.id)
        if live is not None:
            self.stats.append(
                CollectionStats(address, len(live.persons), live.face_count, desired.protect)
            )
        if not desired.present:
            if live is not None:
                self.add(Change(Action.DELETE, address, Reason.ENSURE_ABSENT, "ensure: absent", live=live))
            return
        if live is None:
            self.add(
                Change(Action.CREATE, address, Reason.DECLARED, "declared in the configuration", desired)
            )
            self.train(desired, None, Reason.NEW_COLLECTION if self.contents(desired, None) else None)
            return
        if live.recognition_model != desired.recognition_model:
            self.add(
                Change(
                    Action.REPLACE,
                    address,
                    Reason.RECOGNITION_MODEL_CHANGED,
                    f"recognitionModel {live.recognition_model} → {desired.recognition_model} cannot "
                    f"change in place: the collection is deleted with its {len(live.persons)} persons "
                    f"and {live.face_count} faces, then created again from the configuration",
                    desired,
                    live,
                )
            )
            changed = self.contents(desired, None)
            self.train(desired, None, Reason.REPLACED_COLLECTION if changed else None)
            return
        changed_fields = [
            name
            for name, old, new in (
                ("name", live.name, desired.name),
                ("userData", live.user_data, desired.user_data),
            )
            if (old or None) != (new or None)
        ]
        if changed_fields:
            self.add(
                Change(
                    Action.UPDATE,
                    address,
                    Reason.FIELDS_CHANGED,
                    " and ".join(changed_fields) + " changed",
                    desired,
                    live,
                )
            )
        self.person_faces = []
        changed = self.contents(desired, live)
        stats = self.stats[-1]
        self.stats[-1] = replace(stats, person_faces=tuple(self.person_faces))
        self.train(desired, live, Reason.CONTENTS_CHANGED if changed else None)

    def train(self, desired: DesiredCollection, live: LiveCollection | None, reason: Reason | None) -> None:
        if not desired.kind.trainable:
            return
        # The service fails training without faces (or persons): training it would only fail again.
        # A kept face the service lost is not there to train on.
        address = Address(desired.kind, desired.id)
        wanted = len(desired.faces) + sum(len(p.faces) for p in desired.persons)
        if wanted - self.lost_kept_faces.get(address, 0) <= 0:
            return
        training = live.training if live is not None else None
        explanation = {
            Reason.NEW_COLLECTION: "new collection",
            Reason.REPLACED_COLLECTION: "replaced collection",
            Reason.CONTENTS_CHANGED: "contents changed",
        }.get(reason) if reason is not None else None
        if reason is None and training is not None and training.status is TrainingStatus.NOT_TRAINED:
            reason, explanation = Reason.NEVER_TRAINED, "never trained"
        elif reason is None and training is not None and training.status is TrainingStatus.FAILED:
            reason = Reason.TRAINING_FAILED
            explanation = "last training failed" + (f": {training.message}" if training.message else "")
        if reason is None and (desired.kind, desired.id) in self.pending_training:
            reason = Reason.TRAINING_PENDING
            explanation = "an earlier apply changed it and did not see it trained"
        if reason is None or explanation is None:
            return
        self.add(Change(Action.TRAIN, Address(desired.kind, desired.id), reason, explanation, desired, live))

    def contents(self, desired: DesiredCollection, live: LiveCollection | None) -> bool:
        """Diff persons or faces; True when anything that training depends on changes."""
        before = len(self.changes)
        address = Address(desired.kind, desired.id)
        if desired.kind.has_persons:
            self.persons(desired, live.persons if live is not None else (), address)
        else:
            self.faces(desired.faces, live.faces if live is not None else (), address, None)
        return any(
            not c.kind.is_collection and c.action is not Action.UPDATE and c.appliable
            for c in self.changes[before:]
        )

    # -- persons --------------------------------------------------------------------------------

    def persons(self, desired: DesiredCollection, live: Iterable[LivePerson], address: Address) -> None:
        by_name: dict[str, list[LivePerson]] = defaultdict(list)
        for person in live:
            by_name[person.name].append(person)
        wants = sorted(desired.persons, key=lambda p: p.name)
        found: dict[str, tuple[list[LivePerson], Reason | None]] = {}
        for want in wants:
            candidates = by_name.pop(want.name, [])
            if candidates:
                found[want.name] = (candidates, None)
            elif want.renamed_from is not None and want.renamed_from in by_name:
                found[want.name] = (by_name.pop(want.renamed_from), Reason.RENAMED)
        # Live persons no configured name keeps — alone under a name nobody declares, or a twin
        # that is not kept — each with the name it is a twin under (None: alone). One that holds
        # exactly a missing person's faces is that person.
        loose: list[_Loose] = [(people[0], None) for _, people in sorted(by_name.items()) if len(people) == 1]
        for want in wants:
            named = found[want.name][0] if want.name in found else []
            if len(named) > 1:
                best = _best_twin(want, named)
                loose.extend((twin, want.name) for twin in named if twin is not best)
        for want, (person, twin_of) in _renamed_on_service([w for w in wants if w.name not in found], loose):
            if twin_of is None:
                by_name.pop(person.name)
            else:
                named, how = found[twin_of]
                found[twin_of] = ([p for p in named if p is not person], how)
            found[want.name] = ([person], Reason.RENAMED_ON_SERVICE)
        for want in wants:
            paddr = address.child_person(want.name)
            if want.name not in found:
                self.add(Change(Action.CREATE, paddr, Reason.DECLARED, "declared in the configuration", want))
                self.enrolled_faces(desired, want, (), paddr, None)
                continue
            candidates, renamed = found[want.name]
            keep = _best_twin(want, candidates)
            if len(candidates) > 1:
                log.info(
                    "%s: %d live persons share this name; keeping %s, whose faces match best",
                    paddr,
                    len(candidates),
                    keep.person_id,
                )
            for twin in sorted(candidates, key=lambda p: p.person_id):
                if twin is keep:
                    continue
                self.add(
                    Change(
                        Action.DELETE,
                        address.child_person(twin.name, twin.person_id),
                        Reason.TWIN,
                        f"twin: {len(candidates)} live persons are named {twin.name!r}; keeping "
                        f"{keep.person_id}, whose faces match the configuration best",
                        live=twin,
                    )
                )
            user_data_changed = (keep.user_data or None) != (want.user_data or None)
            if renamed is not None:
                explanation = _rename_explanation(renamed, keep, user_data_changed)
                self.add(Change(Action.UPDATE, paddr, renamed, explanation, want, keep))
            elif user_data_changed:
                self.add(Change(Action.UPDATE, paddr, Reason.FIELDS_CHANGED, "userData changed", want, keep))
            self.person_faces.append((paddr, len(keep.faces)))
            self.enrolled_faces(desired, want, keep.faces, paddr, keep.person_id)
        for name in sorted(by_name):
            twins = len(by_name[name]) > 1
            for gone in sorted(by_name[name], key=lambda p: p.person_id):
                self.add(
                    Change(
                        Action.DELETE,
                        address.child_person(gone.name, gone.person_id if twins else None),
                        Reason.NOT_DECLARED,
                        "not in the configuration",
                        live=gone,
                    )
                )

    def enrolled_faces(
        self,
        desired: DesiredCollection,
        want: DesiredPerson,
        live: Iterable[LiveFace],
        address: Address,
        person_id: str | None,
    ) -> None:
        """One person's faces: as listed in a group, model by model in the directory."""
        if desired.kind is CollectionKind.PERSON_DIRECTORY:
            diff_person_faces(self, desired, want, live, address, person_id)
        else:
            self.faces(want.faces, live, address, person_id)

    # -- faces ----------------------------------------------------------------------------------

    def faces(
        self,
        wanted: Iterable[DesiredFace],
        live: Iterable[LiveFace],
        owner: Address,
        person_id: str | None,
    ) -> None:
        by_fingerprint: dict[str, list[LiveFace]] = defaultdict(list)
        by_id: dict[str, LiveFace] = {}
        listed = list(live)
        rank = {f.persisted_face_id: (not f.known, i) for i, f in enumerate(listed)}
        for face in sorted(listed, key=lambda f: rank[f.persisted_face_id]):
            by_id[face.persisted_face_id] = face
            if face.fingerprint is not None:
                by_fingerprint[face.fingerprint].append(face)
        wanted = list(wanted)
        # A face the configuration keeps by its id is that face, whatever its fingerprint: it is
        # never also the match of an image entry (an import writes a duplicate once each way).
        by_config_id = {
            w.persisted_face_id
            for w in wanted
            if w.fingerprint is None and w.persisted_face_id is not None and w.persisted_face_id in by_id
        }
        matched = set(by_config_id)
        seen: set[str] = set()
        for want in wanted:
            if want.key in seen:
                continue
            seen.add(want.key)
            if want.fingerprint is None:
                kept = by_id.get(want.persisted_face_id or "")
                if kept is None:
                    self.lost_kept_faces[owner.collection] = self.lost_kept_faces.get(owner.collection, 0) + 1
                    self.add(
                        Change(
                            Action.CREATE,
                            owner.child_face(want.key),
                            Reason.KEPT_FACE_MISSING,
                            f"kept face {want.persisted_face_id} is not on the service, and a face "
                            "cannot be re-created from its persistedFaceId",
                            want,
                            owner_id=person_id,
                        )
                    )
                else:
                    matched.add(kept.persisted_face_id)
                continue
            address = owner.child_face(want.fingerprint)
            present = [
                f for f in by_fingerprint.get(want.fingerprint, []) if f.persisted_face_id not in matched
            ]
            if not present:
                self.add(
                    Change(
                        Action.CREATE,
                        address,
                        Reason.DECLARED,
                        "declared in the configuration",
                        want,
                        owner_id=person_id,
                    )
                )
                continue
            keep = present[0]
            matched.add(keep.persisted_face_id)
            copies = sum(
                1
                for f in by_fingerprint[want.fingerprint]
                if f is not keep and f.persisted_face_id not in by_config_id
            )
            if copies:
                why = "the local cache knew it with this fingerprint" if keep.known else "it was added first"
                self.warnings.append(
                    PlanWarning(
                        "copied_fingerprint",
                        f"{address}: {copies + 1} live faces carry this fingerprint (its userData was "
                        f"copied onto another face, or it was added twice); keeping "
                        f"{keep.persisted_face_id} ({why})",
                        str(address),
                    )
                )
            if (keep.note or None) != (want.user_data or None):
                # FaceList faces have no update call: a new note means delete and add again.
                in_place = owner.collection_kind is not CollectionKind.FACE_LIST
                self.add(
                    Change(
                        Action.UPDATE if in_place else Action.REPLACE,
                        address,
                        Reason.NOTE_CHANGED,
                        "note changed" + ("" if in_place else "; FaceList faces cannot be updated in place"),
                        want,
                        keep,
                        owner_id=person_id,
                    )
                )
        for face in sorted(by_id.values(), key=lambda f: f.persisted_face_id):
            if face.persisted_face_id in matched:
                continue
            if face.fingerprint is None:
                reason = Reason.NO_FINGERPRINT
                explanation = (
                    "no facesync fingerprint in its userData, and the configuration does not keep its id"
                )
                address = owner.child_face(face.persisted_face_id)
            elif face.fingerprint in seen:
                reason, explanation = Reason.DUPLICATE_FACE, "duplicate of a face that is kept"
                address = owner.child_face(face.fingerprint, face.persisted_face_id)
            else:
                reason, explanation = Reason.NOT_DECLARED, "not in the configuration"
                twins = len(by_fingerprint[face.fingerprint]) > 1
                address = owner.child_face(face.fingerprint, face.persisted_face_id if twins else None)
            self.add(Change(Action.DELETE, address, reason, explanation, live=face, owner_id=person_id))


_ALWAYS_TRAIN = frozenset({Reason.NEVER_TRAINED, Reason.TRAINING_FAILED, Reason.TRAINING_PENDING})


def _within(changes: list[Change], targets: list[Address]) -> list[Change]:
    """A collection's changes narrowed to persons or faces, with what they depend on: the
    collection's create (or replace) when it must exist first, and its training when what is kept
    changes what training learns."""
    kept = [c for c in changes if not c.kind.is_collection and any(t.contains(c.address) for t in targets)]
    retrains = any(c.action is not Action.UPDATE and c.appliable for c in kept)
    head = [c for c in changes if c.kind.is_collection and c.action in (Action.CREATE, Action.REPLACE)]
    train = [
        c
        for c in changes
        if c.action is Action.TRAIN and (c.reason in _ALWAYS_TRAIN or (retrains and kept))
    ]
    return [*(head if kept else []), *kept, *train]


def _rename_explanation(reason: Reason, keep: LivePerson, user_data_changed: bool) -> str:
    kept = f"personId {keep.person_id} and its {len(keep.faces)} face(s) are kept"
    also = "; userData changed too" if user_data_changed else ""
    if reason is Reason.RENAMED:
        return f"renamedFrom {keep.name!r}: renamed in place, {kept}{also}"
    return (
        f"named {keep.name!r} on the service, where it holds exactly these faces: "
        f"renamed in place, {kept}{also}"
    )


def _carries_exactly(want: DesiredPerson, live: LivePerson) -> bool:
    """Whether a live person holds exactly the configured person's faces: each live face is one
    the configuration names (by fingerprint, or kept by id), and each configured face is there."""
    fingerprints = {f.fingerprint for f in want.faces if f.fingerprint is not None}
    kept_ids = {f.persisted_face_id for f in want.faces if f.fingerprint is None}
    held_fingerprints: set[str] = set()
    held_ids: set[str] = set()
    for face in live.faces:
        if face.persisted_face_id in kept_ids:
            held_ids.add(face.persisted_face_id)
        elif face.fingerprint in fingerprints:
            held_fingerprints.add(face.fingerprint)
        else:
            return False
    return held_fingerprints == fingerprints and held_ids == kept_ids


_Loose = tuple[LivePerson, str | None]
"""A live person no configured name keeps, and the name it is a twin under (None: alone)."""


def _renamed_on_service(
    unmatched: list[DesiredPerson], loose: list[_Loose]
) -> list[tuple[DesiredPerson, _Loose]]:
    """Configured persons missing by name, each paired with the one loose live person that carries
    exactly its faces — a rename done by hand (or a twin, which `import --rename-twins` writes under
    a name of its own). A person without faces, or one whose faces two candidates (or two
    configured persons) match alike, is not paired."""
    # Indexed by every face key a loose person holds: a plan of 10,000 new names beside 10,000
    # loose persons compares each with the few that share a face, not with all of them.
    holders: dict[str, dict[str, _Loose]] = defaultdict(dict)
    for entry in loose:
        for face in entry[0].faces:
            for key in (face.persisted_face_id, face.fingerprint):
                if key is not None:
                    holders[key][entry[0].person_id] = entry
    pairs: dict[str, list[tuple[DesiredPerson, _Loose]]] = defaultdict(list)
    for want in unmatched:
        if not want.faces:
            continue
        for entry in holders.get(want.faces[0].key, {}).values():
            if _carries_exactly(want, entry[0]):
                pairs[entry[0].person_id].append((want, entry))
    chosen = [matches[0] for matches in pairs.values() if len(matches) == 1]
    claims = Counter(w.name for w, _ in chosen)
    return [(w, entry) for w, entry in chosen if claims[w.name] == 1]


def _best_twin(want: DesiredPerson, candidates: list[LivePerson]) -> LivePerson:
    """The live person whose faces match the configuration best; ties go to the lowest id."""
    wanted = {f.key for f in want.faces}

    def score(p: LivePerson) -> tuple[int, int, str]:
        matches = sum(1 for f in p.faces if (f.fingerprint or f.persisted_face_id) in wanted)
        extras = len(p.faces) - matches
        return (-matches, extras, p.person_id)

    return min(candidates, key=score)


def diff(
    desired: DesiredState,
    live: LiveState,
    *,
    targets: Collection[Address] = (),
    pending_training: Collection[tuple[CollectionKind, str]] = (),
) -> Plan:
    """`targets`: collection, person or face addresses to plan (none: everything).
    `pending_training`: collections an interrupted apply wrote to but never saw trained."""
    directory = (
        desired.collection(CollectionKind.PERSON_DIRECTORY, DIRECTORY_ID),
        live.collection(CollectionKind.PERSON_DIRECTORY, DIRECTORY_ID),
    )
    differ = _Differ(pending_training=pending_training, directory=directory)
    for want in sorted(desired.collections, key=lambda c: (_KIND_ORDER[c.kind], c.id)):
        if not selects(targets, want.kind, want.id):
            continue
        if is_lock_collection(want.kind, want.id):
            reserved = Address(want.kind, want.id)
            differ.warnings.append(
                PlanWarning(
                    "reserved_id",
                    f"{reserved}: this id is reserved for facesync's apply lock; ignored",
                    str(reserved),
                )
            )
            continue
        before = len(differ.changes)
        differ.collection(want, live.collection(want.kind, want.id))
        inside = [t for t in targets if t.collection == Address(want.kind, want.id)]
        if inside and all(t.person is not None for t in inside):
            differ.changes[before:] = _within(differ.changes[before:], inside)
    pruning = desired.prune and not targets
    if pruning:
        # The directory is never pruned: it is one per resource, and undeclared it is only reported.
        for other in (o for o in live.others if not o.kind.singleton):
            differ.add(
                Change(
                    Action.DELETE,
                    Address(other.kind, other.id),
                    Reason.PRUNED,
                    "pruned: not declared in the configuration (prune: true)",
                    live=other,
                )
            )
    return Plan(
        changes=tuple(differ.changes),
        unmanaged=() if pruning else live.others,
        warnings=(*live.warnings, *differ.warnings),
        stats=tuple(differ.stats),
    )

