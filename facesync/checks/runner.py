"""`facesync test`: run recognition expectations against the service.

Read-only for the collections: one training-status read and one listing per collection a test
names (to map personIds and persistedFaceIds back to names and images), one detect per probe,
then one identify, verify or find-similar call per test. Everything goes through the client's
rate limiter. A collection that is not trained, is training, or does not exist makes its tests
errors that say so, not failed expectations.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from facesync.checks.faces import NoFace, pick_face
from facesync.checks.resolve import ResolvedTest, collection_address
from facesync.checks.spec import NOBODY
from facesync.client import FaceAPIError, FaceClient
from facesync.client.models import DetectedFace, IdentifyResult
from facesync.config.images import read_image
from facesync.fingerprint import decode_face_user_data
from facesync.livestate import TrainingStatus
from facesync.model import CollectionKind, DesiredCollection, SourcePos

log = logging.getLogger(__name__)

Outcome = Literal["passed", "failed", "error"]
# Long enough for any run the rate limiter allows; short so unused faceIds do not linger.
PROBE_FACE_ID_TTL = 3600
IDENTIFY_BATCH = 10
"""faceIds one identify call takes."""


@dataclass(frozen=True, slots=True)
class TestResult:
    __test__ = False  # not a pytest test class

    name: str
    kind: str
    pos: SourcePos
    outcome: Outcome
    expected: str
    actual: str

    @property
    def passed(self) -> bool:
        return self.outcome == "passed"


@dataclass(frozen=True, slots=True)
class TestRun:
    __test__ = False  # not a pytest test class

    results: tuple[TestResult, ...]
    transactions: int
    """Requests sent (retries included): what the run cost."""
    calls: dict[str, int] = field(default_factory=dict)

    def count(self, outcome: Outcome) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def ok(self) -> bool:
        return all(r.passed for r in self.results)


class TestError(Exception):
    """The test could not be judged (the message says why): an error, not a failure."""

    __test__ = False  # not a pytest test class


@dataclass
class _CollectionView:
    """What tests need of one live collection: names by id, or images by persistedFaceId."""

    problem: str | None = None
    person_names: dict[str, str] = field(default_factory=dict)
    person_ids: dict[str, list[str]] = field(default_factory=dict)
    face_ids: dict[str, str] = field(default_factory=dict)
    """Face lists: fingerprint -> persistedFaceId."""
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Face lists: persistedFaceId -> fingerprint."""


def _service_problem(exc: FaceAPIError, where: str) -> str:
    code = exc.code or ""
    if code.endswith("NotTrained"):
        return f"{where} is not trained: run facesync apply (it trains), then test"
    if code.endswith("TrainingNotFinished"):
        return f"{where} is still training: test again when it finishes"
    if code.endswith("NotFound") and code != "FaceNotFound":
        return f"{where} does not exist on the service: run facesync apply first"
    return str(exc)


async def _view(client: FaceClient, collection: DesiredCollection) -> _CollectionView:
    kind, cid = collection.kind, collection.id
    where = collection_address(kind, cid)
    view = _CollectionView()
    try:
        if kind.trainable:
            training = await client.get_training(kind, cid)
            if training is None:
                view.problem = f"{where} is not trained: run facesync apply (it trains), then test"
                return view
            status = TrainingStatus.parse(training.status)
            if status in (TrainingStatus.RUNNING, TrainingStatus.NOT_STARTED):
                view.problem = f"{where} is still training: test again when it finishes"
                return view
            if status is TrainingStatus.FAILED:
                view.problem = f"{where}: its last training failed ({training.message or 'no message'})"
                return view
        if not kind.classic:
            await _directory_view(client, collection, view)
        elif kind.has_persons:
            for person in await client.list_persons(kind, cid):
                view.person_names[person.person_id] = person.name
                view.person_ids.setdefault(person.name, []).append(person.person_id)
        else:
            if kind is CollectionKind.FACE_LIST:
                faces = (await client.get_face_list(cid)).persisted_faces
            else:
                faces = await client.list_large_face_list_faces(cid)
            for face in faces:
                fingerprint, _ = decode_face_user_data(face.user_data)
                if fingerprint is not None:
                    view.face_ids.setdefault(fingerprint, face.persisted_face_id)
                    view.fingerprints[face.persisted_face_id] = fingerprint
    except FaceAPIError as exc:
        view.problem = _service_problem(exc, where)
    return view


async def _directory_view(client: FaceClient, collection: DesiredCollection, view: _CollectionView) -> None:
    """The directory's persons by id and name; for a group, only its members (its persons)."""
    members: set[str] | None = None
    if collection.kind is CollectionKind.DYNAMIC_PERSON_GROUP:
        members = set(await client.directory.group_members(collection.id))
        if not members:
            where = collection_address(collection.kind, collection.id)
            view.problem = f"{where} has no members on the service: run facesync apply first"
            return
    for person in await client.directory.list_persons():
        if members is None or person.person_id in members:
            view.person_names[person.person_id] = person.name
            view.person_ids.setdefault(person.name, []).append(person.person_id)


def _score(confidence: float) -> str:
    return f"{confidence:.2f}"


class _Runner:
    def __init__(self, client: FaceClient, tests: Sequence[ResolvedTest]) -> None:
        self.client = client
        self.tests = tests
        self.views: dict[tuple[CollectionKind, str], _CollectionView] = {}
        self.probes: dict[tuple[str, str, str], asyncio.Task[list[DetectedFace]]] = {}
        self.needs_id = {_probe_key(t) for t in tests if t.test.spec.detect is None}
        self.batches: dict[tuple[CollectionKind, str], _IdentifyBatch] = {}

    async def run(self) -> list[TestResult]:
        collections = {(t.collection.kind, t.collection.id): t.collection for t in self.tests if t.collection}
        views = await asyncio.gather(*(_view(self.client, c) for c in collections.values()))
        self.views = dict(zip(collections, views, strict=True))
        wanted = Counter(
            (t.collection.kind, t.collection.id) for t in self.tests if t.test.spec.identify and t.collection
        )
        self.batches = {key: _IdentifyBatch(self.client, *key, expected=n) for key, n in wanted.items()}
        return list(await asyncio.gather(*(self._one(t) for t in self.tests)))

    def _detect(self, test: ResolvedTest) -> asyncio.Task[list[DetectedFace]]:
        """One detect per probe and models, however many tests share it (faceIds only when a
        test needs them)."""
        key = _probe_key(test)
        if key not in self.probes:
            self.probes[key] = asyncio.ensure_future(self._detect_now(*key, key in self.needs_id))
        return self.probes[key]

    async def _detect_now(
        self, path: str, recognition: str, detection: str, need_id: bool
    ) -> list[DetectedFace]:
        image = read_image(path)  # a regular file of at most 6 MB, never a FIFO or device
        return await self.client.detect(
            image,
            recognition_model=recognition,
            detection_model=detection,
            return_face_id=need_id,
            face_id_ttl=PROBE_FACE_ID_TTL if need_id else None,
        )

    async def _probe_face(self, test: ResolvedTest) -> str:
        spec = test.test.spec
        faces = await self._detect(test)
        try:
            face = pick_face(faces, index=spec.face, target=spec.target_face)
        except NoFace as exc:
            raise TestError(f"probe {os.path.basename(test.test.probe_path)}: {exc}") from None
        assert face.face_id is not None
        return face.face_id

    async def _one(self, test: ResolvedTest) -> TestResult:
        spec = test.test.spec
        expected = _expected(test)
        batch = None
        if spec.identify is not None and test.collection is not None:
            batch = self.batches[(test.collection.kind, test.collection.id)]
        try:
            if test.collection is not None:
                view = self.views[(test.collection.kind, test.collection.id)]
                if view.problem:
                    raise TestError(view.problem)
            outcome, actual = await self._judge(test)
        except TestError as exc:
            outcome, actual = "error", str(exc)
        except FaceAPIError as exc:
            where = (
                collection_address(test.collection.kind, test.collection.id) if test.collection else "probe"
            )
            outcome, actual = "error", _service_problem(exc, where)
        except OSError as exc:
            outcome, actual = "error", f"cannot read probe: {exc.strerror or exc}"
        finally:
            if batch is not None:
                batch.leave(test)
        log.info("test %r: %s", spec.name, outcome)
        return TestResult(spec.name, spec.kind, test.test.pos, outcome, expected, actual)

    async def _judge(self, test: ResolvedTest) -> tuple[Outcome, str]:
        spec = test.test.spec
        if spec.detect is not None:
            faces = await self._detect(test)
            return ("passed" if len(faces) == spec.detect.faces else "failed"), f"{len(faces)} face(s)"
        assert test.collection is not None
        kind, cid = test.collection.kind, test.collection.id
        view = self.views[(kind, cid)]
        face_id = await self._probe_face(test)
        if spec.identify is not None:
            found = await self.batches[(kind, cid)].identify(test, face_id)
            named = [
                (view.person_names.get(c.person_id, c.person_id), c.confidence) for c in found.candidates
            ]
            actual = ", ".join(f"{n} ({_score(c)})" for n, c in named) or NOBODY
            if test.person is None:
                return ("passed" if not named else "failed"), actual
            floor = spec.identify.min_confidence or 0.0
            ok = bool(named) and named[0][0] == test.person and named[0][1] >= floor
            return ("passed" if ok else "failed"), actual
        if spec.verify is not None:
            assert test.person is not None
            ids = view.person_ids.get(test.person)
            if not ids:
                raise TestError(
                    f"{collection_address(kind, cid)} has no person {test.person!r} on the service: "
                    "run facesync apply first"
                )
            result = await self.client.verify_person(face_id, kind=kind, group_id=cid, person_id=ids[0])
            actual = f"{'same' if result.is_identical else 'different'} ({_score(result.confidence)})"
            if spec.verify.expect == "same":
                ok = result.is_identical and result.confidence >= (spec.verify.min_confidence or 0.0)
            else:
                ok = not result.is_identical
            return ("passed" if ok else "failed"), actual
        assert spec.find_similar is not None and test.face is not None
        wanted = view.face_ids.get(test.face.fingerprint or "")
        if wanted is None:
            raise TestError(
                f"{collection_address(kind, cid)} does not hold '{spec.find_similar.expect}' "
                "on the service: run facesync apply first"
            )
        similar = await self.client.find_similar(
            face_id,
            face_list=(kind, cid),
            mode=spec.find_similar.mode,
            max_candidates=spec.find_similar.within,
        )
        images = _images(test.collection, test.test.base_dir)
        shown = [
            f"#{i} {images.get(view.fingerprints.get(s.persisted_face_id or '', ''), s.persisted_face_id)} "
            f"({_score(s.confidence)})"
            for i, s in enumerate(similar, 1)
        ]
        ok = any(s.persisted_face_id == wanted for s in similar)
        return ("passed" if ok else "failed"), ", ".join(shown) or "no similar face"


def _probe_key(test: ResolvedTest) -> tuple[str, str, str]:
    return (test.test.probe_path, test.recognition_model, test.detection_model)


class _IdentifyBatch:
    """The identify tests of one group share calls: up to 10 faceIds each, sent once every test
    of the group has either given its faceId or dropped out (an error before identify)."""

    def __init__(self, client: FaceClient, kind: CollectionKind, group_id: str, *, expected: int) -> None:
        self.client = client
        self.kind = kind
        self.group_id = group_id
        self.expected = expected
        self.settled: set[int] = set()
        self.asked: dict[str, asyncio.Future[IdentifyResult]] = {}
        self.sent = False
        self.calls: list[asyncio.Task[None]] = []

    async def identify(self, test: ResolvedTest, face_id: str) -> IdentifyResult:
        future = self.asked.get(face_id)
        if future is None:
            future = self.asked[face_id] = asyncio.get_running_loop().create_future()
        self.leave(test)
        return await future

    def leave(self, test: ResolvedTest) -> None:
        self.settled.add(id(test))
        if len(self.settled) == self.expected and not self.sent:
            self.sent = True
            ids = list(self.asked)
            for i in range(0, len(ids), IDENTIFY_BATCH):
                self.calls.append(asyncio.ensure_future(self._send(ids[i : i + IDENTIFY_BATCH])))

    async def _send(self, face_ids: list[str]) -> None:
        try:
            results = await self.client.identify(
                face_ids, kind=self.kind, group_id=self.group_id, max_candidates=3
            )
        except Exception as exc:  # handed to every test waiting on this call
            for face_id in face_ids:
                self.asked[face_id].set_exception(exc)
            return
        by_id = {r.face_id: r for r in results}
        for face_id in face_ids:
            self.asked[face_id].set_result(by_id.get(face_id, IdentifyResult(faceId=face_id)))


def _images(collection: DesiredCollection, base: str) -> dict[str, str]:
    """fingerprint -> image path as a test file would write it."""
    return {
        f.fingerprint: os.path.relpath(f.image_path, base)
        for f in collection.faces
        if f.fingerprint and f.image_path
    }


def _expected(test: ResolvedTest) -> str:
    spec = test.test.spec
    if spec.identify is not None:
        floor = f" (confidence ≥ {spec.identify.min_confidence})" if spec.identify.min_confidence else ""
        return f"{spec.identify.expect} in {spec.identify.in_}{floor}"
    if spec.verify is not None:
        floor = f" (confidence ≥ {spec.verify.min_confidence})" if spec.verify.min_confidence else ""
        return f"{spec.verify.expect} as {spec.verify.person}{floor}"
    if spec.find_similar is not None:
        similar = spec.find_similar
        return f"{similar.expect} within the first {similar.within} of {similar.in_}"
    assert spec.detect is not None
    return f"{spec.detect.faces} face(s)"


async def run_tests(client: FaceClient, tests: Sequence[ResolvedTest]) -> TestRun:
    """Run `tests` (already resolved against the configuration) with `client`."""
    before = dict(client.calls)
    results = await _Runner(client, tests).run()
    calls = {op: n - before.get(op, 0) for op, n in client.calls.items() if n - before.get(op, 0)}
    return TestRun(tuple(results), sum(calls.values()), calls)
