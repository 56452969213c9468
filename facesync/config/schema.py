"""Schema checking: shape problems turned into messages at YAML positions.

A key that is unknown or holds a bad value is reported and then set aside, so that it hides
nothing else: the rest of the mapping is still validated and used by later checks (a typo beside
a missing image shows both).
"""

from __future__ import annotations

import difflib
from typing import Any

from facesync.config.errors import Reporter
from facesync.config.loader import YamlDocument, YamlPath
from facesync.config.rules import describe_value as _describe
from facesync.config.shape import KEY_MARKER, Problem, Validator
from facesync.fingerprint import MAX_FACE_NOTE_LENGTH

# ---------------------------------------------------------------------------------------------
# Schema problems → positions
# ---------------------------------------------------------------------------------------------


def _data_path(data: Any, loc: tuple[Any, ...]) -> YamlPath:
    """The part of a problem's location that addresses the data (a key's "[key]" marker dropped)."""
    path: list[Any] = []
    current = data
    for i, part in enumerate(loc):
        if part == KEY_MARKER and i == len(loc) - 1:
            break  # the key just before is what is wrong
        in_dict = isinstance(current, dict) and part in current
        in_list = isinstance(current, list) and isinstance(part, int) and 0 <= part < len(current)
        if in_dict or in_list:
            path.append(part)
            current = current[part]
        elif i == len(loc) - 1 and isinstance(part, str) and not isinstance(current, list):
            path.append(part)  # a missing key
    return tuple(path)


def _field_label(path: YamlPath) -> str:
    tail: list[str] = []
    for part in reversed(path):
        if isinstance(part, int):
            tail.insert(0, f"[{part}]")
        else:
            tail.insert(0, str(part))
            break
    return "".join(tail) or "configuration"


_EXPECTED = {
    "string_type": "text",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
}
"""What a value of the wrong type should have been, by problem kind."""


def _quoted(text: str) -> str:
    """`text` quoted for a message, cut short: a configuration's string can be megabytes long."""
    return repr(text) if len(text) <= 80 else f"{text[:60]!r}… ({len(text):,} characters)"


def _expected(values: tuple[Any, ...]) -> str:
    shown = [repr(v) for v in values]
    return shown[0] if len(shown) == 1 else f"{', '.join(shown[:-1])} or {shown[-1]}"


def _message(problem: Problem, path: YamlPath, validator: Validator) -> str:
    kind, loc, value, detail = problem.kind, problem.loc, problem.value, problem.detail
    label = "key" if loc[-1:] == (KEY_MARKER,) else _field_label(path)
    if kind == "extra_forbidden":
        key = loc[-1]
        candidates = validator.keys_at(loc[:-1])
        if key == "persons" and "faces" in candidates:
            return (
                "unknown key 'persons': face lists hold faces, not persons "
                "(use personGroups or largePersonGroups for persons)"
            )
        if key == "faces" and "persons" in candidates:
            return "unknown key 'faces': a person group holds faces under its persons"
        if path[:1] == ("service",) and str(key).lower() in ("key", "apikey", "subscriptionkey"):
            return (
                f"'service.{key}' is not allowed: never put the Face key in the config; "
                "pass it with --key or the FACESYNC_KEY environment variable"
            )
        close = difflib.get_close_matches(str(key), candidates, n=1, cutoff=0.6)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key {key!r}{hint}"
    if kind == "missing":
        return f"missing required key {loc[-1]!r}"
    if kind == "value_error":
        return str(detail)
    if kind == "string_too_long":
        if label == "userData" and detail == MAX_FACE_NOTE_LENGTH:
            return (
                f"face 'userData' is {len(value)} characters; at most {detail} fit beside "
                "facesync's fingerprint in the face's 1 KB userData"
            )
        return f"'{label}' is {len(value)} characters long; at most {detail} are allowed"
    if kind == "string_too_short":
        return f"'{label}' must not be empty"
    if kind == "string_pattern_mismatch":
        what = {
            "url": "an http:// or https:// URL",
            "persistedFaceId": "a UUID",
            "endpoint": "an https:// URL, local:PATH for the emulator, or ${VARIABLE}",
        }.get(label, f"text matching {detail}")
        return f"'{label}' must be {what}, not {_quoted(value)}"
    if kind == "literal_error":
        return f"'{label}' must be {_expected(detail)}, not {_describe(value)}"
    if kind == "face_type":
        return f"{detail}, not {_describe(value)}"
    if kind in ("model_type", "dict_type"):
        if not path:
            return f"the configuration must be a mapping of keys, not {_describe(value)}"
        return f"'{label}' must be a mapping of keys, not {_describe(value)}"
    if kind in ("list_type", "tuple_type"):
        return f"'{label}' must be a list, not {_describe(value)}"
    if kind == "too_few_items":
        return f"'{label}' must have at least {detail} item{'s' if detail != 1 else ''}"
    if kind in ("too_short", "too_long"):  # a fixed tuple's length
        return f"'{label}' must have {detail} items, not {len(value)}"
    if kind == "greater_than_equal":
        return f"'{label}' must be at least {detail:g}, not {_describe(value)}"
    if kind == "less_than_equal":
        return f"'{label}' must be at most {detail:g}, not {_describe(value)}"
    return f"'{label}' must be {_EXPECTED.get(kind, 'something else')}, not {_describe(value)}"


def schema_check(
    validator: Validator, data: Any, doc: YamlDocument, prefix: YamlPath, report: Reporter
) -> Any | None:
    """Check `data` (found at `prefix` in `doc`) with `validator`.

    Problems are reported at their YAML positions; returns None when there were any.
    """
    value, problems = validator.validate(data)
    if not problems:
        return value
    for problem in problems:
        path = _data_path(data, problem.loc)
        if problem.loc[-1:] == (KEY_MARKER,):
            pos = doc.positions.key((*prefix, *path))
        elif problem.kind in ("extra_forbidden", "missing"):
            full = (*prefix, *path)
            pos = (
                doc.positions.key(full)
                if problem.kind == "extra_forbidden"
                else (doc.positions.key(full[:-1]) if full[:-1] else (1, 1))
            )
        else:
            pos = doc.positions.value((*prefix, *path))
        report.add(doc.file, pos, _message(problem, (*prefix, *path), validator))
    return _without_bad_keys(validator, data, [_data_path(data, p.loc) for p in problems])


def _without_bad_keys(validator: Validator, data: Any, paths: list[YamlPath]) -> Any | None:
    """`data` validated again without the keys whose values were reported, or None.

    What is left is still checked by later rules (a bad `protect` hides no bad model name);
    a required key that went missing this way makes it None, silently: it was reported.
    """
    trimmed = _copy_containers(data)
    removed = False
    for path in paths:
        # The innermost mapping on the way to the bad value loses the key that leads there.
        holder: Any = None
        key: Any = None
        node = trimmed
        for part in path:
            if isinstance(node, dict):
                holder, key = node, part
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break  # already removed with an enclosing key
        if holder is not None and key in holder:
            del holder[key]
            removed = True
    if not removed:
        return None
    return validator.validate(trimmed)[0]


def _copy_containers(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy_containers(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy_containers(v) for v in data]
    return data
