"""Live collections → configuration values that plan to no changes against the same service.

What makes a plan empty (facesync/diff.py): every collection keeps its name, userData and
recognitionModel; every person keeps its name and userData; every face is named, either by an
image whose fingerprint it carries or by its persistedFaceId. Empty userData is the same as none,
so it is left out. Live twins (two persons with one name) cannot be written as two YAML keys.
"""

from __future__ import annotations

import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from facesync.address import Address
from facesync.config.directory import DIRECTORY_DEFAULT_MODEL
from facesync.fingerprint import MAX_FACE_NOTE_LENGTH
from facesync.importing.directory import directory_body, group_body
from facesync.importing.images import ImageIndex
from facesync.livestate import LiveCollection, LiveFace, LivePerson, TrainingStatus
from facesync.model import SERVICE_DEFAULT_DETECTION_MODEL, CollectionKind

_GLOB_CHARS = frozenset("*?[")
DETECTION_FOR_RECOGNITION = {"recognition_04": "detection_03"}
"""The detection model a recognition model is meant to be used with, where the service's default
(detection_01) is not it: Microsoft recommends detection_03 with recognition_04."""


class TwinsError(Exception):
    """Persons sharing a name in one group; `twins` lists them as (address, name, person ids)."""

    def __init__(self, twins: Sequence[tuple[str, str, tuple[str, ...]]]) -> None:
        self.twins = tuple(twins)
        super().__init__(f"{len(self.twins)} person name(s) are used by more than one person")


@dataclass
class ImportStats:
    collections: int = 0
    persons: int = 0
    faces: int = 0
    matched: int = 0
    """Faces written as image paths."""
    kept: int = 0
    """Faces written as persistedFaceId entries."""
    unmatched: int = 0
    """Of those, faces with a facesync fingerprint that no local image has."""
    outside: int = 0
    """Image paths outside the output's folder (the default config root)."""


@dataclass(frozen=True)
class ImportedCollection:
    kind: CollectionKind
    id: str
    body: dict[str, Any]
    notes: tuple[str, ...]
    """Said above the collection in the YAML, and as warnings."""


@dataclass
class Converter:
    images: ImageIndex
    base_dir: Path
    """Image paths are written relative to this directory (where the YAML file goes)."""
    rename_twins: bool = False
    default_detection: str = SERVICE_DEFAULT_DETECTION_MODEL
    """The detection model image faces are written without (`defaults.detectionModel`)."""
    stats: ImportStats = field(default_factory=ImportStats)

    def convert(self, collections: Iterable[LiveCollection]) -> list[ImportedCollection]:
        collections = list(collections)
        if not self.rename_twins:
            twins = [t for c in collections for t in _twins(c)]
            if twins:
                raise TwinsError(twins)
        return [self._collection(c) for c in collections]

    def common_detection_model(
        self, collections: Iterable[LiveCollection], fallback: str = SERVICE_DEFAULT_DETECTION_MODEL
    ) -> str:
        """The detection model most matched faces use: as the default, it is written least."""
        models = Counter(
            image.detection_model
            for c in collections
            for face in (*c.faces, *(f for p in c.persons for f in p.faces))
            if (image := self.images.find(face.fingerprint)) is not None
        )
        if not models:
            return fallback
        return min(models, key=lambda m: (-models[m], m))

    def choose_defaults(self, collections: Sequence[LiveCollection]) -> dict[str, str]:
        """`defaults:` for the imported configuration, and the detection model image faces are
        then written without: the recognition model most collections use, and the detection model
        most matched faces use (else the one that model is meant for). Faces added later are
        detected like the ones there, and later edits to `defaults` are not needed."""
        if not collections:
            return {}
        counts = Counter(c.recognition_model for c in collections if c.kind.classic)
        # The directory votes with the model most of its faces are enrolled in; a group has none.
        enrolled = Counter(
            f.recognition_model
            for c in collections
            if c.kind is CollectionKind.PERSON_DIRECTORY
            for p in c.persons
            for f in p.faces
            if f.recognition_model
        )
        if enrolled:
            counts[min(enrolled, key=lambda m: (-enrolled[m], m))] += 1
        if not counts:
            counts[DIRECTORY_DEFAULT_MODEL] = 1
        recognition = min(counts, key=lambda m: (-counts[m], m))
        fallback = DETECTION_FOR_RECOGNITION.get(recognition, SERVICE_DEFAULT_DETECTION_MODEL)
        self.default_detection = self.common_detection_model(collections, fallback)
        return {"recognitionModel": recognition, "detectionModel": self.default_detection}

    def _collection(self, live: LiveCollection) -> ImportedCollection:
        self.stats.collections += 1
        if not live.kind.classic:
            said: list[str] = []
            if live.kind is CollectionKind.PERSON_DIRECTORY:
                written, shared = directory_body(self.images, self._persons, live, said)
                self.stats.faces += shared  # written once for several models, imported all the same
            else:
                written = group_body(live, said)
            return ImportedCollection(live.kind, live.id, written, tuple(said))
        body: dict[str, Any] = {"name": live.name}
        if live.user_data:
            body["userData"] = live.user_data
        body["recognitionModel"] = live.recognition_model
        notes: list[str] = []
        if live.kind.has_persons:
            body["persons"] = self._persons(live, notes)
        else:
            body["faces"] = self._faces(live.faces, str(Address(live.kind, live.id)), notes)
        has_faces = bool(live.faces) or any(p.faces for p in live.persons)
        training = live.training.status if live.training is not None else None
        if has_faces and training in (TrainingStatus.NOT_TRAINED, TrainingStatus.FAILED):
            state = (
                "was never trained" if training is TrainingStatus.NOT_TRAINED else "failed its last training"
            )
            notes.append(
                f"{live.kind.label} {live.id} {state}: the first plan shows one change, "
                "a train, which apply performs (import itself never writes)."
            )
        return ImportedCollection(live.kind, live.id, body, tuple(notes))

    def _persons(self, live: LiveCollection, notes: list[str]) -> dict[str, Any]:
        by_name: dict[str, list[LivePerson]] = defaultdict(list)
        for person in sorted(live.persons, key=lambda p: p.person_id):
            by_name[person.name].append(person)
        taken = set(by_name)
        persons: dict[str, Any] = {}
        for name in sorted(by_name):
            for i, person in enumerate(by_name[name]):
                key = name if i == 0 else _twin_name(name, person.person_id, taken)
                if key != name:
                    taken.add(key)
                    notes.append(
                        f"person {person.person_id} is a twin of {name!r}, written as {key!r}: "
                        "the first plan renames the live person to match, in place (it holds "
                        "exactly these faces; one with no face is deleted and created again)."
                    )
                owner = str(Address(live.kind, live.id).child_person(key))
                persons[key] = self._person(person, owner, notes)
        return persons

    def _person(self, person: LivePerson, owner: str, notes: list[str]) -> dict[str, Any]:
        self.stats.persons += 1
        body: dict[str, Any] = {}
        if person.user_data:
            body["userData"] = person.user_data
        if person.faces:
            body["faces"] = self._faces(person.faces, owner, notes)
        return body

    def _faces(self, faces: Iterable[LiveFace], owner: str, notes: list[str]) -> list[Any]:
        images: list[tuple[str, Any]] = []
        kept: list[Any] = []
        used: set[str] = set()
        # In persistedFaceId order, as the planner matches duplicates: the image names the first.
        for face in sorted(faces, key=lambda f: f.persisted_face_id):
            self.stats.faces += 1
            image = self.images.find(face.fingerprint)
            if image is not None and face.fingerprint not in used:
                assert face.fingerprint is not None
                used.add(face.fingerprint)
                self.stats.matched += 1
                images.append(self._image_entry(image.path, image.detection_model, face.note))
                continue
            self.stats.kept += 1
            if face.fingerprint is not None:
                self.stats.unmatched += 1
            entry: dict[str, Any] = {"persistedFaceId": face.persisted_face_id}
            if face.note and len(face.note) <= MAX_FACE_NOTE_LENGTH:
                entry["userData"] = face.note
            elif face.note:
                # The entry only keeps the face; its userData stays on the service untouched.
                notes.append(
                    f"{owner}: face {face.persisted_face_id} has {len(face.note)} characters of "
                    f"userData, more than a note may hold ({MAX_FACE_NOTE_LENGTH}); left out of the "
                    "YAML, kept on the service."
                )
            kept.append(entry)
        # Images by path, then kept faces by id: a stable order that reads well in a diff.
        return [entry for _, entry in sorted(images, key=lambda e: e[0])] + kept

    def _image_entry(self, path: Path, detection_model: str, note: str | None) -> tuple[str, Any]:
        rel = Path(os.path.relpath(path, self.base_dir)).as_posix()
        if rel.startswith("../"):
            self.stats.outside += 1
        # A face string is a glob: a file name with glob characters must use the long form.
        if detection_model == self.default_detection and not note and not _GLOB_CHARS & set(rel):
            return rel, rel
        entry: dict[str, Any] = {"image": rel}
        if detection_model != self.default_detection:
            entry["detectionModel"] = detection_model
        if note:
            entry["userData"] = note
        return rel, entry


def _twins(live: LiveCollection) -> list[tuple[str, str, tuple[str, ...]]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for person in live.persons:
        by_name[person.name].append(person.person_id)
    return [
        (str(Address(live.kind, live.id)), name, tuple(sorted(ids)))
        for name, ids in sorted(by_name.items())
        if len(ids) > 1
    ]


def _twin_name(name: str, person_id: str, taken: set[str]) -> str:
    """`name (personId prefix)`: unique, and says which live person it stands for."""
    for length in (8, 13, 36):
        candidate = f"{name} ({person_id[:length]})"
        if len(candidate) > 128:
            candidate = f"{name[: 128 - length - 3]} ({person_id[:length]})"
        if candidate not in taken:
            return candidate
    raise ValueError(f"no free name for twin {person_id} of {name!r}")
