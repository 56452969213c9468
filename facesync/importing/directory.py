"""The live directory and DynamicPersonGroups → configuration values that plan to no changes.

The directory's persons are written as a person group's are, with `recognitionModels` listing
every model that holds a face. A face enrolled in several models with one fingerprint is one
image entry (the plan enrols an image in every listed model); faces no image describes are kept
by their persistedFaceId, one entry per model's face. A group lists its members by the names of
the directory persons they are.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from facesync.address import Address
from facesync.importing.images import ImageIndex
from facesync.livestate import LiveCollection, LiveFace, LivePerson
from facesync.model import RECOGNITION_MODELS

PersonsBody = Callable[[LiveCollection, list[str]], dict[str, Any]]


def directory_body(
    images: ImageIndex, persons_body: PersonsBody, live: LiveCollection, notes: list[str]
) -> tuple[dict[str, Any], int]:
    """The directory's body (its persons written by `persons_body`, as a group's are), and how
    many faces it writes once for several models (they are imported all the same)."""
    models = sorted(
        {f.recognition_model for p in live.persons for f in p.faces if f.recognition_model},
        key=lambda m: RECOGNITION_MODELS.index(m) if m in RECOGNITION_MODELS else len(RECOGNITION_MODELS),
    )
    body: dict[str, Any] = {}
    if models:
        body["recognitionModels"] = models
    persons = []
    for person in live.persons:
        persons.append(dataclasses.replace(person, faces=_one_per_image(images, person)))
        uneven = _uneven(person, models)
        if uneven:
            where = Address.directory().child_person(person.name)
            notes.append(
                f"{where}: {uneven}; the first plan enrols the missing faces in the models that lack them."
            )
    shared = sum(len(p.faces) for p in live.persons) - sum(len(p.faces) for p in persons)
    body["persons"] = persons_body(dataclasses.replace(live, persons=tuple(persons)), notes)
    return body, shared


def _one_per_image(images: ImageIndex, person: LivePerson) -> tuple[LiveFace, ...]:
    """The person's faces with one copy per fingerprint that an image describes (the others are
    kept by id, each model's face its own entry)."""
    seen: set[str] = set()
    faces: list[LiveFace] = []
    for face in person.faces:
        if face.fingerprint is not None and images.find(face.fingerprint) is not None:
            if face.fingerprint in seen:
                continue
            seen.add(face.fingerprint)
        faces.append(face)
    return tuple(faces)


def _uneven(person: LivePerson, models: list[str]) -> str | None:
    """How the person's faces differ between models, in words (None when every model holds the
    same fingerprinted faces)."""
    by_model: dict[str, set[str]] = defaultdict(set)
    for face in person.faces:
        if face.fingerprint is not None and face.recognition_model:
            by_model[face.recognition_model].add(face.fingerprint)
    every = set().union(*by_model.values()) if by_model else set()
    lacking = [m for m in models if by_model.get(m, set()) != every]
    if not lacking or not every:
        return None
    return f"{', '.join(lacking)} lack(s) some of the person's faces"


def group_body(live: LiveCollection, notes: list[str]) -> dict[str, Any]:
    body: dict[str, Any] = {"name": live.name}
    if live.user_data:
        body["userData"] = live.user_data
    names = sorted({m.name for m in live.members if m.name is not None})
    for member in live.members:
        if member.name is None:
            notes.append(
                f"{Address(live.kind, live.id)}: member {member.person_id} is no directory person; "
                "left out, so the first plan removes it from the group."
            )
    body["members"] = names
    return body
