"""What every recognition engine shares: the Face record, the Engine contract and image helpers.

The engines (`engines`, `dlib_engine`) import from here and never from each other, so no engine
module depends on another; `engines.load_engine` is the one place that picks between them.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field
from typing import Protocol

from PIL import Image

from facesync.emulator import detection
from facesync.emulator.detection import Rect
from facesync.emulator.errors import invalid_image


@dataclass(frozen=True)
class Face:
    """One detected face: its rectangle, its descriptor and what the attributes are made from.

    Plain data (no model objects), so it crosses a process boundary and a cache row unchanged.
    """

    rect: Rect
    descriptor: bytes
    # (x, y) points: pupilLeft, pupilRight, noseTip, mouthLeft, mouthRight when the engine has them.
    points: tuple[tuple[float, float], ...] = field(default=())
    sharpness: float = 1.0
    brightness: float = 0.5


class Engine(Protocol):
    name: str

    def detect(self, data: bytes) -> list[Face]:
        """Every detectable face of a valid image, largest first (image errors raise ApiError)."""
        ...

    def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        """The one face add-face persists, or the service's 400."""
        ...

    def confidence(self, a: bytes, b: bytes) -> float:
        """Same-person confidence in [0, 1] for two descriptors of this engine."""
        ...


def open_image(data: bytes) -> Image.Image:
    """Decode bytes the detection rule already validated."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        img = Image.open(io.BytesIO(data))
        img.load()
    return img


def by_size(faces: list[Face]) -> list[Face]:
    """The service lists faces largest first; ties keep left-to-right order for stability."""
    return sorted(faces, key=lambda f: (-(f.rect[2] * f.rect[3]), f.rect[0], f.rect[1]))


def single_face(faces: list[Face]) -> Face:
    """The face add-face persists when no targetFace is given, or the service's 400."""
    if not faces:
        raise invalid_image(detection.NO_FACE)
    if len(faces) > 1:
        raise invalid_image(detection.MANY_FACES)
    return faces[0]
