"""Text from elsewhere made safe to print: names and messages from the service or a configuration
may hold terminal escapes (`\\x1b]0;…\\x07` retitles a terminal, `\\r\\n` forges a line) or bidi
overrides (U+202E shows text reversed). They are shown as visible escapes instead."""

from __future__ import annotations

import re
import unicodedata

# C0 and C1 controls, DEL, and the format characters that reorder or hide text (bidi embeddings,
# overrides and isolates, zero-width joiners, the BOM). Tab is a control too: it can hide text.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]")


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control or invisible reordering character shown as an escape."""
    if text.isprintable() and not any(unicodedata.category(c) == "Cf" for c in text):
        return text
    return _UNSAFE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """Like `printable`, keeping the line breaks of a multi-line message we composed ourselves."""
    return "\n".join(printable(line) for line in text.split("\n"))
