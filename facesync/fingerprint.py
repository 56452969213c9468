"""Face identity without a state file.

A face is the SHA-256 of its image bytes together with its `targetFace` and `detectionModel`.
facesync writes that fingerprint into the persisted face's `userData`, so a later run recognises
the face with no local state. The format is compact and leaves room for a user note:

    fs1:<64 lowercase hex chars>            a face with no note
    fs1:<64 lowercase hex chars> <note>     a face with the user's note after one space

The face userData limit is 1,024 characters, so a note may hold up to
`MAX_FACE_NOTE_LENGTH` (955) characters.
"""

from __future__ import annotations

import hashlib
import re

from facesync.model import TargetFace

FINGERPRINT_PREFIX = "fs1:"
FACE_USER_DATA_LIMIT = 1024
_FINGERPRINT_LENGTH = len(FINGERPRINT_PREFIX) + 64
MAX_FACE_NOTE_LENGTH = FACE_USER_DATA_LIMIT - _FINGERPRINT_LENGTH - 1
_USER_DATA_RE = re.compile(r"^fs1:([0-9a-f]{64})(?: (.*))?$", re.DOTALL)


def image_digest(data: bytes) -> str:
    """Hex SHA-256 of an image's bytes."""
    return hashlib.sha256(data).hexdigest()


def face_fingerprint(content_sha256: str, target_face: TargetFace | None, detection_model: str) -> str:
    """The fingerprint of a face: `fs1:` + SHA-256 over content hash, targetFace and model.

    `content_sha256` is the hex SHA-256 of the image bytes (or, for a `url:` face, of the URL
    text prefixed with `url:`, since facesync never sees the bytes the service fetches).
    """
    target = ",".join(str(v) for v in target_face) if target_face else ""
    material = f"{content_sha256}\n{target}\n{detection_model}".encode()
    return FINGERPRINT_PREFIX + hashlib.sha256(material).hexdigest()


def url_digest(url: str) -> str:
    """Content hash used for a `url:` face."""
    return hashlib.sha256(f"url:{url}".encode()).hexdigest()


def encode_face_user_data(fingerprint: str, note: str | None) -> str:
    """The userData facesync sends on add-face."""
    if note:
        if len(note) > MAX_FACE_NOTE_LENGTH:
            raise ValueError(f"face note is {len(note)} characters; at most {MAX_FACE_NOTE_LENGTH} fit")
        return f"{fingerprint} {note}"
    return fingerprint


def decode_face_user_data(user_data: str | None) -> tuple[str | None, str | None]:
    """Split a persisted face's userData into (fingerprint, note).

    A face facesync did not write has no fingerprint: `(None, user_data)`.
    """
    if not user_data:
        return None, None
    match = _USER_DATA_RE.match(user_data)
    if match is None:
        return None, user_data
    return FINGERPRINT_PREFIX + match.group(1), match.group(2) or None
