"""What the client accepts from the service: how large, how deep, how slow, how long to wait.

Each size is the largest answer a Face API can legitimately give, computed from the service's own
limits and written the most verbose way JSON allows, so no real resource is ever refused; past it
the answer is not a Face API's and reading stops. docs/plan-and-apply.md ("Limits") lists them.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

_PAGE_ITEMS = 1000
"""Items per list page (`top`): the most the service returns at once."""

# The service's limits (specs/FACE_API_DIGEST.md), in UTF-16 code units as .NET counts them.
_NAME = 128
_USER_DATA = 16_384
_FACE_USER_DATA = 1_024
_FACES_PER_PERSON = 248
_FACES_PER_FACE_LIST = 1_000
_UUID = "00000000-0000-0000-0000-000000000000"
_WORST = "\x01"
"""A character JSON can only write as `\\u0001`: six bytes per code unit, as the service may
(System.Text.Json escapes every non-ASCII character that way by default)."""


def _size(value: object) -> int:
    return len(json.dumps(value, separators=(",", ":")))


_PERSON = _size(
    {
        "personId": _UUID,
        "name": _WORST * _NAME,
        "userData": _WORST * _USER_DATA,
        "persistedFaceIds": [_UUID] * _FACES_PER_PERSON,
    }
)
LARGEST_PAGE = 2 + _PAGE_ITEMS * (_PERSON + 1)
"""A page of 1,000 persons, each with the longest name and userData and 248 faces (103.8 MiB);
a LargeFaceList page (5.9 MiB) and a collection page (94.6 MiB) are smaller."""
LARGEST_OBJECT = _size(
    {
        "faceListId": "a" * 64,
        "name": _WORST * _NAME,
        "userData": _WORST * _USER_DATA,
        "recognitionModel": "recognition_04",
        "persistedFaces": [{"persistedFaceId": _UUID, "userData": _WORST * _FACE_USER_DATA}]
        * _FACES_PER_FACE_LIST,
    }
)
"""A FaceList with 1,000 faces and every text at its longest (6.0 MiB): the largest answer that
is not a list page (a detect of 100 faces with every attribute is under 1 MiB)."""

MIB = 1 << 20


def _round_up(size: int, step: int) -> int:
    return -(-size // step) * step


LIST_BODY_MAX = _round_up(LARGEST_PAGE * 108 // 100, 8 * MIB)
"""120 MiB: the largest page plus 8% for whitespace a server may add, rounded up."""
OBJECT_BODY_MAX = _round_up(LARGEST_OBJECT * 108 // 100, 8 * MIB)
"""8 MiB, for every answer that is not a list page."""
ERROR_BODY_MAX = 64 << 10
"""64 KiB of an error's body are read (its message is a sentence); the rest is left unread."""

JSON_MAX_DEPTH = 32
"""A Face answer nests at most 5 levels (a detected face's attributes)."""
JSON_MAX_VALUES = 1_000_000
"""A person page holds about 253,000 values (1,000 persons × 248 face ids)."""

RETRY_AFTER_MAX = 60.0
"""The longest wait facesync accepts from a 429 (Retry-After, or "retry after N seconds" in its
message): the service's longest rate window is a minute (F0: 20 calls per minute). A longer
ask stops the run at once with the wait named, rather than sleeping for hours."""

ATTEMPT_TIMEOUT = 30.0
"""Seconds a try may take before the first byte of the answer, and the grace the transfer has."""
MIN_TRANSFER_RATE = 128 << 10
"""Bytes per second a try must move on average beyond that grace (1 Mbit/s): each 128 KiB sent
or received buys one more second, so a byte-a-second server cannot hold a try open."""
TIMEOUT_ATTEMPTS = 2
"""Tries that time out before the request is given up (a silent server costs about a minute)."""
REQUEST_DEADLINE = 600.0
"""Seconds one request may take, every try and every wait between tries included."""


@dataclass
class TryDeadline:
    """When one try must be over, on the client's clock: `timeout` after it started, plus one
    second per `rate` bytes moved, and never past the request's own deadline (`request_end`)."""

    clock: Callable[[], float]
    started: float
    timeout: float
    rate: float
    request_end: float
    moved: int = 0
    received: int = 0

    def add(self, sent: int = 0, received: int = 0) -> None:
        self.moved += sent + received
        self.received += received

    @property
    def end(self) -> float:
        return min(self.started + self.timeout + self.moved / self.rate, self.request_end)

    def expired(self) -> bool:
        return self.clock() > self.end

    @property
    def elapsed(self) -> float:
        return self.clock() - self.started
