"""Hand-built directory and DynamicPersonGroup states for diff, gate and renderer tests."""

from __future__ import annotations

from facesync.livestate import LiveCollection, LiveFace, LiveMember, LivePerson
from facesync.model import CollectionKind, DesiredCollection, DesiredFace, DesiredMember, DesiredPerson
from tests.sync.states import live_face

PD, DPG = CollectionKind.PERSON_DIRECTORY, CollectionKind.DYNAMIC_PERSON_GROUP
R3, R4 = "recognition_03", "recognition_04"


def directory(persons: dict[str, list[DesiredFace]], models: tuple[str, ...] = (R4,)) -> DesiredCollection:
    return DesiredCollection(
        kind=PD,
        id="",
        name="",
        recognition_model=models[-1],
        recognition_models=models,
        persons=tuple(DesiredPerson(name, faces=tuple(faces)) for name, faces in persons.items()),
    )


def enrolled(name: str, face_id: str, model: str = R4, note: str | None = None) -> LiveFace:
    """A live directory face: `live_face` enrolled in `model`."""
    face = live_face(name, face_id, note)
    return LiveFace(
        face.persisted_face_id, face.user_data, face.fingerprint, face.note, recognition_model=model
    )


def live_directory(*persons: LivePerson) -> LiveCollection:
    return LiveCollection(kind=PD, id="", name="", persons=persons)


def group(gid: str, members: list[str], **kw: object) -> DesiredCollection:
    return DesiredCollection(
        kind=DPG,
        id=gid,
        name=kw.pop("name", gid.title()),  # type: ignore[arg-type]
        recognition_model="",
        members=tuple(DesiredMember(m) for m in members),
        **kw,  # type: ignore[arg-type]
    )


def live_group(gid: str, members: list[tuple[str, str | None]], **kw: object) -> LiveCollection:
    return LiveCollection(
        kind=DPG,
        id=gid,
        name=kw.pop("name", gid.title()),  # type: ignore[arg-type]
        members=tuple(LiveMember(pid, name) for pid, name in members),
        **kw,  # type: ignore[arg-type]
    )
