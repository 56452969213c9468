"""Tests × configuration → what each test sends: its collection, person or face-list image, and
the models its probe is detected with. Unknown names are errors at the test's file:line, before
any call is made."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from facesync.address import Address, AddressError
from facesync.checks.spec import NOBODY, ProbeTest
from facesync.config.errors import Diagnostic
from facesync.model import (
    DIRECTORY_ID,
    SERVICE_DEFAULT_DETECTION_MODEL,
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredState,
)


@dataclass(frozen=True, slots=True)
class ResolvedTest:
    test: ProbeTest
    collection: DesiredCollection | None
    """The collection the expectation reads (None for detect)."""
    person: str | None
    """identify: the expected person (None for nobody); verify: the person."""
    face: DesiredFace | None
    """findSimilar: the face-list face the probe should find."""
    recognition_model: str
    detection_model: str


def all_faces(collection: DesiredCollection) -> Iterable[DesiredFace]:
    yield from collection.faces
    for person in collection.persons:
        yield from person.faces


def detection_model(faces: Iterable[DesiredFace], fallback: str = SERVICE_DEFAULT_DETECTION_MODEL) -> str:
    """The detection model the configuration uses most for these faces: probes are detected the
    way the enrolled faces were."""
    counts = Counter(f.detection_model for f in faces if f.fingerprint is not None)
    return counts.most_common(1)[0][0] if counts else fallback


def _any_faces(desired: DesiredState) -> Iterable[DesiredFace]:
    for c in desired.collections:
        yield from all_faces(c)


def resolve_tests(
    tests: Sequence[ProbeTest], desired: DesiredState
) -> tuple[list[ResolvedTest], list[Diagnostic]]:
    default_detection = detection_model(_any_faces(desired))
    models = Counter(c.recognition_model for c in desired.collections if c.present and c.recognition_model)
    default_recognition = models.most_common(1)[0][0] if models else "recognition_04"
    resolved: list[ResolvedTest] = []
    problems: list[Diagnostic] = []
    for test in tests:
        try:
            resolved.append(_resolve(test, desired, default_recognition, default_detection))
        except _Problem as exc:
            problems.append(
                Diagnostic(test.pos.file, test.pos.line, test.pos.column, f"test {test.name!r}: {exc}")
            )
    return resolved, problems


class _Problem(Exception):
    pass


PG, LPG = CollectionKind.PERSON_GROUP, CollectionKind.LARGE_PERSON_GROUP
PD, DPG = CollectionKind.PERSON_DIRECTORY, CollectionKind.DYNAMIC_PERSON_GROUP


IDENTIFY_KINDS = (PG, LPG, DPG, PD)
VERIFY_KINDS = (PG, LPG, PD)
SIMILAR_KINDS = (CollectionKind.FACE_LIST, CollectionKind.LARGE_FACE_LIST)


def _collection(
    desired: DesiredState, text: str, kinds: tuple[CollectionKind, ...]
) -> tuple[DesiredCollection, Address]:
    try:
        address = Address.parse(text)
    except AddressError as exc:
        raise _Problem(str(exc)) from None
    if address.collection_kind not in kinds:
        wanted = ", ".join(k.value for k in kinds[:-1]) + f" or {kinds[-1].value}"
        raise _Problem(f"{text!r} is a {address.collection_kind.label}; this expectation needs a {wanted}")
    collection = desired.collection(address.collection_kind, address.collection_id)
    if collection is None:
        raise _Problem(f"{address.collection} is not declared in the configuration")
    if not collection.present:
        raise _Problem(f"{address.collection} is declared with ensure: absent")
    return collection, address


def _person(collection: DesiredCollection, name: str) -> str:
    """`name` is a person of `collection`, or (a DynamicPersonGroup) one of its members."""
    if collection.kind is DPG:
        members = [m.name for m in collection.members]
        if name not in members:
            known = ", ".join(sorted(members)[:5]) or "none"
            raise _Problem(
                f"{Address(collection.kind, collection.id)} has no member {name!r} (members: {known})"
            )
        return name
    if not any(p.name == name for p in collection.persons):
        known = ", ".join(sorted(p.name for p in collection.persons)[:5]) or "none"
        raise _Problem(
            f"{Address(collection.kind, collection.id)} declares no person {name!r} (persons: {known})"
        )
    return name


def _resolve(
    test: ProbeTest, desired: DesiredState, default_recognition: str, default_detection: str
) -> ResolvedTest:
    spec = test.spec
    collection: DesiredCollection | None = None
    person: str | None = None
    face: DesiredFace | None = None
    model: str | None = None
    if spec.identify is not None:
        collection, _ = _collection(desired, spec.identify.in_, IDENTIFY_KINDS)
        if spec.identify.expect != NOBODY:
            person = _person(collection, spec.identify.expect)
        model = spec.identify.recognition_model
    elif spec.verify is not None:
        collection, address = _collection(desired, spec.verify.person, VERIFY_KINDS)
        if address.person is None or address.face is not None or address.model is not None:
            raise _Problem(f'verify needs a person address, e.g. {address.collection}/person["Name"]')
        person = _person(collection, address.person)
        model = spec.verify.recognition_model
    elif spec.find_similar is not None:
        collection, _ = _collection(desired, spec.find_similar.in_, SIMILAR_KINDS)
        wanted = os.path.normpath(os.path.join(test.base_dir, spec.find_similar.expect))
        face = next((f for f in collection.faces if f.image_path == wanted), None)
        expect = spec.find_similar.expect
        if face is None and any(f.persisted_face_id == expect.lower() for f in collection.faces):
            raise _Problem(
                f"'{expect}' is a kept face of {Address(collection.kind, collection.id)} "
                "(persistedFaceId): findSimilar expects an image of the list, relative to this file"
            )
        if face is None:
            raise _Problem(
                f"{Address(collection.kind, collection.id)} has no face from image "
                f"'{spec.find_similar.expect}'"
            )
    if collection is None:
        return ResolvedTest(test, None, None, None, default_recognition, default_detection)
    enrolled = collection
    if collection.kind is DPG:
        # A group's persons and their faces are the directory's.
        directory = desired.collection(PD, DIRECTORY_ID)
        if directory is None:
            raise _Problem(
                f"{Address(collection.kind, collection.id)}: the configuration has no personDirectory"
            )
        enrolled = directory
    recognition = enrolled.recognition_model
    if model is not None:
        if enrolled.kind is not PD:
            raise _Problem(
                f"recognitionModel applies to the personDirectory and its groups; "
                f"{Address(collection.kind, collection.id)} uses {collection.recognition_model}"
            )
        if model not in enrolled.recognition_models:
            listed = ", ".join(enrolled.recognition_models)
            raise _Problem(f"recognitionModel {model!r} is not enrolled in the personDirectory ({listed})")
        recognition = model
    return ResolvedTest(
        test,
        collection,
        person,
        face,
        recognition,
        detection_model(all_faces(enrolled), default_detection),
    )


def problems_in_tests(
    config_path: Path, desired: DesiredState | None, root: Path | None = None
) -> list[Diagnostic]:
    """What `facesync test` would refuse in the tests beside a configuration, before any call:
    their own format, probes outside `root` (default: the configuration's folder), then (when the
    configuration is valid) what they name in it."""
    from facesync.checks.spec import load_tests

    tests, diagnostics = load_tests(config_path, root=root)
    if desired is None:
        return diagnostics
    return [*diagnostics, *resolve_tests(tests, desired)[1]]


def collection_address(kind: CollectionKind, collection_id: str) -> str:
    return str(Address(kind, collection_id))
