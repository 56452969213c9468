"""Readable values and before/after differences, shared by the text and Markdown renderers."""

from __future__ import annotations

import json
import re
from typing import Any

from facesync.text import printable

_FINGERPRINT = re.compile(r"fs1:([0-9a-f]{12})[0-9a-f]{52}")


def short_fingerprints(text: str) -> str:
    """Addresses carry 64-hex fingerprints; 12 are plenty for a reader."""
    return _FINGERPRINT.sub(r"fs1:\1…", text)


def show(value: Any) -> str:
    if value is None:
        return "(none)"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _as_json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            parsed = json.loads(value)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict | list) else None
    return None


def _path_label(field: str, path: list[Any]) -> str:
    label = field
    for part in path:
        label += f"[{part}]" if isinstance(part, int) else f".{part}"
    return label


def field_differences(field: str, before: Any, after: Any) -> list[tuple[str, Any, Any]]:
    """(label, before, after) lines for one field; JSON userData is compared key by key."""
    if before == after:
        return []
    old, new = _as_json(before), _as_json(after)
    if old is None or new is None:
        return [(field, before, after)]
    # Imported here: deepdiff costs a third of a second, and most plans have no JSON userData change.
    from deepdiff import DeepDiff

    lines: list[tuple[str, Any, Any]] = []
    for change_type, items in DeepDiff(old, new, view="tree").items():
        for item in items:
            label = _path_label(field, item.path(output_format="list"))
            if change_type.endswith("_added"):
                lines.append((label, None, item.t2))
            elif change_type.endswith("_removed"):
                lines.append((label, item.t1, None))
            else:
                lines.append((label, item.t1, item.t2))
    return sorted(lines, key=lambda line: line[0]) or [(field, before, after)]


def code(text: str) -> str:
    """`text` as a Markdown code span that no backtick inside it can close (CommonMark: the
    fence is one backtick longer than the longest run inside), with no control character in it."""
    text = printable(text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or not text.strip() else ""
    return f"{fence}{pad}{text}{pad}{fence}"
