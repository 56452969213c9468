"""The real engine: dlib's HOG face detector, 5-point landmarks and 128-d ResNet descriptors.

Needs the `recognition` extra (dlib-bin, face-recognition-models, numpy); the models ship inside
face-recognition-models, so nothing is downloaded at run time.

Confidence from the Euclidean distance d between two descriptors (docs/emulator.md,
"Calibration"; figures printed by bench/recognition_accuracy.py), monotone decreasing:

* d <= MIDPOINT: straight lines through CALIBRATION, the service's recorded confidences at our
  distances for the same photo pairs (identification1.jpg's four faces against the Family1 photos
  enrolled in the recorded identify session; the same photo, 1.0 in the recorded find-similar),
  plus one anchor of ours, NEAR_DUPLICATE: 0.97 (facesync audit's near-duplicate threshold) at a
  distance between re-encoded copies of one photo (d <= 0.103 on the test photos: JPEG quality 60
  to 90, a 2x PNG) and two distinct photos of one person (d >= 0.233), so that the audit tells
  them apart on this engine as on the service. Without it the old logistic gave 0.98 to two
  photos of one man.
* d > MIDPOINT: 1 / (1 + exp((d - MIDPOINT) / SCALE)), 0.5 at MIDPOINT and falling fast: no
  recorded pair sits there beyond "not a candidate" (d >= 0.609 in the recorded identify).

MIDPOINT sits between the largest same-person distance we know (0.453: the recorded Daughter1
pair, 0.906 at the service) and the smallest different-person one (0.481: a brother and sister
among the 16 labelled Family photos); dlib's own rule of thumb, 0.6, would call that sister her
brother.
"""

from __future__ import annotations

import logging
import math
import struct
import threading
from typing import Any

import dlib
import face_recognition_models
import numpy as np
from PIL import Image

from facesync.emulator import detection
from facesync.emulator.detection import Rect
from facesync.emulator.errors import bad_argument, invalid_image
from facesync.emulator.recognition.faces import Face, by_size, single_face

log = logging.getLogger(__name__)

MIDPOINT = 0.467
SCALE = 0.05
NEAR_DUPLICATE = (0.16, 0.97)
# (distance, confidence): ours for the pair, the service's recorded answer for it.
CALIBRATION: tuple[tuple[float, float], ...] = (
    (0.0, 1.0),  # the same photo (recorded find-similar: 1.0)
    NEAR_DUPLICATE,
    (0.296, 0.96461),  # identification1 face vs Family1-Mom1 (recorded identify)
    (0.374, 0.95299),  # ... vs Family1-Dad1
    (0.390, 0.92422),  # ... vs Family1-Son1
    (0.453, 0.90612),  # ... vs Family1-Daughter1
    (MIDPOINT, 0.5),
)
DIMENSIONS = 128
# One pass at 2x finds faces down to about 40 px; the service's minimum is 36x36.
UPSAMPLE = 1
# Detection runs on a copy at most this long (original pixels for landmarks and descriptors):
# with UPSAMPLE it still finds faces down to 40 * longer_side / 1280 px, i.e. the service's 36 px
# in images up to ~1150 px and a proportionally larger minimum beyond, as the service has above
# 1920x1080 (docs/emulator.md, "Speed").
DETECT_MAX_SIDE = 1280
# The service's rectangle runs from the brow to the chin; dlib's square is tighter and lower.
# Scale factors fitted on the recorded rectangles of identification1.jpg, Family1-Mom1.jpg and
# Family2-Lady1.jpg (mean ratio of the service's width and height to dlib's box side).
RECT_WIDTH, RECT_HEIGHT, RECT_LIFT = 0.94, 1.26, 0.2


def _pack(vector: Any) -> bytes:
    return struct.pack(f"<{DIMENSIONS}f", *vector)


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


class RealEngine:
    """dlib's models, loaded on first use: the emulator's main process only compares descriptors
    (numpy), while detection runs in worker processes that each load their own copy."""

    name = "real"
    # Everything that changes what detect() returns for given bytes: the feature cache's key.
    cache_tag = f"dlib-hog-up{UPSAMPLE}-side{DETECT_MAX_SIDE}-rect{RECT_WIDTH},{RECT_HEIGHT},{RECT_LIFT}"

    def __init__(self) -> None:
        self._models: tuple[Any, Any, Any] | None = None
        # dlib's models are not thread-safe (two threads sharing one crash the process).
        self._lock = threading.Lock()

    def _loaded(self) -> tuple[Any, Any, Any]:
        if self._models is None:
            self._models = (
                dlib.get_frontal_face_detector(),
                dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location()),
                dlib.face_recognition_model_v1(face_recognition_models.face_recognition_model_location()),
            )
            log.debug("dlib models loaded")
        return self._models

    def load(self) -> None:
        """Load the models now (a worker process does this as it starts)."""
        with self._lock:
            self._loaded()

    @staticmethod
    def _service_rect(box: Any, width: int, height: int) -> Rect:
        w = box.width() * RECT_WIDTH
        h = box.height() * RECT_HEIGHT
        cx = box.left() + box.width() / 2
        top = box.top() - box.height() * RECT_LIFT
        left = max(0, round(cx - w / 2))
        top_i = max(0, round(top))
        return left, top_i, min(round(w), width - left), min(round(h), height - top_i)

    def _face(self, pixels: np.ndarray, box: Any, rect: Rect) -> Face:
        _, landmarks, encoder = self._loaded()
        shape = landmarks(pixels, box)
        vector = encoder.compute_face_descriptor(pixels, shape)
        # 5-point model: 0,1 = right eye corners, 2,3 = left eye corners, 4 = nose base.
        pts = [(shape.part(i).x, shape.part(i).y) for i in range(5)]
        left_pupil = ((pts[2][0] + pts[3][0]) / 2, (pts[2][1] + pts[3][1]) / 2)
        right_pupil = ((pts[0][0] + pts[1][0]) / 2, (pts[0][1] + pts[1][1]) / 2)
        first, second = sorted([left_pupil, right_pupil])
        return Face(
            rect,
            _pack(vector),
            points=(first, second, (float(pts[4][0]), float(pts[4][1]))),
            sharpness=_sharpness(pixels, rect),
            brightness=_brightness(pixels, rect),
        )

    def _boxes(self, img: Image.Image) -> list[Any]:
        """dlib's face boxes in the image's own pixels, found on a copy no longer than
        DETECT_MAX_SIDE: the detector's cost grows with the pixels, and a face that is a few
        percent of a large photo is still over the detector's window at that size."""
        scale = min(1.0, DETECT_MAX_SIDE / max(img.size))
        detector = self._loaded()[0]
        if scale >= 1.0:
            return list(detector(np.asarray(img), UPSAMPLE))
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        small = np.asarray(img.resize(size, Image.Resampling.BILINEAR))
        return [
            dlib.rectangle(*(round(v / scale) for v in (b.left(), b.top(), b.right(), b.bottom())))
            for b in detector(small, UPSAMPLE)
        ]

    def detect(self, data: bytes) -> list[Face]:
        img, _ = detection.decode(data)  # the service's size and format checks, and their errors
        rgb = img.convert("RGB")
        pixels = np.asarray(rgb)
        height, width = pixels.shape[:2]
        with self._lock:
            faces = []
            for box in self._boxes(rgb):
                rect = self._service_rect(box, width, height)
                if rect[2] >= detection.MIN_FACE and rect[3] >= detection.MIN_FACE:
                    faces.append(self._face(pixels, box, rect))
        return by_size(faces)

    def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        if target is None:
            return single_face(self.detect(data))
        img, _ = detection.decode(data)
        pixels = np.asarray(img.convert("RGB"))
        height, width = pixels.shape[:2]
        left, top, w, h = target
        if left + w > width or top + h > height:
            raise bad_argument(detection.TARGET_RANGE)
        if w < detection.MIN_FACE or h < detection.MIN_FACE:
            raise invalid_image(detection.NO_FACE_IN_TARGET)
        # Like the service, a targetFace skips detection: the landmarks are fitted inside it.
        box = dlib.rectangle(left, top + round(h * 0.15), left + w, top + h)
        with self._lock:
            return self._face(pixels, box, target)

    def confidence(self, a: bytes, b: bytes) -> float:
        return confidence_from_distance(distance(a, b))


def distance(a: bytes, b: bytes) -> float:
    """Euclidean distance between two packed descriptors."""
    return float(np.linalg.norm(_unpack(a) - _unpack(b)))


def confidence_from_distance(d: float) -> float:
    if d <= MIDPOINT:
        return float(np.interp(d, [x for x, _ in CALIBRATION], [c for _, c in CALIBRATION]))
    return 1.0 / (1.0 + math.exp((d - MIDPOINT) / SCALE))


def _sharpness(pixels: np.ndarray, rect: Rect) -> float:
    left, top, w, h = rect
    gray = pixels[top : top + h, left : left + w].mean(axis=2)
    if gray.shape[0] < 3 or gray.shape[1] < 3:
        return 0.0
    lap = gray[1:-1, 1:-1] * 4 - gray[:-2, 1:-1] - gray[2:, 1:-1] - gray[1:-1, :-2] - gray[1:-1, 2:]
    # Variance of the Laplacian: ~0 for a smooth blur, hundreds for a sharp photo.
    return float(min(1.0, lap.var() / 100.0))


def _brightness(pixels: np.ndarray, rect: Rect) -> float:
    left, top, w, h = rect
    return float(pixels[top : top + h, left : left + w].mean() / 255.0)
