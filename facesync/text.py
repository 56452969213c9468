"""Untrusted text made safe to show: what the service says and what a configuration names.

A service message, an error code or a person's name may carry terminal escapes (`\\x1b]0;…\\x07`
retitles the window), a carriage return and a line that fakes facesync's own output
(`\\r\\nfake: Apply complete`), or a bidi override (U+202E) that shows text in another order
than it is stored. `printable` keeps such text readable and harmless: every character that does
not draw a glyph of its own is written out as an escape, so the reader sees that it is there.
Nothing here imports the rest of facesync.
"""

from __future__ import annotations

import unicodedata

_ESCAPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})
"""C0 and C1 controls and DEL (Cc), format characters — bidi embeddings, overrides and isolates,
zero-width spaces and joiners, the BOM, soft hyphens — (Cf), lone surrogates (Cs), and the
Unicode line and paragraph separators (Zl, Zp). Ordinary spaces (Zs), letters, marks and emoji
are kept."""


_SHORT = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}


def _escape(char: str) -> str:
    if char in _SHORT:
        return _SHORT[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def printable(text: str) -> str:
    """`text` with every control, format (bidi) and separator character escaped visibly:
    ESC becomes `\\x1b`, a newline `\\n`, U+202E `\\u202e`. One line, safe on a terminal, in
    Markdown source and in a log; plain text comes back unchanged (and fast)."""
    if text.isprintable():
        # isprintable() is false for every character escaped here (and for a few harmless ones,
        # such as a no-break space, which the slow path keeps).
        return text
    return "".join(
        _escape(char) if unicodedata.category(char) in _ESCAPED_CATEGORIES else char for char in text
    )


def printable_lines(text: str) -> str:
    """Like `printable`, keeping the line breaks of a multi-line message we composed ourselves."""
    return "\n".join(printable(line) for line in text.split("\n"))
