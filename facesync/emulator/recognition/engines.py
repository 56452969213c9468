"""Recognition engines: find faces in an image and give each one a comparable descriptor.

Two engines share one contract (docs/emulator.md, "Recognition"):

* `DeterministicEngine`: the emulator's detection rule plus an identity per face, taken from an
  `identity` annotation or else a perceptual hash of the face crop.
* `RealEngine` (facesync.emulator.recognition.dlib_engine): dlib's detector and 128-d ResNet
  descriptors, when the `recognition` extra is installed.

Descriptors are opaque bytes tagged with the engine that made them; only that engine compares them.
The shared names (Face, Engine, open_image, by_size) live in `faces`, below both engines.
"""

from __future__ import annotations

import logging
import os

from PIL import Image

from facesync.emulator import detection
from facesync.emulator.detection import Rect
from facesync.emulator.recognition.faces import Engine, Face, by_size, open_image

# Face and Engine are re-exported: handlers and tests have long imported them from here.
__all__ = [
    "MODES",
    "DeterministicEngine",
    "Engine",
    "EngineUnavailable",
    "Face",
    "by_size",
    "load_engine",
    "open_image",
    "real_available",
]

log = logging.getLogger(__name__)

MODES = ("auto", "real", "deterministic")
ENV_VAR = "FACESYNC_RECOGNITION"
INSTALL_HINT = "pip install 'facesync[recognition]'"

# Hash-based confidence falls to 0 at half the bits differing (unrelated images differ in about
# half of them), so only near-copies of a crop score above the 0.5 same-person threshold.
HASH_BITS = 64
SAME_LABEL_FLOOR = 0.75
OTHER_LABEL_CEILING = 0.25


# ---- the deterministic engine ------------------------------------------------------------


def _annotation(img: Image.Image, key: str) -> str | None:
    """A PNG text chunk `key`, or a line `key=...` in a JPEG/GIF comment."""
    text = getattr(img, "text", None)
    if isinstance(text, dict) and key in text:
        return str(text[key])
    if key in img.info and key != "comment":
        return str(img.info[key])
    comment = img.info.get("comment")
    if isinstance(comment, bytes):
        comment = comment.decode("latin-1")
    if isinstance(comment, str):
        for line in comment.splitlines():
            if line.startswith(key + "="):
                return line[len(key) + 1 :]
    return None


def identity_labels(img: Image.Image) -> dict[Rect | None, str]:
    """Face rectangle -> `identity` label; key None when the image has no `faces` annotation.

    Labels align with the `faces` list as written (before too-small faces are dropped), so they
    are paired here by rectangle rather than by position in the detected list.
    """
    value = _annotation(img, "identity")
    if value is None:
        return {}
    labels = [label.strip() for label in value.split(";")]
    faces = _annotation(img, "faces")
    if faces is None:
        return {None: labels[0]} if labels else {}
    rects = detection.parse_annotation(faces)
    return {rect: label for rect, label in zip(rects, labels, strict=False)}


def dhash(img: Image.Image, rect: Rect) -> int:
    """64-bit difference hash of the face crop: stable under re-encoding, different per picture."""
    left, top, width, height = rect
    crop = img.convert("L").crop((left, top, left + width, top + height)).resize((9, 8))
    px = crop.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            bits = (bits << 1) | (px[row * 9 + col] > px[row * 9 + col + 1])
    return bits


def _signature(label: str, hashed: int) -> bytes:
    return f"{label}\x00{hashed:016x}".encode()


def _unpack(descriptor: bytes) -> tuple[str, int]:
    label, _, hashed = descriptor.decode().partition("\x00")
    return label, int(hashed, 16)


def _brightness(img: Image.Image, rect: Rect) -> float:
    left, top, width, height = rect
    crop = img.convert("L").crop((left, top, left + width, top + height)).resize((16, 16))
    px = crop.tobytes()
    return sum(px) / (len(px) * 255)


class DeterministicEngine:
    """The documented detection rule; identity from the annotation, else from the crop's hash."""

    name = "deterministic"

    def _faces(self, data: bytes, rects: list[Rect]) -> list[Face]:
        img = open_image(data)
        labels = identity_labels(img)
        faces = []
        for rect in rects:
            label = labels.get(rect, labels.get(None, ""))
            faces.append(Face(rect, _signature(label, dhash(img, rect)), brightness=_brightness(img, rect)))
        return faces

    def detect(self, data: bytes) -> list[Face]:
        return by_size(self._faces(data, detection.detect(data)))

    def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        rect = detection.face_for_add(data, target)
        return self._faces(data, [rect])[0]

    def confidence(self, a: bytes, b: bytes) -> float:
        label_a, hash_a = _unpack(a)
        label_b, hash_b = _unpack(b)
        differing = (hash_a ^ hash_b).bit_count()
        by_hash = max(0.0, 1.0 - 2 * differing / HASH_BITS)
        if label_a and label_b:
            if label_a == label_b:
                return SAME_LABEL_FLOOR + (1 - SAME_LABEL_FLOOR) * by_hash
            return OTHER_LABEL_CEILING * by_hash
        return by_hash


# ---- choosing one ------------------------------------------------------------------------


class EngineUnavailable(RuntimeError):
    pass


def real_available() -> bool:
    try:
        import dlib  # noqa: F401
        import face_recognition_models  # noqa: F401
        import numpy  # noqa: F401
    except ImportError:
        return False
    return True


def load_engine(mode: str | None = None) -> Engine:
    """`auto` picks the real engine when its packages import; None reads $FACESYNC_RECOGNITION.

    Without an explicit choice the default is deterministic, so tests and `create_app()` stay fast.
    """
    if mode is None:
        mode = os.environ.get(ENV_VAR, "deterministic") or "deterministic"
    mode = mode.lower()
    if mode not in MODES:
        raise ValueError(f"recognition engine must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "deterministic" or (mode == "auto" and not real_available()):
        return DeterministicEngine()
    if not real_available():
        raise EngineUnavailable(
            f"the real recognition engine needs dlib and face-recognition-models: {INSTALL_HINT}"
        )
    from facesync.emulator.recognition.dlib_engine import RealEngine

    return RealEngine()
