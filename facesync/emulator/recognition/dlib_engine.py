"""The real engine: dlib's HOG face detector, 5-point landmarks and 128-d ResNet descriptors.

Needs the `recognition` extra (dlib-bin, face-recognition-models, numpy); the models ship inside
face-recognition-models, so nothing is downloaded at run time.

Confidence from the Euclidean distance d between two descriptors (docs/emulator.md):
    confidence = 1 / (1 + exp((d - MIDPOINT) / SCALE))
monotone decreasing, 0.5 exactly at d = MIDPOINT. MIDPOINT is calibrated on the 16 labelled
Family photos in tests/data/faces (bench/recognition_accuracy.py): their same-person distances
reach 0.435 and their different-person distances start at 0.481 (a brother and sister), so the
midpoint sits between; dlib's own rule of thumb, 0.6, would call that sister her brother.
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

from facesync.emulator import detection
from facesync.emulator.detection import Rect
from facesync.emulator.errors import bad_argument, invalid_image
from facesync.emulator.recognition.engines import Face, by_size, open_image

log = logging.getLogger(__name__)

MIDPOINT = 0.46
SCALE = 0.05
DIMENSIONS = 128
# One pass at 2x finds faces down to about 40 px; the service's minimum is 36x36.
UPSAMPLE = 1
# The service's rectangle runs from the brow to the chin; dlib's square is tighter and lower.
# Scale factors fitted on the recorded rectangles of identification1.jpg, Family1-Mom1.jpg and
# Family2-Lady1.jpg (mean ratio of the service's width and height to dlib's box side).
RECT_WIDTH, RECT_HEIGHT, RECT_LIFT = 0.94, 1.26, 0.2


def _pack(vector: Any) -> bytes:
    return struct.pack(f"<{DIMENSIONS}f", *vector)


def _unpack(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype="<f4")


class RealEngine:
    name = "real"

    def __init__(self) -> None:
        self._detector = dlib.get_frontal_face_detector()
        self._landmarks = dlib.shape_predictor(
            face_recognition_models.pose_predictor_five_point_model_location()
        )
        self._encoder = dlib.face_recognition_model_v1(
            face_recognition_models.face_recognition_model_location()
        )
        # dlib's models are not documented as thread-safe and the handlers run in threads.
        self._lock = threading.Lock()

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
        shape = self._landmarks(pixels, box)
        vector = self._encoder.compute_face_descriptor(pixels, shape)
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

    def _pixels(self, data: bytes) -> np.ndarray:
        return np.asarray(open_image(data).convert("RGB"))

    def detect(self, data: bytes) -> list[Face]:
        detection.detect(data)  # the service's size and format checks, and their errors
        pixels = self._pixels(data)
        height, width = pixels.shape[:2]
        with self._lock:
            boxes = self._detector(pixels, UPSAMPLE)
            faces = []
            for box in boxes:
                rect = self._service_rect(box, width, height)
                if rect[2] >= detection.MIN_FACE and rect[3] >= detection.MIN_FACE:
                    faces.append(self._face(pixels, box, rect))
        return by_size(faces)

    def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        if target is None:
            faces = self.detect(data)
            if not faces:
                raise invalid_image(detection.NO_FACE)
            if len(faces) > 1:
                raise invalid_image(detection.MANY_FACES)
            return faces[0]
        detection.detect(data)
        pixels = self._pixels(data)
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
        return confidence_from_distance(float(np.linalg.norm(_unpack(a) - _unpack(b))))


def confidence_from_distance(distance: float) -> float:
    return 1.0 / (1.0 + math.exp((distance - MIDPOINT) / SCALE))


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
