"""Response bodies within bounds: decompressed while they stream, cut at a size, parsed with limits.

httpx would inflate a gzip body in whole network chunks (a 64 KB chunk of a gzip bomb is 64 MB)
and json would recurse once per `[` until a RecursionError. Here the compressed stream is inflated
with an output cap on every call, the caller stops reading at its limit, and the JSON's shape —
its depth and how many values it holds — is measured on a skeleton of the text (the strings
taken out) before `json.loads` builds any object.
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any

ACCEPT_ENCODING = "gzip, deflate"
"""What the client asks for: the encodings `Inflater` decodes within a bound."""
STEP = 1 << 20
"""Bytes inflated per step: a gzip bomb never holds more than this beyond the body's limit."""


class BodyError(Exception):
    """The body cannot be taken as it is: too large, badly encoded, or a JSON shape no Face API
    answer has. The message says which limit, in words for the user."""


class BodyOverLimit(BodyError):
    """The body goes past one of facesync's limits (its size, its JSON's depth or value count)."""


class BodyTooLarge(BodyOverLimit):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"the response body is larger than {format_size(limit)} (decompressed)")


def format_size(size: int) -> str:
    """1048576 → '1 MiB', 65536 → '64 KiB'."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:,.3g} {unit}" if size % scale else f"{size // scale:,} {unit}"
    return f"{size:,} bytes"


class Inflater:
    """Decodes one `Content-Encoding` (identity, gzip, deflate) and never returns more than asked."""

    def __init__(self, content_encoding: str | None) -> None:
        encoding = (content_encoding or "identity").strip().lower()
        if encoding in ("", "identity"):
            self._wbits: int | None = None
        elif encoding in ("gzip", "x-gzip"):
            self._wbits = 16 + zlib.MAX_WBITS
        elif encoding == "deflate":
            self._wbits = zlib.MAX_WBITS  # zlib-wrapped, as the RFC says; raw deflate as a fallback
        else:
            raise BodyError(
                f"the response is encoded as {encoding!r}; facesync asks for {ACCEPT_ENCODING} only"
            )
        self._encoding = encoding
        self._inflate = zlib.decompressobj(self._wbits) if self._wbits is not None else None
        self._started = False

    def feed_into(self, sink: bytearray, data: bytes, limit: int) -> None:
        """Append the decoded bytes of `data` to `sink`, inflating at most `STEP` bytes at a time;
        `BodyTooLarge` as soon as `sink` would pass `limit` (the rest is never inflated)."""
        if self._inflate is None:
            if len(sink) + len(data) > limit:
                raise BodyTooLarge(limit)
            sink += data
            return
        while data:
            if self._inflate.eof:
                if self._wbits != 16 + zlib.MAX_WBITS:
                    return  # bytes after a zlib stream's end mean nothing
                # Several gzip members one after another: each inflated under the same bound.
                self._inflate = zlib.decompressobj(self._wbits)
            try:
                piece = self._inflate.decompress(data, STEP)
            except zlib.error:
                if self._encoding != "deflate" or self._started:
                    raise BodyError(f"the {self._encoding} body is corrupt") from None
                # Some servers send raw deflate under `deflate`: read it that way from the start.
                self._inflate = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                continue
            self._started = True
            if len(sink) + len(piece) > limit:
                raise BodyTooLarge(limit)
            sink += piece
            # What is left: input held back by the step, or what follows the stream's end.
            data = self._inflate.unconsumed_tail or (self._inflate.unused_data if self._inflate.eof else b"")

    def finish(self) -> None:
        """Raise when a compressed body ended before its stream did."""
        if self._inflate is not None and self._started and not self._inflate.eof:
            raise BodyError(f"the {self._encoding} body ends before its compressed stream does")


# -- JSON -----------------------------------------------------------------------------------------

_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def json_shape_problem(body: bytes, *, max_depth: int, max_values: int) -> str | None:
    """Why `body` is not JSON that facesync will parse (nested deeper than `max_depth`, or
    holding more than `max_values` values), or None. Invalid JSON passes: json reports that."""
    # Escapes out first (an escaped backslash before an escaped quote, so `\\"` ends a string):
    # then every string is a plain "..." and every remaining quote opens or closes one.
    unescaped = body.replace(b"\\\\", b"").replace(b'\\"', b"")
    if unescaped.count(b'"') // 2 > max_values:
        return f"the JSON holds more than {max_values:,} values"
    skeleton = _STRING.sub(b"0", unescaped)
    del unescaped
    values = skeleton.count(b"[") + skeleton.count(b"{") + skeleton.count(b",") + 1
    if values > max_values:
        return f"the JSON holds more than {max_values:,} values"
    depth = 0
    for byte in _NOT_BRACKET.sub(b"", skeleton):
        if byte in b"[{":
            depth += 1
            if depth > max_depth:
                return f"the JSON is nested deeper than {max_depth} levels"
        else:
            depth -= 1
    return None


def parse_json(body: bytes, *, max_depth: int, max_values: int) -> Any:
    """`json.loads` within limits; `BodyError` for a shape over a limit, `ValueError` for text that
    is not JSON (never a RecursionError, never millions of objects)."""
    problem = json_shape_problem(body, max_depth=max_depth, max_values=max_values)
    if problem is not None:
        raise BodyOverLimit(problem)
    try:
        return json.loads(body)
    except RecursionError:  # pragma: no cover - the depth check above comes first
        raise BodyOverLimit(f"the JSON is nested deeper than {max_depth} levels") from None
    except UnicodeDecodeError as exc:
        raise ValueError(f"the body is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
