"""Deterministic "face detection" for the emulator (the rule is in docs/emulator.md).

* An image carrying a `faces` annotation (PNG text chunk `faces`, or a line `faces=...` in a JPEG
  or GIF comment) has exactly the listed rectangles `l,t,w,h;l,t,w,h` (empty = no face).
* Otherwise a near-uniform image (grayscale 32x32 thumbnail with max - min <= 8) has no face,
  and any other image has one face: the centred square whose side is min(w, h) // 2.
* Faces smaller than 36x36 are not detected.
"""

from __future__ import annotations

import io
import warnings

from PIL import Image

from facesync.emulator.errors import bad_argument, invalid_image, invalid_image_size

MIN_BYTES = 1024
MAX_BYTES = 6 * 1024 * 1024
MIN_SIDE = 36
MAX_SIDE = 4096
MIN_FACE = 36
UNIFORM_SPREAD = 8

Rect = tuple[int, int, int, int]

NO_FACE = "No face detected in the image."
NO_FACE_IN_TARGET = "No face detected in the image or in the specified targetFace area."
MANY_FACES = "There is more than 1 face in the image."
DECODING = "Decoding error, image format unsupported."
TOO_SMALL = "Image size is too small."
TOO_BIG = "Image size is too big."
TARGET_INVALID = "Invalid argument targetFace."
TARGET_RANGE = "Argument targetFace out of range."


def image_format(data: bytes) -> str | None:
    """JPEG, PNG, GIF or BMP by magic bytes, else None."""
    if data[:3] == b"\xff\xd8\xff":
        return "JPEG"
    if data[:8] == b"\x89PNG\r\n\x1a\n":
        return "PNG"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if data[:2] == b"BM":
        return "BMP"
    return None


def parse_target_face(value: str | None) -> Rect | None:
    """`left,top,width,height` as 4 integers; width/height > 0 and left/top >= 0."""
    if value is None:
        return None
    parts = value.split(",")
    if len(parts) != 4:
        raise bad_argument(TARGET_INVALID)
    try:
        left, top, width, height = (int(p.strip()) for p in parts)
    except ValueError:
        raise bad_argument(TARGET_INVALID) from None
    if left < 0 or top < 0 or width <= 0 or height <= 0:
        raise bad_argument(TARGET_INVALID)
    return left, top, width, height


def _annotation(img: Image.Image, fmt: str) -> str | None:
    if fmt == "PNG":
        text = getattr(img, "text", None) or {}
        value = text.get("faces", img.info.get("faces"))
        return None if value is None else str(value)
    if fmt in ("JPEG", "GIF"):
        comment = img.info.get("comment")
        if comment is None:
            return None
        if isinstance(comment, bytes):
            comment = comment.decode("latin-1")
        for line in comment.splitlines():
            if line.startswith("faces="):
                return line[len("faces=") :]
    return None


def parse_annotation(value: str) -> list[Rect]:
    """`l,t,w,h;l,t,w,h` → rectangles (malformed items are skipped)."""
    rects: list[Rect] = []
    for item in value.strip().split(";"):
        if not item.strip():
            continue
        try:
            nums = [int(v) for v in item.split(",")]
        except ValueError:
            continue
        if len(nums) == 4:
            rects.append((nums[0], nums[1], nums[2], nums[3]))
    return rects


def _near_uniform(img: Image.Image) -> bool:
    # One byte per pixel in mode "L"; getextrema() is typed for every mode, bytes are not.
    pixels = img.convert("L").resize((32, 32)).tobytes()
    return max(pixels) - min(pixels) <= UNIFORM_SPREAD


def decode(data: bytes) -> tuple[Image.Image, str]:
    """The decoded image and its format, after the service's size and format checks."""
    if len(data) < MIN_BYTES:
        raise invalid_image_size(TOO_SMALL)
    if len(data) > MAX_BYTES:
        raise invalid_image_size(TOO_BIG)
    fmt = image_format(data)
    if fmt is None:
        raise invalid_image(DECODING)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            img = Image.open(io.BytesIO(data))
            img.load()
    except Exception:
        raise invalid_image(DECODING) from None
    width, height = img.size
    if width < MIN_SIDE or height < MIN_SIDE:
        raise invalid_image_size(TOO_SMALL)
    if width > MAX_SIDE or height > MAX_SIDE:
        raise invalid_image_size(TOO_BIG)
    return img, fmt


def detect(data: bytes) -> list[Rect]:
    """All detectable faces of an image (validating size and format first)."""
    img, fmt = decode(data)
    return _faces(img, fmt)


def _faces(img: Image.Image, fmt: str) -> list[Rect]:
    annotation = _annotation(img, fmt)
    if annotation is not None:
        faces = parse_annotation(annotation)
    elif _near_uniform(img):
        faces = []
    else:
        side = min(img.size) // 2
        faces = [((img.width - side) // 2, (img.height - side) // 2, side, side)]
    return [f for f in faces if f[2] >= MIN_FACE and f[3] >= MIN_FACE]


def face_for_add(data: bytes, target_face: Rect | None) -> Rect:
    """The face rectangle to persist for add-face, or the service's 400 error."""
    img, fmt = decode(data)
    if target_face is None:
        faces = _faces(img, fmt)
        if not faces:
            raise invalid_image(NO_FACE)
        if len(faces) > 1:
            raise invalid_image(MANY_FACES)
        return faces[0]
    left, top, width, height = target_face
    if left + width > img.width or top + height > img.height:
        raise bad_argument(TARGET_RANGE)
    if width < MIN_FACE or height < MIN_FACE:
        raise invalid_image(NO_FACE_IN_TARGET)
    crop = img.convert("RGB").crop((left, top, left + width, top + height))
    if _near_uniform(crop):
        raise invalid_image(NO_FACE_IN_TARGET)
    return target_face
