"""Hand-built desired and live states for diff, gate and renderer tests (no service, no images)."""

from __future__ import annotations

import hashlib

from facesync.fingerprint import encode_face_user_data, face_fingerprint
from facesync.livestate import LiveCollection, LiveFace, LivePerson, LiveTraining, TrainingStatus
from facesync.model import CollectionKind, DesiredCollection, DesiredFace, DesiredPerson, DesiredState

PG, LPG, FL, LFL = (
    CollectionKind.PERSON_GROUP,
    CollectionKind.LARGE_PERSON_GROUP,
    CollectionKind.FACE_LIST,
    CollectionKind.LARGE_FACE_LIST,
)
TRAINED = LiveTraining(TrainingStatus.SUCCEEDED)


def fp(name: str) -> str:
    return face_fingerprint(hashlib.sha256(name.encode()).hexdigest(), None, "detection_03")


def want_face(name: str, note: str | None = None) -> DesiredFace:
    return DesiredFace(
        fingerprint=fp(name), image_path=f"/photos/{name}.jpg", detection_model="detection_03", user_data=note
    )


def live_face(name: str, face_id: str, note: str | None = None) -> LiveFace:
    fingerprint = fp(name)
    return LiveFace(face_id, encode_face_user_data(fingerprint, note), fingerprint, note)


def group(
    cid: str, persons: dict[str, list[DesiredFace]], kind: CollectionKind = PG, **kw: object
) -> DesiredCollection:
    return DesiredCollection(
        kind=kind,
        id=cid,
        name=kw.pop("name", cid.title()),  # type: ignore[arg-type]
        recognition_model=kw.pop("recognition_model", "recognition_04"),  # type: ignore[arg-type]
        persons=tuple(DesiredPerson(name, faces=tuple(faces)) for name, faces in persons.items()),
        **kw,  # type: ignore[arg-type]
    )


def live_group(
    cid: str,
    persons: list[LivePerson],
    kind: CollectionKind = PG,
    training: LiveTraining | None = TRAINED,
    **kw: object,
) -> LiveCollection:
    return LiveCollection(
        kind=kind,
        id=cid,
        name=kw.pop("name", cid.title()),  # type: ignore[arg-type]
        recognition_model=kw.pop("recognition_model", "recognition_04"),  # type: ignore[arg-type]
        persons=tuple(persons),
        training=training,
        **kw,  # type: ignore[arg-type]
    )


def state(*collections: DesiredCollection, prune: bool = False) -> DesiredState:
    return DesiredState(collections=collections, prune=prune)
