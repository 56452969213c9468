"""Detect the image of every face a plan adds, so a photo the service would refuse fails the plan
(in the pull request), not the apply after merge.

One detect call per new image (`returnFaceId=false`, the face's own detection model), only for
faces the plan creates or replaces from an `image:` or `url:`; a plan that adds nothing calls
nothing. The rules follow add-face (FACE_API_DIGEST.md §5):

* without `targetFace` the image must hold exactly one face: none, or several, is an error;
* with `targetFace` the service looks for a face inside that rectangle alone, so a rectangle
  smaller than the smallest detectable face is an error; one that overlaps no face detection
  finds in the whole image is a warning (the service may refuse it, or add what is not the
  intended face: it does not say which);
* the service refuses an undecodable image, one under 1 KB or over 6 MB, or a URL it cannot
  fetch: the detect call is refused the same way, and that refusal is an error.

The smallest detectable face is 36×36 px for every detection model (the specs give one figure:
detection_03's "improved accuracy on smaller faces (64x64)" is about accuracy, not a floor), in an
image up to 1920×1080; a larger image needs a proportionally larger face.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Sequence

from facesync.address import ResourceKind
from facesync.checks.faces import SAME_FACE_OVERLAP, overlap
from facesync.client import FaceAPIError, FaceClient
from facesync.client.models import DetectedFace
from facesync.config.images import ImageChanged, ImageError, probe_bytes, read_planned_image
from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL, DesiredFace, DesiredState, TargetFace
from facesync.plan import Action, Change, ImageChecks, ImageFinding, ImageProblem

log = logging.getLogger(__name__)

MIN_FACE_SIDE = 36
"""The smallest face (px) any detection model finds, in an image up to `REFERENCE_IMAGE`."""
REFERENCE_IMAGE = (1920, 1080)
IMAGE_REFUSALS = frozenset({"InvalidImage", "InvalidImageSize", "InvalidURL"})
"""Error codes by which the service refuses an image (anything else stops the run)."""
MAX_SHOWN_FACES = 5
MAX_SERVICE_TEXT = 200

Rect = tuple[int, int, int, int]


def smallest_face(detection_model: str, image_size: tuple[int, int] | None) -> int:
    """The side (px) of the smallest face `detection_model` finds in an image of `image_size`
    (None: unknown, e.g. a URL: the floor). One figure for every model, see the module doc."""
    if image_size is None:
        return MIN_FACE_SIDE
    long_side, short_side = max(image_size), min(image_size)
    scale = max(1.0, long_side / REFERENCE_IMAGE[0], short_side / REFERENCE_IMAGE[1])
    return math.ceil(MIN_FACE_SIDE * scale)


def new_faces(changes: Sequence[Change]) -> list[tuple[Change, DesiredFace]]:
    """The faces a plan adds from an image or a URL (a kept face adds nothing)."""
    found = []
    for change in changes:
        face = change.desired
        if (
            change.kind is ResourceKind.FACE
            and change.action in (Action.CREATE, Action.REPLACE)
            and change.appliable
            and isinstance(face, DesiredFace)
            and (face.image_path or face.url)
        ):
            found.append((change, face))
    return found


def _rects(faces: Sequence[DetectedFace]) -> tuple[Rect, ...]:
    return tuple(f.face_rectangle.rect for f in faces)


def _listed(rects: Sequence[Rect]) -> str:
    shown = ", ".join(str(list(r)) for r in rects[:MAX_SHOWN_FACES])
    more = f" and {len(rects) - MAX_SHOWN_FACES} more" if len(rects) > MAX_SHOWN_FACES else ""
    return shown + more


def _size_text(image_size: tuple[int, int] | None) -> str:
    return f"a {image_size[0]}×{image_size[1]} image" if image_size else "an image up to 1920×1080"


def judge(
    rects: Sequence[Rect],
    target: TargetFace | None,
    detection_model: str,
    image_size: tuple[int, int] | None,
) -> list[tuple[ImageProblem, bool, str]]:
    """What add-face would make of an image in which detection found `rects`: (problem, is an
    error, message) each; empty when it would add the intended face."""
    least = smallest_face(detection_model, image_size)
    if target is None:
        if not rects:
            return [
                (
                    ImageProblem.NO_FACE,
                    True,
                    f"no face detected ({detection_model} finds faces of {least}×{least} px and "
                    f"larger in {_size_text(image_size)})",
                )
            ]
        if len(rects) > 1:
            return [
                (
                    ImageProblem.SEVERAL_FACES,
                    True,
                    f"{len(rects)} faces detected and no targetFace says which one to add "
                    f"(faces at {_listed(rects)}, as [left, top, width, height])",
                )
            ]
        width, height = rects[0][2], rects[0][3]
        if min(width, height) < least:
            return [
                (
                    ImageProblem.FACE_BELOW_MINIMUM,
                    False,
                    f"the face is {width}×{height} px, under the {least}×{least} px the service "
                    f"documents as the smallest face it finds in {_size_text(image_size)}",
                )
            ]
        return []
    width, height = target[2], target[3]
    if min(width, height) < MIN_FACE_SIDE:
        return [
            (
                ImageProblem.TARGET_TOO_SMALL,
                True,
                f"targetFace {list(target)} is {width}×{height} px: no detection model finds a face "
                f"under {MIN_FACE_SIDE}×{MIN_FACE_SIDE} px, so the service finds none in that area",
            )
        ]
    problems: list[tuple[ImageProblem, bool, str]] = []
    if min(width, height) < least:
        problems.append(
            (
                ImageProblem.FACE_BELOW_MINIMUM,
                False,
                f"targetFace {list(target)} is {width}×{height} px, under the {least}×{least} px "
                f"the service documents as the smallest face it finds in {_size_text(image_size)}",
            )
        )
    if not any(overlap(rect, target) >= SAME_FACE_OVERLAP for rect in rects):
        found = f"the faces detected are at {_listed(rects)}" if rects else "no face was detected"
        problems.append(
            (
                ImageProblem.TARGET_MATCHES_NO_FACE,
                False,
                f"targetFace {list(target)} covers no detected face ({found}): the service looks "
                "for a face in that area only, and may refuse it or add something else",
            )
        )
    return problems


class _Detector:
    """Detects each distinct image once (the same photo in two places is one call), at most
    `parallelism` at a time: only that many images are held in memory."""

    def __init__(self, client: FaceClient, parallelism: int) -> None:
        self.client = client
        self.slots = asyncio.Semaphore(parallelism)
        self.calls: dict[tuple[str, str], asyncio.Task[list[DetectedFace]]] = {}
        self.sizes: dict[str, tuple[int, int] | None] = {}

    def detect(self, face: DesiredFace, recognition_model: str) -> Awaitable[list[DetectedFace]]:
        # Without faceIds the recognition model changes nothing: a directory photo enrolled in
        # two models is detected once.
        source = face.image_sha256 or face.image_path or face.url or ""
        key = (source, face.detection_model)
        if key not in self.calls:
            self.calls[key] = asyncio.ensure_future(self._detect(face, recognition_model))
        return self.calls[key]

    async def _detect(self, face: DesiredFace, recognition_model: str) -> list[DetectedFace]:
        async with self.slots:
            data = None
            if face.image_path is not None:
                data = read_planned_image(face)
                try:
                    info = probe_bytes(data)
                    self.sizes[face.image_path] = (info.width, info.height)
                except ImageError:
                    self.sizes[face.image_path] = None  # the service says why
            return await self.client.detect(
                data,
                url=face.url if data is None else None,
                recognition_model=recognition_model,
                detection_model=face.detection_model,
                return_face_id=False,
            )


async def check_images(
    client: FaceClient, changes: Sequence[Change], desired: DesiredState, *, parallelism: int = 8
) -> ImageChecks:
    """Detect the image of every face `changes` add and judge it (see the module doc). A service
    refusal of the image is a finding; any other failure (unreachable, a 5xx after retries) is
    raised, as it is for the rest of the plan."""
    faces = new_faces(changes)
    if not faces:
        return ImageChecks(checked=0)
    detector = _Detector(client, parallelism)

    async def one(change: Change, face: DesiredFace) -> list[ImageFinding]:
        address = change.address
        # A directory face names its model; any other face is stored under its collection's.
        collection = desired.collection(address.collection_kind, address.collection_id)
        model = address.model or (
            collection.recognition_model if collection else SERVICE_DEFAULT_RECOGNITION_MODEL
        )
        image = face.image_path or face.url or ""

        def finding(
            problem: ImageProblem, error: bool, message: str, rects: tuple[Rect, ...] = ()
        ) -> ImageFinding:
            return ImageFinding(
                address, problem, error, message, image, face.detection_model, face.pos, rects
            )

        try:
            detected = await detector.detect(face, model)
        except OSError as exc:
            return [
                finding(ImageProblem.IMAGE_UNREADABLE, True, f"cannot read the image: {exc.strerror or exc}")
            ]
        except ImageChanged:
            return [
                finding(
                    ImageProblem.IMAGE_UNREADABLE,
                    True,
                    "the image changed while the plan was made; plan again",
                )
            ]
        except FaceAPIError as exc:
            if exc.status != 400 or exc.code not in IMAGE_REFUSALS:
                raise
            said = exc.message[:MAX_SERVICE_TEXT]
            return [
                finding(
                    ImageProblem.IMAGE_REFUSED, True, f"the service refuses the image: {exc.code}: {said}"
                )
            ]
        rects = _rects(detected)
        size = detector.sizes.get(face.image_path) if face.image_path else None
        return [
            finding(problem, error, message, rects)
            for problem, error, message in judge(rects, face.target_face, face.detection_model, size)
        ]

    tasks = [asyncio.ensure_future(one(change, face)) for change, face in faces]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        # A failure (or the run's cancellation) stops the checks not yet made: none is left
        # running behind the caller, and an unreachable service is not tried once per image.
        unfinished = [t for t in (*tasks, *detector.calls.values()) if not t.done()]
        for task in unfinished:
            task.cancel()
        await asyncio.gather(*unfinished, return_exceptions=True)
        for call in detector.calls.values():
            if call.done() and not call.cancelled():
                call.exception()  # retrieved: what it raised is reported by the check that awaited it
    failure = next((t.exception() for t in tasks if not t.cancelled() and t.exception()), None)
    if failure is not None:
        raise failure
    findings = tuple(f for task in tasks for f in task.result())
    log.info(
        "checked %d new face image(s) with %d detect call(s): %d finding(s)",
        len(faces),
        len(detector.calls),
        len(findings),
    )
    return ImageChecks(checked=len(faces), findings=findings)
