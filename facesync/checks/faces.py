"""Which detected face an image stands for: the one `targetFace` names, the n-th, or the only one.

Test probes and configured images follow the rule apply follows: an image with several faces
needs a targetFace (or, for probes, `face: n`)."""

from __future__ import annotations

from collections.abc import Sequence

from facesync.client.models import DetectedFace
from facesync.model import TargetFace

# A targetFace and a detected rectangle are the same face when they overlap this much (IoU);
# the service's own rectangles and a hand-drawn box differ by a few pixels, not by half.
SAME_FACE_OVERLAP = 0.3


class NoFace(Exception):
    """The image gives no usable face; the message says why."""


def overlap(a: TargetFace, b: TargetFace) -> float:
    """Intersection over union of two `(left, top, width, height)` rectangles."""
    left, top = max(a[0], b[0]), max(a[1], b[1])
    right, bottom = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, right - left) * max(0, bottom - top)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union > 0 else 0.0


def pick_face(
    faces: Sequence[DetectedFace], *, index: int | None = None, target: TargetFace | None = None
) -> DetectedFace:
    """The face an image stands for; raises `NoFace` with the reason."""
    if not faces:
        raise NoFace("no face detected")
    if target is not None:
        best = max(faces, key=lambda f: overlap(f.face_rectangle.rect, target))
        if overlap(best.face_rectangle.rect, target) < SAME_FACE_OVERLAP:
            found = "; ".join(str(list(f.face_rectangle.rect)) for f in faces[:5])
            raise NoFace(f"no detected face matches targetFace {list(target)} (faces at {found})")
        return best
    if index is not None:
        if index >= len(faces):
            raise NoFace(f"face {index} asked for, but {len(faces)} face(s) detected")
        return faces[index]
    if len(faces) > 1:
        raise NoFace(f"{len(faces)} faces detected and no targetFace names one")
    return faces[0]
