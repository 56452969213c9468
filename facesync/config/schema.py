"""Schema checking: pydantic's errors turned into messages at YAML positions.

A key that is unknown or holds a bad value is reported and then set aside, so that it hides
nothing else: the rest of the mapping is still validated and used by later checks (a typo beside
a missing image shows both).
"""

from __future__ import annotations

import difflib
import types
import typing
from typing import Any, Union

from pydantic import BaseModel, TypeAdapter, ValidationError

from facesync.config.errors import Reporter
from facesync.config.loader import YamlDocument, YamlPath
from facesync.config.rules import describe_value as _describe
from facesync.fingerprint import MAX_FACE_NOTE_LENGTH

# ---------------------------------------------------------------------------------------------
# Schema errors → positions
# ---------------------------------------------------------------------------------------------


def _unwrap(tp: Any) -> Any:
    """Strip Annotated/Optional/unions down to a model, dict or list type."""
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            models = [a for a in args if isinstance(_unwrap(a), type) and issubclass(_unwrap(a), BaseModel)]
            tp = models[0] if models else args[0]
        else:
            return tp


def _field_by_alias(model: type[BaseModel], key: Any) -> Any:
    for name, info in model.model_fields.items():
        if (info.alias or name) == key:
            return info.annotation
    return None


def allowed_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """Keys the mapping at `loc` (a pydantic error location inside type `model`) accepts."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            annotation = _field_by_alias(current, part)
            if annotation is not None:
                current = annotation
            # else: a union tag in the location, not a key
        elif typing.get_origin(current) is dict:
            current = typing.get_args(current)[1]
        elif typing.get_origin(current) is list:
            current = typing.get_args(current)[0]
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []


def _data_path(data: Any, loc: tuple[Any, ...]) -> YamlPath:
    """The part of a pydantic location that addresses the data (union tags dropped)."""
    path: list[Any] = []
    current = data
    for i, part in enumerate(loc):
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


def _message(err: Any, path: YamlPath, model: Any, loc: tuple[Any, ...]) -> str:
    kind = err["type"]
    ctx = err.get("ctx") or {}
    value = err.get("input")
    label = _field_label(path)
    if kind == "extra_forbidden":
        key = loc[-1]
        candidates = allowed_keys(model, loc[:-1])
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
    if kind in ("value_error", "assertion_error"):
        return str(ctx.get("error", err["msg"]))
    if kind == "string_too_long":
        limit = ctx.get("max_length")
        if label == "userData" and limit == MAX_FACE_NOTE_LENGTH:
            return (
                f"face 'userData' is {len(value)} characters; at most {limit} fit beside "
                "facesync's fingerprint in the face's 1 KB userData"
            )
        return f"'{label}' is {len(value)} characters long; at most {limit} are allowed"
    if kind == "string_too_short":
        return f"'{label}' must not be empty"
    if kind == "string_pattern_mismatch":
        what = {
            "url": "an http:// or https:// URL",
            "persistedFaceId": "a UUID",
            "endpoint": "an https:// URL, local:PATH for the emulator, or ${VARIABLE}",
        }.get(label, f"text matching {ctx.get('pattern')}")
        return f"'{label}' must be {what}, not {value!r}"
    if kind == "literal_error":
        return f"'{label}' must be {ctx.get('expected')}, not {_describe(value)}"
    if kind == "face_type":
        return f"{err['msg']}, not {_describe(value)}"
    if kind in ("model_type", "dict_type"):
        if not path:
            return f"the configuration must be a mapping of keys, not {_describe(value)}"
        return f"'{label}' must be a mapping of keys, not {_describe(value)}"
    if kind == "list_type":
        return f"'{label}' must be a list, not {_describe(value)}"
    msg = err["msg"]
    return f"'{label}': {msg[0].lower()}{msg[1:]}, not {_describe(value)}"


def schema_check(
    adapter: TypeAdapter[Any],
    model: Any,
    data: Any,
    doc: YamlDocument,
    prefix: YamlPath,
    report: Reporter,
) -> Any | None:
    """Validate `data` (found at `prefix` in `doc`) with `adapter`, a TypeAdapter of type `model`.

    Errors are reported at their YAML positions; returns None when there were any.
    """
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        for err in errors:
            loc = tuple(err["loc"])
            path = _data_path(data, loc)
            if err["type"] in ("extra_forbidden", "missing"):
                full = (*prefix, *path)
                pos = (
                    doc.positions.key(full)
                    if err["type"] == "extra_forbidden"
                    else (doc.positions.key(full[:-1]) if full[:-1] else (1, 1))
                )
            else:
                pos = doc.positions.value((*prefix, *path))
            report.add(doc.file, pos, _message(err, (*prefix, *path), model, loc))
        return _without_bad_keys(adapter, data, [_data_path(data, tuple(err["loc"])) for err in errors])


def _without_bad_keys(adapter: TypeAdapter[Any], data: Any, paths: list[YamlPath]) -> Any | None:
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
    try:
        return adapter.validate_python(trimmed)
    except ValidationError:
        return None


def _copy_containers(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _copy_containers(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_copy_containers(v) for v in data]
    return data
