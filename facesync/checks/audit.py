"""`facesync audit`: a data-quality review of the configured face images, on the service.

It reads the desired state only (never the live collections) and spends the fewest calls the
checks allow:

* one detect per distinct image and models (with qualityForRecognition where the models return
  it) → images without a face, with several and no targetFace, of low quality;
* per person with k usable faces, k − 1 find-similar calls in matchFace mode over the person's
  faceIds (face i against faces i+1…k) → every pairwise confidence within the person: faces that
  do not verify as their own person, and near-duplicates;
* one group call per 1,000 faces of a person group → which other person a stray face resembles,
  and persons whose faces form one group (enrolled twice under two names).

faceIds live as long as the run needs (the TTL is sized from the estimate), so nothing is
detected twice. Groups of more than 1,000 faces are grouped in chunks of 1,000: resemblances
across chunks are not seen.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from facesync.address import Address, selects
from facesync.checks.faces import NoFace, pick_face
from facesync.checks.resolve import all_faces, collection_address
from facesync.client import FaceAPIError, FaceClient
from facesync.client.models import DetectedFace
from facesync.config.errors import Diagnostic
from facesync.config.images import read_image
from facesync.config.loader import display_path
from facesync.model import (
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredPerson,
    DesiredState,
    SourcePos,
)

log = logging.getLogger(__name__)

Level = Literal["error", "warning", "off"]

CHECKS: dict[str, tuple[Level, str]] = {
    "no-face": ("error", "an image in which the service finds no face (or none where targetFace points)"),
    "several-faces": ("error", "an image with several faces and no targetFace: apply would fail"),
    "detect-failed": ("error", "an image the service refuses"),
    "low-quality": ("warning", "qualityForRecognition is low (recognition_03/04 only)"),
    "misfiled": ("error", "a face that does not verify as its person but resembles another person"),
    "unverified": ("warning", "a face that does not verify as its person's other faces"),
    "enrolled-twice": ("error", "two persons whose faces group as one person"),
    "near-duplicate": ("warning", "two images of one person so alike that the second adds nothing"),
}
DEFAULT_LEVELS: dict[str, Level] = {name: level for name, (level, _) in CHECKS.items()}
QUALITY_MODELS = ("recognition_03", "recognition_04")
GROUP_MAX = 1000
SAME_PERSON = 0.5
"""The service's own same-person threshold (verify's isIdentical, group)."""
DUPLICATE_THRESHOLD = 0.97


@dataclass(frozen=True, slots=True)
class Finding:
    check: str
    diagnostic: Diagnostic
    image: str | None
    collection: str


@dataclass(frozen=True, slots=True)
class AuditReport:
    findings: tuple[Finding, ...]
    images: int
    persons: int
    transactions: int
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, severity: str) -> int:
        return sum(f.diagnostic.severity == severity for f in self.findings)

    @property
    def has_errors(self) -> bool:
        return self.count("error") > 0


@dataclass(frozen=True, slots=True)
class AuditOptions:
    levels: Mapping[str, Level] = field(default_factory=lambda: dict(DEFAULT_LEVELS))
    duplicate_threshold: float = DUPLICATE_THRESHOLD
    rate_limit: float | None = 10.0
    """Only sizes the faceIds' lifetime: the client's limiter does the pacing."""


@dataclass(frozen=True, slots=True)
class Estimate:
    detect: int
    find_similar: int
    group: int
    images: int
    persons: int

    @property
    def total(self) -> int:
        return self.detect + self.find_similar + self.group

    def seconds(self, rate_limit: float | None) -> float:
        return self.total / rate_limit if rate_limit else 0.0


_ImageKey = tuple[str, str, str]  # image path, recognition model, detection model


def _collections(desired: DesiredState, targets: Sequence[Address]) -> list[DesiredCollection]:
    """The present collections under `targets`; a person address narrows its group to the
    persons named (unless the whole group is targeted too). A DynamicPersonGroup holds no image
    of its own: targeting one audits its members' faces in the directory."""
    targets = [*targets, *_members_as_persons(desired, targets)]
    chosen = []
    for c in desired.collections:
        if not c.present or not selects(targets, c.kind, c.id):
            continue
        mine = [t for t in targets if (t.collection_kind, t.collection_id) == (c.kind, c.id)]
        if mine and all(t.person is not None for t in mine):
            c = replace(c, persons=tuple(p for p in c.persons if any(t.person == p.name for t in mine)))
        chosen.append(c)
    return chosen


def _members_as_persons(desired: DesiredState, targets: Sequence[Address]) -> list[Address]:
    groups = [
        c
        for t in targets
        if t.collection_kind is CollectionKind.DYNAMIC_PERSON_GROUP
        and (c := desired.collection(t.collection_kind, t.collection_id)) is not None
    ]
    return [Address.directory().child_person(m.name) for g in groups for m in g.members]


def _key(collection: DesiredCollection, face: DesiredFace) -> _ImageKey:
    assert face.image_path is not None
    return (face.image_path, collection.recognition_model, face.detection_model)


def _image_keys(collections: Iterable[DesiredCollection]) -> set[_ImageKey]:
    return {_key(c, f) for c in collections for f in all_faces(c) if f.image_path is not None}


def _face_count(person: DesiredPerson) -> int:
    return sum(f.image_path is not None for f in person.faces)


def estimate(desired: DesiredState, targets: Sequence[Address] = ()) -> Estimate:
    """The calls an audit needs when every image gives one face: what `audit` asks to spend."""
    collections = _collections(desired, targets)
    keys = _image_keys(collections)
    similar = sum(max(0, _face_count(p) - 1) for c in collections for p in c.persons)
    group = 0
    for c in collections:
        n = sum(_face_count(p) for p in c.persons)
        if n >= 2 and len(c.persons) >= 2:
            group += math.ceil(n / GROUP_MAX)
    persons = sum(len(c.persons) for c in collections)
    return Estimate(len(keys), similar, group, len({k[0] for k in keys}), persons)


@dataclass(slots=True)
class _Usable:
    person: DesiredPerson
    face: DesiredFace
    face_id: str


class _Audit:
    def __init__(self, client: FaceClient, options: AuditOptions) -> None:
        self.client = client
        self.options = options
        self.findings: list[Finding] = []
        self.detected: dict[_ImageKey, list[DetectedFace] | FaceAPIError] = {}

    def report(
        self,
        check: str,
        pos: SourcePos | None,
        message: str,
        collection: DesiredCollection,
        image: str | None,
    ) -> None:
        level = self.options.levels.get(check, DEFAULT_LEVELS[check])
        if level == "off":
            return
        file, line, column = (pos.file, pos.line, pos.column) if pos else ("", 0, 0)
        where = collection_address(collection.kind, collection.id)
        self.findings.append(Finding(check, Diagnostic(file, line, column, message, level), image, where))

    async def detect_all(self, keys: Iterable[_ImageKey], ttl: int) -> None:
        async def one(key: _ImageKey) -> None:
            path, recognition, detection = key
            wants_quality = recognition in QUALITY_MODELS and detection != "detection_02"
            image = read_image(path)  # a regular file of at most 6 MB, never a FIFO or device
            try:
                self.detected[key] = await self.client.detect(
                    image,
                    recognition_model=recognition,
                    detection_model=detection,
                    face_id_ttl=ttl,
                    attributes=("qualityForRecognition",) if wants_quality else (),
                )
            except FaceAPIError as exc:
                if exc.status is None or exc.status >= 500 or exc.status == 429:
                    raise
                self.detected[key] = exc

        await asyncio.gather(*(one(k) for k in sorted(keys)))

    def usable(self, collection: DesiredCollection, face: DesiredFace) -> str | None:
        """The faceId this configured face stands for, or None (reported)."""
        assert face.image_path is not None
        image = display_path(Path(face.image_path))
        found = self.detected[_key(collection, face)]
        if isinstance(found, FaceAPIError):
            self.report(
                "detect-failed", face.pos, f"{image}: {found.code}: {found.message}", collection, image
            )
            return None
        try:
            picked = pick_face(found, target=face.target_face)
        except NoFace as exc:
            check = "several-faces" if len(found) > 1 and face.target_face is None else "no-face"
            tail = "; give targetFace (apply would fail)" if check == "several-faces" else ""
            self.report(check, face.pos, f"{image}: {exc}{tail}", collection, image)
            return None
        if picked.quality == "low":
            self.report("low-quality", face.pos, f"{image}: qualityForRecognition is low", collection, image)
        return picked.face_id

    async def person_group(self, collection: DesiredCollection) -> None:
        usable: list[_Usable] = []
        for person in collection.persons:
            for face in person.faces:
                if face.image_path is None:
                    continue
                face_id = self.usable(collection, face)
                if face_id is not None:
                    usable.append(_Usable(person, face, face_id))
        by_person: dict[str, list[_Usable]] = {}
        for u in usable:
            by_person.setdefault(u.person.name, []).append(u)
        pairs, clusters = await asyncio.gather(
            self.pairwise(by_person), self.clusters(usable, len(by_person))
        )
        self.analyse(collection, by_person, pairs, clusters)

    async def pairwise(self, by_person: Mapping[str, Sequence[_Usable]]) -> dict[tuple[str, str], float]:
        """Confidence of every pair of one person's faceIds: k − 1 find-similar calls per person."""
        confidences: dict[tuple[str, str], float] = {}

        async def one(face_id: str, others: list[str]) -> None:
            similar = await self.client.find_similar(
                face_id, face_ids=others, mode="matchFace", max_candidates=len(others)
            )
            for s in similar:
                if s.face_id is not None:
                    confidences[(face_id, s.face_id)] = confidences[(s.face_id, face_id)] = s.confidence

        calls = []
        for faces in by_person.values():
            ids = list(dict.fromkeys(u.face_id for u in faces))
            calls += [one(ids[i], ids[i + 1 :]) for i in range(len(ids) - 1)]
        await asyncio.gather(*calls)
        return confidences

    async def clusters(self, usable: Sequence[_Usable], persons: int) -> dict[str, int]:
        """faceId -> group number (faces in the messy group get none)."""
        ids = list(dict.fromkeys(u.face_id for u in usable))
        if len(ids) < 2 or persons < 2:
            return {}
        chunks = [ids[i : i + GROUP_MAX] for i in range(0, len(ids), GROUP_MAX)]
        results = await asyncio.gather(*(self.client.group(c) for c in chunks if len(c) >= 2))
        cluster: dict[str, int] = {}
        n = 0
        for result in results:
            for group in result.groups:
                n += 1
                for face_id in group:
                    cluster[face_id] = n
        return cluster

    def analyse(
        self,
        collection: DesiredCollection,
        by_person: Mapping[str, Sequence[_Usable]],
        pairs: Mapping[tuple[str, str], float],
        cluster: Mapping[str, int],
    ) -> None:
        def conf(a: _Usable, b: _Usable) -> float:
            return 1.0 if a.face_id == b.face_id else pairs.get((a.face_id, b.face_id), 0.0)

        def label(u: _Usable) -> str:
            return display_path(Path(u.face.image_path or ""))

        members: dict[int, Counter[str]] = {}
        for faces in by_person.values():
            for u in faces:
                if u.face_id in cluster:
                    members.setdefault(cluster[u.face_id], Counter())[u.person.name] += 1
        homes: dict[str, int] = {}
        for name, faces in by_person.items():
            for i, u in enumerate(faces):
                for other in faces[:i]:
                    c = conf(u, other)
                    if c >= self.options.duplicate_threshold:
                        self.report(
                            "near-duplicate",
                            u.face.pos,
                            f"{label(u)} is a near-duplicate of {label(other)} (confidence {c:.2f}): "
                            f"it adds nothing to {name!r}",
                            collection,
                            label(u),
                        )
                        break
            odd = [
                u
                for u in faces
                if len(faces) > 1 and max(conf(u, o) for o in faces if o is not u) < SAME_PERSON
            ]
            misfiled = []
            for u in odd:
                others = members.get(cluster.get(u.face_id, -1), Counter())
                like = [(n, p) for p, n in others.most_common() if p != name]
                if like:
                    misfiled.append(u)
                    self.report(
                        "misfiled",
                        u.face.pos,
                        f"{label(u)} is filed under {name!r} but does not verify as the person's other "
                        f"faces; it resembles {like[0][1]!r}",
                        collection,
                        label(u),
                    )
            rest = [u for u in faces if u not in misfiled]
            for u in rest:
                if len(rest) > 1 and max(conf(u, o) for o in rest if o is not u) < SAME_PERSON:
                    self.report(
                        "unverified",
                        u.face.pos,
                        f"{label(u)} does not verify as {name!r}: it matches none of the person's other "
                        f"{len(rest) - 1} face(s)",
                        collection,
                        label(u),
                    )
            common = Counter(cluster[u.face_id] for u in rest if u.face_id in cluster).most_common(1)
            if common:
                homes[name] = common[0][0]
        first: dict[int, str] = {}
        persons = {p.name: p for p in collection.persons}
        for name, home in homes.items():
            earlier = first.setdefault(home, name)
            if earlier != name:
                pos = persons[earlier].pos
                at = f" ({pos.file}:{pos.line})" if pos else ""
                self.report(
                    "enrolled-twice",
                    persons[name].pos,
                    f"person {name!r} and person {earlier!r}{at} look like the same person: their faces "
                    "group as one. Enrolled twice under two names?",
                    collection,
                    None,
                )


def _face_id_ttl(estimate: Estimate, rate_limit: float | None) -> int:
    """Long enough for the whole run at the rate limit (with slack for retries), within 60-86400."""
    return int(min(86_400, max(600, 3 * estimate.seconds(rate_limit) + 600)))


async def run_audit(
    client: FaceClient,
    desired: DesiredState,
    *,
    targets: Sequence[Address] = (),
    options: AuditOptions | None = None,
) -> AuditReport:
    options = options or AuditOptions()
    audit = _Audit(client, options)
    collections = _collections(desired, targets)
    before = dict(client.calls)
    expected = estimate(desired, targets)
    await audit.detect_all(_image_keys(collections), _face_id_ttl(expected, options.rate_limit))
    for collection in collections:
        if collection.kind.has_persons:
            await audit.person_group(collection)
        else:
            for face in collection.faces:
                if face.image_path is not None:
                    audit.usable(collection, face)
    calls = {op: n - before.get(op, 0) for op, n in client.calls.items() if n - before.get(op, 0)}
    findings = sorted(audit.findings, key=lambda f: (f.diagnostic, f.check))
    log.info("audit: %d finding(s) with %d request(s)", len(findings), sum(calls.values()))
    return AuditReport(tuple(findings), expected.images, expected.persons, sum(calls.values()), calls)


def parse_levels(values: Iterable[str]) -> dict[str, Level]:
    """`CHECK=LEVEL` options over the defaults; raises ValueError with the reason."""
    levels = dict(DEFAULT_LEVELS)
    for value in values:
        check, _, level = value.partition("=")
        if check not in CHECKS:
            raise ValueError(f"unknown check {check!r} (checks: {', '.join(CHECKS)})")
        if level not in ("error", "warning", "off"):
            raise ValueError(f"{value!r}: the level is error, warning or off")
        levels[check] = level  # type: ignore[assignment]
    return levels
