"""Import documents → YAML text that facesync's loader reads back to exactly the same values.

A small block-style emitter rather than `yaml.safe_dump`: PyYAML leaves strings such as `1e3`
or `y` plain, which other YAML readers (and YAML 1.2 editors) read as numbers or booleans, and
it gives no say over layout. Here a string is written plain only when it is boring text;
everything else is double-quoted by PyYAML's own emitter, whose escapes every YAML reader shares.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from facesync.address import Address
from facesync.config.sources import SINGLETON_KEYS
from facesync.importing.convert import ImportedCollection
from facesync.model import CollectionKind

# Plain only for text that no YAML version reads as anything but the same string: starts with a
# letter, dot or underscore; no indicator characters, no `: ` or ` #`, no edge spaces.
_PLAIN = re.compile(r"^[A-Za-z._][A-Za-z0-9_./ -]*$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
# YAML's printable characters, minus the line breaks (NEL, LS, PS) and the byte order mark.
_SINGLE_QUOTABLE = re.compile(
    "[\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})
INDENT = "  "
DEFAULTS_FILE = "defaults.yaml"


def scalar(value: str) -> str:
    """One string as a YAML scalar on a single line."""
    if _UUID.match(value) or (
        _PLAIN.match(value)
        and not value.endswith(" ")
        and "  " not in value
        and value.lower() not in _RESERVED
        and yaml.safe_load(value) == value
    ):
        return value
    # Single quotes escape nothing but the quote itself: the most readable for JSON userData.
    # They fold line breaks, though, and cannot carry what YAML does not print.
    if all(_SINGLE_QUOTABLE.match(ch) for ch in value):
        return "'" + value.replace("'", "''") + "'"
    text: str = yaml.dump(value, Dumper=yaml.SafeDumper, default_style='"', allow_unicode=True, width=1 << 30)
    return text.rstrip("\n")


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return scalar(value)
    if isinstance(value, Sequence) and not value:
        return "[]"
    if isinstance(value, Mapping) and not value:
        return "{}"
    if isinstance(value, Sequence) and all(isinstance(v, int) for v in value):
        return "[" + ", ".join(str(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} inline")


def _inline(value: Any) -> bool:
    if isinstance(value, Mapping | list | tuple):
        return not value or all(isinstance(v, int) and not isinstance(v, bool) for v in value)
    return True


def _lines(node: Any, depth: int) -> list[str]:
    pad = INDENT * depth
    out: list[str] = []
    if isinstance(node, Mapping):
        for key, value in node.items():
            head = f"{pad}{scalar(str(key))}:"
            if _inline(value):
                out.append(f"{head} {_value(value)}")
            else:
                out.append(head)
                out.extend(_lines(value, depth + 1))
        return out
    for item in node:
        if _inline(item):
            out.append(f"{pad}- {_value(item)}")
            continue
        # A mapping in a list: its first key shares the line with the dash.
        nested = _lines(item, depth + 1)
        out.append(f"{pad}- {nested[0].lstrip()}")
        out.extend(nested[1:])
    return out


def comment(text: str, depth: int = 0) -> list[str]:
    """`text` as YAML comment lines (comments cannot hold a line break)."""
    return [f"{INDENT * depth}# {line}".rstrip() for line in text.splitlines() or [""]]


def document(
    sections: Mapping[str, Mapping[str, tuple[Mapping[str, Any], Sequence[str]]]],
    header: Sequence[str] = (),
    defaults: Mapping[str, str] | None = None,
    service: Mapping[str, str] | None = None,
) -> str:
    """A whole config file: `version: 1`, `service`, `defaults`, then each top-level key with its
    collections.

    `sections` maps a top-level key (`personGroups`, ...) to collection id → (body, comments);
    the comments are written above that collection. The `personDirectory` key holds one
    collection (id ""): its body is the key's value.
    """
    lines = [line for text in header for line in comment(text)]
    lines.append("version: 1")
    for key, values in (("service", service), ("defaults", defaults)):
        if values:
            lines.append(f"{key}:")
            lines.extend(_lines(values, 1))
    for key, collections in sections.items():
        if not collections:
            continue
        if key in SINGLETON_KEYS:
            ((body, notes),) = collections.values()
            lines.extend(line for note in notes for line in comment(note))
            lines.append(f"{key}:")
            lines.extend(_lines(body, 1))
            continue
        lines.append(f"{key}:")
        for cid, (body, notes) in collections.items():
            for note in notes:
                lines.extend(comment(note, 1))
            lines.append(f"{INDENT}{scalar(cid)}:")
            lines.extend(_lines(body, 2))
    return "\n".join(lines) + "\n"


Sections = dict[str, dict[str, tuple[Mapping[str, Any], Sequence[str]]]]


def render(
    collections: Sequence[ImportedCollection],
    *,
    split: bool,
    header: Sequence[str] = (),
    defaults: Mapping[str, str] | None = None,
    service: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """File name → YAML text: one `facesync.yaml`, or (split) one file per collection named by
    its address (`personGroup.staff.yaml`), which a directory config merges, and `defaults.yaml`
    for the `defaults` and the `service` the directory needs (a merged directory sets them in one
    file only)."""

    def sections(chosen: Sequence[ImportedCollection]) -> Sections:
        out: Sections = {kind.config_key: {} for kind in CollectionKind}
        for c in chosen:
            out[c.kind.config_key][c.id] = (c.body, c.notes)
        return out

    if not split:
        return {"facesync.yaml": document(sections(collections), header, defaults, service)}
    files = {f"{Address(c.kind, c.id)}.yaml": document(sections([c]), header) for c in collections}
    if defaults or service:
        files[DEFAULTS_FILE] = document({}, header[:1], defaults, service)
    return files
