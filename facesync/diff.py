"""Desired × live → the changes that make the service match the configuration (DESIGN.md §3).

- A collection is its id; a declared collection is fully managed.
- A person is its name within the group; of several live persons with one name (twins) the one
  whose faces match best is kept and the rest are deleted.
- A face is its fingerprint; live faces without one are deleted unless the config keeps their id.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from typing import Any

from facesync.model import (
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredPerson,
    DesiredState,
    LiveCollection,
    LiveFace,
    LivePerson,
    LiveState,
    TrainingStatus,
)
from facesync.plan import Action, Change, CollectionStats, Plan

_KIND_ORDER = {k: i for i, k in enumerate(CollectionKind)}


def collection_address(kind: CollectionKind, collection_id: str) -> str:
    return f"{kind.value}.{collection_id}"


def person_address(collection: str, name: str, person_id: str | None = None) -> str:
    base = f"{collection}/person[{json.dumps(name, ensure_ascii=False)}]"
    return f"{base}({person_id})" if person_id else base


def face_address(owner: str, key: str, persisted_face_id: str | None = None) -> str:
    return f"{owner}/face[{key}]" + (f"({persisted_face_id})" if persisted_face_id else "")


def _display_path(path: str) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


def _face_after(face: DesiredFace) -> dict[str, Any]:
    after: dict[str, Any] = {"fingerprint": face.fingerprint}
    if face.image_path:
        after["image"] = _display_path(face.image_path)
    if face.url:
        after["url"] = face.url
    if face.target_face:
        after["targetFace"] = list(face.target_face)
    after["detectionModel"] = face.detection_model
    if face.user_data:
        after["note"] = face.user_data
    return after


def _face_before(face: LiveFace) -> dict[str, Any]:
    before: dict[str, Any] = {"persistedFaceId": face.persisted_face_id, "fingerprint": face.fingerprint}
    if face.note:
        before["note"] = face.note
    return before


def _collection_fields(name: str | None, user_data: str | None, model: str) -> dict[str, Any]:
    return {"name": name, "userData": user_data, "recognitionModel": model}


@dataclass
class _Differ:
    pending_training: Collection[tuple[CollectionKind, str]] = ()
    changes: list[Change] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    stats: list[CollectionStats] = field(default_factory=list)

    def add(self, action: Action, kind: str, address: str, reason: str, **kw: Any) -> None:
        self.changes.append(
            Change(
                action=action,
                kind=kind,
                address=address,
                reason=reason,
                before=kw.pop("before", None),
                after=kw.pop("after", None),
                **kw,
            )
        )

    # -- collections ----------------------------------------------------------------------------

    def collection(self, desired: DesiredCollection, live: LiveCollection | None) -> None:
        kind, cid = desired.kind, desired.id
        address = collection_address(kind, cid)
        ref = {"collection_kind": kind, "collection_id": cid}
        if live is not None:
            self.stats.append(CollectionStats(address, len(live.persons), _face_count(live), desired.protect))
        if not desired.present:
            if live is not None:
                self.add(
                    Action.DELETE,
                    kind.value,
                    address,
                    "ensure: absent",
                    before=_live_collection_before(live),
                    **ref,
                )
            return
        after = _collection_fields(desired.name, desired.user_data, desired.recognition_model)
        if live is None:
            self.add(Action.CREATE, kind.value, address, "declared in the configuration", after=after, **ref)
            changed = self.contents(desired, None)
            self.train(desired, None, "new collection" if changed else None)
            return
        if live.recognition_model != desired.recognition_model:
            self.add(
                Action.REPLACE,
                kind.value,
                address,
                f"recognitionModel {live.recognition_model} → {desired.recognition_model} cannot change "
                f"in place: the collection is deleted with its {len(live.persons)} persons and "
                f"{_face_count(live)} faces, then created again from the configuration",
                before=_live_collection_before(live),
                after=after,
                **ref,
            )
            changed = self.contents(desired, None)
            self.train(desired, None, "replaced collection" if changed else None)
            return
        if (live.name, live.user_data or None) != (desired.name, desired.user_data or None):
            self.add(
                Action.UPDATE,
                kind.value,
                address,
                _changed_fields({"name": live.name, "userData": live.user_data}, after),
                before=_collection_fields(live.name, live.user_data, live.recognition_model),
                after=after,
                **ref,
            )
        changed = self.contents(desired, live)
        self.train(desired, live, "contents changed" if changed else None)

    def train(self, desired: DesiredCollection, live: LiveCollection | None, reason: str | None) -> None:
        if not desired.kind.trainable:
            return
        # The service fails training without faces (or persons): training it would only fail again.
        if not (any(p.faces for p in desired.persons) if desired.kind.has_persons else desired.faces):
            return
        status = live.training.status if live is not None and live.training is not None else None
        if reason is None and status is TrainingStatus.NOT_TRAINED:
            reason = "never trained"
        elif reason is None and status is TrainingStatus.FAILED:
            message = live.training.message if live is not None and live.training else None
            reason = "last training failed" + (f": {message}" if message else "")
        if reason is None and (desired.kind, desired.id) in self.pending_training:
            reason = "an earlier apply changed it and did not see it trained"
        if reason is None:
            return
        self.add(
            Action.TRAIN,
            desired.kind.value,
            collection_address(desired.kind, desired.id),
            reason,
            before={"status": status.value} if status is not None else None,
            after={"status": TrainingStatus.SUCCEEDED.value},
            collection_kind=desired.kind,
            collection_id=desired.id,
        )

    def contents(self, desired: DesiredCollection, live: LiveCollection | None) -> bool:
        """Diff persons or faces; True when anything that training depends on changes."""
        before = len(self.changes)
        address = collection_address(desired.kind, desired.id)
        if desired.kind.has_persons:
            self.persons(desired, live.persons if live is not None else (), address)
        else:
            self.faces(desired, None, desired.faces, live.faces if live is not None else (), address)
        return any(
            c.kind in ("person", "face") and c.action is not Action.UPDATE for c in self.changes[before:]
        )

    # -- persons --------------------------------------------------------------------------------

    def persons(self, desired: DesiredCollection, live: Iterable[LivePerson], address: str) -> None:
        by_name: dict[str, list[LivePerson]] = defaultdict(list)
        for person in live:
            by_name[person.name].append(person)
        ref = {"collection_kind": desired.kind, "collection_id": desired.id}
        for want in sorted(desired.persons, key=lambda p: p.name):
            paddr = person_address(address, want.name)
            candidates = by_name.pop(want.name, [])
            if not candidates:
                self.add(
                    Action.CREATE,
                    "person",
                    paddr,
                    "declared in the configuration",
                    after={"name": want.name, "userData": want.user_data},
                    person_name=want.name,
                    **ref,
                )
                self.faces(desired, want, want.faces, (), paddr)
                continue
            keep = _best_twin(want, candidates)
            for twin in sorted(candidates, key=lambda p: p.person_id):
                if twin is keep:
                    continue
                self.add(
                    Action.DELETE,
                    "person",
                    person_address(address, twin.name, twin.person_id),
                    f"twin: {len(candidates)} live persons are named {want.name!r}; keeping "
                    f"{keep.person_id}, whose faces match the configuration best",
                    before=_live_person_before(twin),
                    person_name=twin.name,
                    person_id=twin.person_id,
                    **ref,
                )
            if (keep.user_data or None) != (want.user_data or None):
                self.add(
                    Action.UPDATE,
                    "person",
                    paddr,
                    "userData changed",
                    before=_live_person_before(keep),
                    after={"name": want.name, "userData": want.user_data},
                    person_name=want.name,
                    person_id=keep.person_id,
                    **ref,
                )
            self.faces(desired, want, want.faces, keep.faces, paddr, person_id=keep.person_id)
        for name in sorted(by_name):
            for gone in sorted(by_name[name], key=lambda p: p.person_id):
                twins = len(by_name[name]) > 1
                self.add(
                    Action.DELETE,
                    "person",
                    person_address(address, gone.name, gone.person_id if twins else None),
                    "not in the configuration",
                    before=_live_person_before(gone),
                    person_name=gone.name,
                    person_id=gone.person_id,
                    **ref,
                )

    # -- faces ----------------------------------------------------------------------------------

    def faces(
        self,
        collection: DesiredCollection,
        person: DesiredPerson | None,
        wanted: Iterable[DesiredFace],
        live: Iterable[LiveFace],
        owner: str,
        person_id: str | None = None,
    ) -> None:
        kind = collection.kind
        ref: dict[str, Any] = {
            "collection_kind": kind,
            "collection_id": collection.id,
            "person_name": person.name if person is not None else None,
            "person_id": person_id,
        }
        by_fingerprint: dict[str, list[LiveFace]] = defaultdict(list)
        by_id: dict[str, LiveFace] = {}
        for face in sorted(live, key=lambda f: f.persisted_face_id):
            by_id[face.persisted_face_id] = face
            if face.fingerprint is not None:
                by_fingerprint[face.fingerprint].append(face)
        matched: set[str] = set()
        seen: set[str] = set()
        for want in wanted:
            if want.key in seen:
                continue
            seen.add(want.key)
            if want.fingerprint is None:
                kept = by_id.get(want.persisted_face_id or "")
                if kept is None:
                    self.warnings.append(
                        f"{face_address(owner, want.key)}: persistedFaceId {want.persisted_face_id} "
                        "is not on the service, and a face cannot be re-created from its id"
                        + (f" ({want.pos})" if want.pos else "")
                    )
                else:
                    matched.add(kept.persisted_face_id)
                continue
            address = face_address(owner, want.fingerprint)
            present = [
                f for f in by_fingerprint.get(want.fingerprint, []) if f.persisted_face_id not in matched
            ]
            if not present:
                self.add(
                    Action.CREATE,
                    "face",
                    address,
                    "declared in the configuration",
                    after=_face_after(want),
                    face=want,
                    **ref,
                )
                continue
            keep = present[0]
            matched.add(keep.persisted_face_id)
            if (keep.note or None) != (want.user_data or None):
                # FaceList faces have no update call: a new note means delete and add again.
                action = Action.UPDATE if kind is not CollectionKind.FACE_LIST else Action.REPLACE
                self.add(
                    action,
                    "face",
                    address,
                    "note changed"
                    + ("; FaceList faces cannot be updated in place" if action is Action.REPLACE else ""),
                    before=_face_before(keep),
                    after=_face_after(want),
                    persisted_face_id=keep.persisted_face_id,
                    face=want,
                    **ref,
                )
        for face in sorted(by_id.values(), key=lambda f: f.persisted_face_id):
            if face.persisted_face_id in matched:
                continue
            if face.fingerprint is None:
                reason = "no facesync fingerprint in its userData, and the configuration does not keep its id"
                address = face_address(owner, face.persisted_face_id)
            elif face.fingerprint in seen:
                reason = "duplicate of a face that is kept"
                address = face_address(owner, face.fingerprint, face.persisted_face_id)
            else:
                reason = "not in the configuration"
                address = face_address(owner, face.fingerprint)
                if len(by_fingerprint[face.fingerprint]) > 1:
                    address = face_address(owner, face.fingerprint, face.persisted_face_id)
            self.add(
                Action.DELETE,
                "face",
                address,
                reason,
                before=_face_before(face),
                persisted_face_id=face.persisted_face_id,
                **ref,
            )


def _face_count(live: LiveCollection) -> int:
    return len(live.faces) + sum(len(p.faces) for p in live.persons)


def _live_collection_before(live: LiveCollection) -> dict[str, Any]:
    before = _collection_fields(live.name, live.user_data, live.recognition_model)
    if live.kind.has_persons:
        before["persons"] = len(live.persons)
    before["faces"] = _face_count(live)
    return before


def _live_person_before(person: LivePerson) -> dict[str, Any]:
    return {
        "name": person.name,
        "userData": person.user_data,
        "personId": person.person_id,
        "faces": len(person.faces),
    }


def _changed_fields(before: dict[str, Any], after: dict[str, Any]) -> str:
    names = [k for k in before if before[k] != after.get(k)]
    return " and ".join(names) + " changed"


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
    targets: Collection[str] = (),
    pending_training: Collection[tuple[CollectionKind, str]] = (),
) -> Plan:
    """`pending_training`: collections an interrupted apply wrote to but never saw trained."""
    differ = _Differ(pending_training=pending_training)
    for want in sorted(desired.collections, key=lambda c: (_KIND_ORDER[c.kind], c.id)):
        if not want.targeted(targets):
            continue
        differ.collection(want, live.collection(want.kind, want.id))
    if desired.prune and not targets:
        for other in live.others:
            differ.add(
                Action.DELETE,
                other.kind.value,
                collection_address(other.kind, other.id),
                "pruned: not declared in the configuration (prune: true)",
                before={"name": other.name},
                collection_kind=other.kind,
                collection_id=other.id,
            )
    unmanaged = () if desired.prune and not targets else live.others
    return Plan(
        changes=tuple(differ.changes),
        unmanaged=tuple(unmanaged),
        warnings=tuple(differ.warnings),
        stats=tuple(differ.stats),
        prune=desired.prune,
    )
