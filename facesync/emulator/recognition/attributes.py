"""returnFaceAttributes and returnFaceLandmarks: which the models allow, and their values.

Rules (docs/emulator.md, "Recognition"): detection_02 returns no attributes and no landmarks;
detection_03 returns only headPose, mask and qualityForRecognition (and landmarks); mask needs
detection_03; qualityForRecognition needs recognition_03 or recognition_04. The attributes
Microsoft retired or limited are 403 UnsupportedFeature on v1.0 and unknown (400) from v1.1 on.
"""

from __future__ import annotations

import math
from typing import Any

from facesync.emulator.errors import ApiError, bad_argument
from facesync.emulator.recognition.faces import Face

SUPPORTED = (
    "headPose",
    "glasses",
    "occlusion",
    "accessories",
    "blur",
    "exposure",
    "noise",
    "mask",
    "qualityForRecognition",
)
RETIRED = ("age", "gender", "smile", "facialHair", "emotion", "hair", "makeup")
DETECTION_03 = ("headPose", "mask", "qualityForRecognition")
QUALITY_MODELS = ("recognition_03", "recognition_04")
# Face width (px) from which recognition quality is medium / high: the service recommends
# 200x200 faces, and the recorded 227 px face was "high".
QUALITY_MEDIUM, QUALITY_HIGH = 50, 100

_CANONICAL = {name.lower(): name for name in (*SUPPORTED, *RETIRED)}


def parse_attributes(
    value: str | None, new_style: bool, detection_model: str, recognition_model: str
) -> list[str]:
    if value is None or not value.strip():
        return []
    wanted: list[str] = []
    for raw in value.split(","):
        name = _CANONICAL.get(raw.strip().lower())
        if name is None or (name in RETIRED and new_style):
            raise bad_argument(f"Invalid argument returnFaceAttributes: '{raw.strip()}' is not supported.")
        if name in RETIRED:
            raise ApiError(
                403,
                "UnsupportedFeature",
                f"Feature is not supported, '{name}' attribute has been retired or limited.",
            )
        if name not in wanted:
            wanted.append(name)
    if detection_model == "detection_02":
        raise bad_argument("'returnFaceAttributes' is not supported by detection_02.")
    for name in wanted:
        if detection_model == "detection_03" and name not in DETECTION_03:
            raise bad_argument(f"Attribute '{name}' is not supported by detection_03.")
        if name == "mask" and detection_model != "detection_03":
            raise bad_argument("Attribute 'mask' is only supported by detection_03.")
        if name == "qualityForRecognition" and recognition_model not in QUALITY_MODELS:
            raise bad_argument(
                "Attribute 'qualityForRecognition' is only supported by recognition_03 and recognition_04."
            )
    return wanted


def _level(value: float, names: tuple[str, str, str]) -> str:
    return names[0] if value < 0.25 else names[1] if value < 0.75 else names[2]


def _roll(face: Face) -> float:
    if len(face.points) >= 2:
        (lx, ly), (rx, ry) = face.points[0], face.points[1]
        return round(math.degrees(math.atan2(ry - ly, rx - lx)), 1)
    return 0.0


def attributes_json(face: Face, wanted: list[str]) -> dict[str, Any]:
    blur = round(min(1.0, max(0.0, 1.0 - face.sharpness)), 2)
    exposure = round(min(1.0, max(0.0, face.brightness)), 2)
    values: dict[str, Any] = {
        "headPose": {"pitch": 0.0, "roll": _roll(face), "yaw": 0.0},
        "glasses": "NoGlasses",
        "occlusion": {"foreheadOccluded": False, "eyeOccluded": False, "mouthOccluded": False},
        "accessories": [],
        "blur": {"blurLevel": _level(blur, ("low", "medium", "high")), "value": blur},
        "exposure": {
            "exposureLevel": _level(exposure, ("underExposure", "goodExposure", "overExposure")),
            "value": exposure,
        },
        "noise": {"noiseLevel": "low", "value": 0.0},
        "mask": {"type": "noMask", "noseAndMouthCovered": False},
    }
    side = min(face.rect[2], face.rect[3])
    values["qualityForRecognition"] = (
        "high" if side >= QUALITY_HIGH and blur < 0.75 else "medium" if side >= QUALITY_MEDIUM else "low"
    )
    return {name: values[name] for name in wanted}


# The 27 landmarks as fractions of the face rectangle (x, y), for an upright frontal face.
_LANDMARKS: dict[str, tuple[float, float]] = {
    "pupilLeft": (0.31, 0.40),
    "pupilRight": (0.69, 0.40),
    "noseTip": (0.50, 0.62),
    "mouthLeft": (0.35, 0.80),
    "mouthRight": (0.65, 0.80),
    "eyebrowLeftOuter": (0.15, 0.30),
    "eyebrowLeftInner": (0.42, 0.28),
    "eyeLeftOuter": (0.22, 0.41),
    "eyeLeftTop": (0.31, 0.37),
    "eyeLeftBottom": (0.31, 0.43),
    "eyeLeftInner": (0.40, 0.41),
    "eyebrowRightInner": (0.58, 0.28),
    "eyebrowRightOuter": (0.85, 0.30),
    "eyeRightInner": (0.60, 0.41),
    "eyeRightTop": (0.69, 0.37),
    "eyeRightBottom": (0.69, 0.43),
    "eyeRightOuter": (0.78, 0.41),
    "noseRootLeft": (0.45, 0.42),
    "noseRootRight": (0.55, 0.42),
    "noseLeftAlarTop": (0.43, 0.55),
    "noseRightAlarTop": (0.57, 0.55),
    "noseLeftAlarOutTip": (0.40, 0.62),
    "noseRightAlarOutTip": (0.60, 0.62),
    "upperLipTop": (0.50, 0.75),
    "upperLipBottom": (0.50, 0.78),
    "underLipTop": (0.50, 0.82),
    "underLipBottom": (0.50, 0.86),
}
_MEASURED = ("pupilLeft", "pupilRight", "noseTip", "mouthLeft", "mouthRight")


def landmarks_json(face: Face) -> dict[str, dict[str, float]]:
    """Proportional landmarks; the ones the engine measured replace the proportional guesses."""
    left, top, width, height = face.rect
    out = {
        name: {"x": round(left + fx * width, 1), "y": round(top + fy * height, 1)}
        for name, (fx, fy) in _LANDMARKS.items()
    }
    for name, (x, y) in zip(_MEASURED, face.points, strict=False):
        out[name] = {"x": round(x, 1), "y": round(y, 1)}
    return out
