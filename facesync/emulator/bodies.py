"""Reading request bodies within limits.

A body is read chunk by chunk and reading stops as soon as its cap is passed, so an oversized
upload costs at most the cap in memory. JSON nesting is bounded before parsing, because the
stdlib parser recurses once per level and would exhaust the stack on `[[[[...`.
"""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterable
from typing import Any

# Far above any Face JSON body (the largest, an identify call, is a few KB); see docs/emulator.md.
JSON_BODY_MAX = 1024 * 1024
# Face JSON bodies nest two levels at most.
JSON_DEPTH_MAX = 64

# A JSON string (so brackets inside strings are skipped) or a single bracket.
_STRING_OR_BRACKET = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)
_OPENERS = frozenset(b"[{")


class TooDeep(ValueError):
    """JSON nested deeper than allowed."""


async def read_capped(chunks: AsyncIterable[bytes], cap: int) -> bytes:
    """The whole body when it is at most `cap` bytes, else its first `cap + 1` bytes.

    Reading stops at the first byte past the cap; the rest is never pulled from the client.
    """
    buf = bytearray()
    async for chunk in chunks:
        buf.extend(chunk[: cap + 1 - len(buf)])
        if len(buf) > cap:
            break
    return bytes(buf)


def nesting_exceeds(raw: bytes, limit: int) -> bool:
    """Whether the JSON text nests arrays/objects deeper than `limit` (strings are skipped)."""
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False  # cheap common case: too few brackets to nest that deep
    depth = 0
    for match in _STRING_OR_BRACKET.finditer(raw):
        first = match.group()[0]
        if first in _OPENERS:
            depth += 1
            if depth > limit:
                return True
        elif first != ord('"'):
            depth -= 1
    return False


def loads_bounded(raw: bytes, max_depth: int = JSON_DEPTH_MAX) -> Any:
    """`json.loads`, raising ValueError (TooDeep) for nesting past `max_depth` instead of
    recursing into it."""
    if nesting_exceeds(raw, max_depth):
        raise TooDeep(f"JSON nested deeper than {max_depth} levels")
    try:
        return json.loads(raw)
    except RecursionError:  # only reachable if max_depth is raised near the recursion limit
        raise TooDeep("JSON nested too deeply") from None
