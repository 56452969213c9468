"""Declared shapes for YAML data: typed classes, every error in one pass, and their JSON Schema.

The configuration and test formats are declared here as classes with annotated fields, as one
would with pydantic; `Validator(T).validate(data)` checks plain YAML data against a type `T` and
returns the built value or every problem at once, as `Problem`s that carry a location path and a
stable `kind` (the messages users read are written in `facesync.config.schema`).

Why not pydantic: it was the heaviest part of a `facesync validate` start (importing it and
building the first model alone cost 1.5x `python -c "import click"`, more than the rest of the
command), and the formats need little of it: text, numbers, booleans, literals, lists, mappings,
fixed tuples, nested classes and a union picked by a function. The clients' models of service
responses still use pydantic.

Semantics, close to pydantic's lax mode but stricter where YAML makes a mistake likely: text is
only text; an integer is an int, a float without a fraction or digits in text, never a boolean;
a boolean is a boolean, 0/1 or the usual words ("yes", "off"...); a literal matches by value and
type (`true` is not `1`).
"""

from __future__ import annotations

import inspect
import math
import re
import sys
import threading
import types
import typing
from collections.abc import Callable, Iterator
from typing import Annotated, Any, ClassVar, Literal, TypedDict, Union, Unpack

__all__ = [
    "KEY_MARKER",
    "REQUIRED",
    "Limits",
    "OneOf",
    "Problem",
    "Shape",
    "Validator",
    "after",
    "before",
    "field",
]


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()
"""The default of a field that must be given."""

KEY_MARKER = "[key]"
"""The last part of a problem's location when a mapping's key, not its value, is wrong."""

_INVALID: Any = object()
"""What a node returns when it reported a problem."""

_BUILDING = threading.RLock()
"""Held while types become nodes: another thread must not see a class's node half built."""


class Problem:
    """One thing wrong with the data: where (`loc`, keys and list indexes from the top, plus the
    marker "[key]" when a mapping's key itself is wrong), what (`kind`), the offending `value`, and
    `detail` for the message (the limit passed, the expected literals, a validator's own text).

    A plain class, as the others here: a dataclass costs start-up time to build."""

    __slots__ = ("detail", "kind", "loc", "value")

    def __init__(self, kind: str, loc: tuple[Any, ...], value: Any, detail: Any = None) -> None:
        self.kind = kind
        self.loc = loc
        self.value = value
        self.detail = detail

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Problem) and (self.kind, self.loc, self.value, self.detail) == (
            other.kind,
            other.loc,
            other.value,
            other.detail,
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Problem({self.kind!r}, {self.loc!r}, {self.value!r}, {self.detail!r})"


class _LimitArgs(TypedDict, total=False):
    min_length: int
    max_length: int
    pattern: str
    ge: float
    le: float
    description: str
    title: str
    enum: tuple[str, ...]


class Limits:
    """Constraints and documentation of a value: in `Annotated[T, Limits(...)]` or via `field()`.

    An outer `Limits` (the field's) overrides an inner one (the type alias's) key by key."""

    __slots__ = ("values",)

    def __init__(self, **values: Unpack[_LimitArgs]) -> None:
        self.values: dict[str, Any] = {k: v for k, v in values.items() if v is not None}


class _FieldInfo:
    __slots__ = ("alias", "default", "default_factory", "limits")

    def __init__(
        self, default: Any, alias: str | None, default_factory: Callable[[], Any] | None, limits: Limits
    ) -> None:
        self.default = default
        self.alias = alias
        self.default_factory = default_factory
        self.limits = limits


def field(
    default: Any = REQUIRED,
    *,
    alias: str | None = None,
    default_factory: Callable[[], Any] | None = None,
    **limits: Unpack[_LimitArgs],
) -> Any:
    """A field's default, YAML key (`alias`) and limits; typed Any so that `x: int = field(1)`
    type-checks."""
    return _FieldInfo(default, alias, default_factory, Limits(**limits))


class OneOf:
    """`Annotated[A | B, OneOf(choose, kind, message)]`: `choose(value)` names the member (its
    index in the union) that checks the value, or None: then the value is a `kind` problem whose
    detail is `message`."""

    __slots__ = ("choose", "kind", "message")

    def __init__(self, choose: Callable[[Any], int | None], kind: str, message: str) -> None:
        self.choose = choose
        self.kind = kind
        self.message = message


def before(name: str) -> Callable[[Callable[[Any], Any]], Any]:
    """Decorate a function of the raw value of field `name`, run before the field is checked; a
    ValueError it raises is the field's problem."""

    def mark(fn: Callable[[Any], Any]) -> Any:
        fn.__shape_hook__ = ("before", name)  # type: ignore[attr-defined]
        return staticmethod(fn)

    return mark


def after(name: str | None = None) -> Callable[[Callable[..., Any]], Any]:
    """Decorate a check of field `name`'s checked value (a function of the value, returning it), or
    with no name, of the whole instance (a method, returning self). A ValueError is a problem."""

    def mark(fn: Callable[..., Any]) -> Any:
        fn.__shape_hook__ = ("after", name)  # type: ignore[attr-defined]
        return fn if name is None else staticmethod(fn)

    return mark


class Shape:
    """Base of a declared class: annotated attributes are its fields (`field()` for defaults,
    YAML keys and limits). Instances are built by a `Validator`, are immutable, and compare by
    value. Class attributes: `shape_title` (the JSON Schema title, default the class name) and
    `shape_schema_extra` (merged into its JSON Schema)."""

    shape_title: ClassVar[str | None] = None
    shape_schema_extra: ClassVar[dict[str, Any] | None] = None
    __shape_node__: ClassVar[_ModelNode | None] = None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and self.__dict__ == other.__dict__

    def __hash__(self) -> int:
        return hash((type(self), tuple(_hashable(v) for v in self.__dict__.values())))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.__dict__.items())})"


def _hashable(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple((k, _hashable(v)) for k, v in value.items())
    return value


class Validator:
    """Checks data against a type: a Shape class or a type expression built from str, int,
    float, bool, Any, Literal, `X | None`, list, dict, tuple, Shape classes, Annotated with
    `Limits` or `OneOf`. Built lazily: declaring types costs nothing until data is checked."""

    def __init__(self, tp: Any) -> None:
        self.tp = tp
        self._node: _Node | None = None

    @property
    def node(self) -> _Node:
        if self._node is None:
            with _BUILDING:
                self._node = _compile(self.tp, {})
        return self._node

    def validate(self, data: Any) -> tuple[Any, list[Problem]]:
        """(the built value, []) or (None, every problem)."""
        problems: list[Problem] = []
        value = self.node.check(data, (), problems)
        if problems or value is _INVALID:
            return None, problems
        return value, []

    def keys_at(self, loc: tuple[Any, ...]) -> list[str]:
        """The keys the mapping at `loc` (a problem's location, less its last part) accepts, or []
        when no class is there."""
        node: _Node | None = self.node
        for part in loc:
            node = _child(_mapping(node), part)
        found = _mapping(node)
        return [f.key for f in found.fields] if isinstance(found, _ModelNode) else []

    def json_schema(self, title: str | None = None) -> dict[str, Any]:
        """The JSON Schema (draft 2020-12) of the type: the top class inline, the others in `$defs`."""
        defs: dict[str, Any] = {}
        node = self.node
        schema = node.schema(defs, top=True) if isinstance(node, _ModelNode) else node.schema(defs)
        if defs:
            schema["$defs"] = defs
        if title is not None:
            schema["title"] = title
        return schema


# ---------------------------------------------------------------------------------------------
# Nodes: one per type; `check` returns the value built or _INVALID after adding problems.
# ---------------------------------------------------------------------------------------------


class _Node:
    limits: dict[str, Any]

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        raise NotImplementedError

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def documented(self, schema: dict[str, Any]) -> dict[str, Any]:
        for key, name in (("description", "description"), ("title", "title")):
            if key in self.limits:
                schema[name] = self.limits[key]
        return schema


class _AnyNode(_Node):
    def __init__(self, limits: dict[str, Any]) -> None:
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self.documented({})


class _StrNode(_Node):
    def __init__(self, limits: dict[str, Any]) -> None:
        self.limits = limits
        self.min_length: int | None = limits.get("min_length")
        self.max_length: int | None = limits.get("max_length")
        self.pattern: str | None = limits.get("pattern")
        self.regex = _end_anchored(self.pattern) if self.pattern is not None else None

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if type(value) is not str and not isinstance(value, str):
            problems.append(Problem("string_type", loc, value))
            return _INVALID
        if self.min_length is not None and len(value) < self.min_length:
            problems.append(Problem("string_too_short", loc, value, self.min_length))
            return _INVALID
        if self.max_length is not None and len(value) > self.max_length:
            problems.append(Problem("string_too_long", loc, value, self.max_length))
            return _INVALID
        if self.regex is not None and self.regex.search(value) is None:
            problems.append(Problem("string_pattern_mismatch", loc, value, self.pattern))
            return _INVALID
        return value

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "string"}
        for key, name in (("min_length", "minLength"), ("max_length", "maxLength"), ("pattern", "pattern")):
            if key in self.limits:
                schema[name] = self.limits[key]
        if "enum" in self.limits:
            schema["enum"] = list(self.limits["enum"])
        return self.documented(schema)


def _end_anchored(pattern: str) -> re.Pattern[str]:
    """`pattern` (JSON Schema's dialect) for Python: a final `$` ends the text, as in JSON Schema,
    where Python's would also accept a newline before the end (a YAML block scalar's)."""
    if pattern.endswith("$") and not pattern.endswith(r"\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


_TRUE_WORDS = frozenset({"1", "on", "t", "true", "y", "yes"})
_FALSE_WORDS = frozenset({"0", "off", "f", "false", "n", "no"})


class _BoolNode(_Node):
    def __init__(self, limits: dict[str, Any]) -> None:
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str):
            word = value.strip().lower()
            if word in _TRUE_WORDS:
                return True
            if word in _FALSE_WORDS:
                return False
        problems.append(Problem("bool_parsing", loc, value))
        return _INVALID

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self.documented({"type": "boolean"})


class _NumberNode(_Node):
    """int or float, with `ge`/`le`."""

    def __init__(self, integer: bool, limits: dict[str, Any]) -> None:
        self.integer = integer
        self.limits = limits
        self.ge: float | None = limits.get("ge")
        self.le: float | None = limits.get("le")

    def _parse(self, value: Any) -> Any:
        """The number, or the problem's kind (a str)."""
        if isinstance(value, bool):
            return "int_type" if self.integer else "float_type"
        if isinstance(value, str):
            try:
                number: int | float = int(value.strip()) if self.integer else float(value.strip())
            except ValueError:
                return "int_parsing" if self.integer else "float_parsing"
        elif isinstance(value, int | float):
            number = value
        else:
            return "int_type" if self.integer else "float_type"
        if isinstance(number, float):
            if not math.isfinite(number):
                return "finite_number"
            if self.integer:
                if not number.is_integer():
                    return "int_from_float"
                number = int(number)
        elif not self.integer:
            number = float(number)
        return number

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        number = self._parse(value)
        if isinstance(number, str):
            problems.append(Problem(number, loc, value))
            return _INVALID
        if self.ge is not None and number < self.ge:
            problems.append(Problem("greater_than_equal", loc, value, self.ge))
            return _INVALID
        if self.le is not None and number > self.le:
            problems.append(Problem("less_than_equal", loc, value, self.le))
            return _INVALID
        return number

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer" if self.integer else "number"}
        if self.ge is not None:
            schema["minimum"] = self.ge
        if self.le is not None:
            schema["maximum"] = self.le
        return self.documented(schema)


class _LiteralNode(_Node):
    def __init__(self, values: tuple[Any, ...], limits: dict[str, Any]) -> None:
        self.values = values
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        for allowed in self.values:
            if type(value) is type(allowed) and value == allowed:
                return allowed
        problems.append(Problem("literal_error", loc, value, self.values))
        return _INVALID

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        types_ = {_JSON_TYPES[type(v)] for v in self.values}
        schema: dict[str, Any] = (
            {"const": self.values[0]} if len(self.values) == 1 else {"enum": list(self.values)}
        )
        if len(types_) == 1:
            schema["type"] = types_.pop()
        return self.documented(schema)


_JSON_TYPES = {str: "string", int: "integer", float: "number", bool: "boolean"}


class _OptionalNode(_Node):
    def __init__(self, inner: _Node) -> None:
        self.inner = inner
        self.limits = inner.limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        return None if value is None else self.inner.check(value, loc, problems)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        # Optional keys are simply left out in YAML: described without `null`.
        return self.inner.schema(defs)


class _ListNode(_Node):
    def __init__(self, item: _Node, limits: dict[str, Any]) -> None:
        self.item = item
        self.limits = limits
        self.min_length: int | None = limits.get("min_length")

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if not isinstance(value, list | tuple):
            problems.append(Problem("list_type", loc, value))
            return _INVALID
        before = len(problems)
        check = self.item.check
        items = [check(v, (*loc, i), problems) for i, v in enumerate(value)]
        if len(problems) > before:
            return _INVALID
        if self.min_length is not None and len(items) < self.min_length:
            problems.append(Problem("too_few_items", loc, value, self.min_length))
            return _INVALID
        return items

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        items = {} if isinstance(self.item, _AnyNode) else self.item.schema(defs)
        schema: dict[str, Any] = {"items": items, "type": "array"}
        if self.min_length is not None:
            schema["minItems"] = self.min_length
        return self.documented(schema)


class _TupleNode(_Node):
    def __init__(self, items: list[_Node], limits: dict[str, Any]) -> None:
        self.items = items
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if not isinstance(value, list | tuple):
            problems.append(Problem("tuple_type", loc, value))
            return _INVALID
        if len(value) != len(self.items):
            kind = "too_short" if len(value) < len(self.items) else "too_long"
            problems.append(Problem(kind, loc, value, len(self.items)))
            return _INVALID
        before = len(problems)
        pairs = enumerate(zip(self.items, value, strict=True))
        built = tuple(node.check(v, (*loc, i), problems) for i, (node, v) in pairs)
        return _INVALID if len(problems) > before else built

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        n = len(self.items)
        schema = {"maxItems": n, "minItems": n, "prefixItems": [i.schema(defs) for i in self.items]}
        schema["type"] = "array"
        return self.documented(schema)


class _DictNode(_Node):
    def __init__(self, key: _Node, value: _Node, limits: dict[str, Any]) -> None:
        self.key = key
        self.value = value
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if not isinstance(value, dict):
            problems.append(Problem("dict_type", loc, value))
            return _INVALID
        before = len(problems)
        built: dict[Any, Any] = {}
        check_key, check_value = self.key.check, self.value.check
        for k, v in value.items():
            key = check_key(k, (*loc, k, KEY_MARKER), problems)
            built[key] = check_value(v, (*loc, k), problems)
        return _INVALID if len(problems) > before else built

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        values: Any = True if isinstance(self.value, _AnyNode) else self.value.schema(defs)
        schema: dict[str, Any] = {"type": "object"}
        names = {k: v for k, v in self.key.schema(defs).items() if k not in ("type", "pattern")}
        pattern = self.key.limits.get("pattern")
        if pattern is not None:
            schema["patternProperties"] = {pattern: values}
        else:
            schema["additionalProperties"] = values
        if names:
            schema["propertyNames"] = names
        return self.documented(schema)


class _ChoiceNode(_Node):
    def __init__(self, members: list[_Node], pick: OneOf, limits: dict[str, Any]) -> None:
        self.members = members
        self.pick = pick
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        index = self.pick.choose(value)
        if index is None:
            problems.append(Problem(self.pick.kind, loc, value, self.pick.message))
            return _INVALID
        return self.members[index].check(value, loc, problems)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self.documented({"oneOf": [m.schema(defs) for m in self.members]})


class _Field:
    __slots__ = ("after", "before", "default", "default_factory", "key", "name", "node")

    def __init__(
        self,
        name: str,
        key: str,
        node: _Node,
        info: _FieldInfo,
        before: Callable[[Any], Any] | None,
        after: Callable[[Any], Any] | None,
    ) -> None:
        self.name = name
        self.key = key
        self.node = node
        self.default = info.default
        self.default_factory = info.default_factory
        self.before = before
        self.after = after


class _ModelNode(_Node):
    def __init__(self, cls: type[Shape], limits: dict[str, Any]) -> None:
        self.cls = cls
        self.limits = limits
        self.fields: list[_Field] = []
        self.by_key: dict[str, _Field] = {}
        self.checks: list[Callable[[Any], Any]] = []

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        if isinstance(value, self.cls):
            return value
        if not isinstance(value, dict):
            problems.append(Problem("model_type", loc, value, self.cls.__name__))
            return _INVALID
        before = len(problems)
        built: dict[str, Any] = {}
        for f in self.fields:
            if f.key in value:
                raw = given = value[f.key]
                if f.before is not None:
                    try:
                        given = f.before(raw)
                    except ValueError as exc:
                        problems.append(Problem("value_error", (*loc, f.key), raw, str(exc)))
                        continue
                checked = f.node.check(given, (*loc, f.key), problems)
                if checked is not _INVALID and f.after is not None:
                    try:
                        checked = f.after(checked)
                    except ValueError as exc:
                        problems.append(Problem("value_error", (*loc, f.key), raw, str(exc)))
                        continue
                built[f.name] = checked
            elif f.default_factory is not None:
                built[f.name] = f.default_factory()
            elif f.default is REQUIRED:
                problems.append(Problem("missing", (*loc, f.key), value))
            else:
                built[f.name] = f.default
        for key in value:
            if key not in self.by_key:
                problems.append(Problem("extra_forbidden", (*loc, key), value[key]))
        if len(problems) > before:
            return _INVALID
        instance = object.__new__(self.cls)
        instance.__dict__.update(built)
        for check in self.checks:
            try:
                instance = check(instance)
            except ValueError as exc:
                problems.append(Problem("value_error", loc, value, str(exc)))
                return _INVALID
        return instance

    def schema(self, defs: dict[str, Any], top: bool = False) -> dict[str, Any]:
        name = self.cls.__name__
        if top:
            return self._definition(defs)
        if name not in defs:
            defs[name] = {}  # taken: a recursive reference finds it
            defs[name] = self._definition(defs)
        return self.documented({"$ref": f"#/$defs/{name}"})

    def _definition(self, defs: dict[str, Any]) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        required: list[str] = []
        for f in self.fields:
            prop = f.node.schema(defs)
            if f.default is REQUIRED and f.default_factory is None:
                required.append(f.key)
            elif f.default is not None and f.default_factory is None:
                prop["default"] = f.default
            properties[f.key] = prop
        schema: dict[str, Any] = {"additionalProperties": False, "properties": properties, "type": "object"}
        if required:
            schema["required"] = required
        schema["title"] = self.cls.shape_title or self.cls.__name__
        doc = self.cls.__dict__.get("__doc__")
        if doc:
            schema["description"] = inspect.cleandoc(doc)
        schema.update(self.cls.shape_schema_extra or {})
        return schema


# ---------------------------------------------------------------------------------------------
# Types → nodes
# ---------------------------------------------------------------------------------------------


def _model_node(cls: type[Shape]) -> _ModelNode:
    """The class's node, built once (under `_BUILDING`, held by `Validator.node`)."""
    built: _ModelNode | None = cls.__dict__.get("__shape_node__")
    if built is not None:
        return built
    node = _ModelNode(cls, {})
    type.__setattr__(cls, "__shape_node__", node)  # before the fields: a field may name the class
    hooks = dict(_hooks(cls))
    for name, tp in _annotations(cls).items():
        if typing.get_origin(tp) is ClassVar:
            continue
        info = _declared(cls, name)
        node_of_field = _compile(tp, info.limits.values)
        hook_before, hook_after = hooks.get(("before", name)), hooks.get(("after", name))
        f = _Field(name, info.alias or name, node_of_field, info, hook_before, hook_after)
        node.fields.append(f)
        node.by_key[f.key] = f
    node.checks = [fn for (when, name), fn in _hooks(cls) if when == "after" and name is None]
    return node


def _annotations(cls: type) -> dict[str, Any]:
    """The class's field annotations, base classes' first, evaluated in their modules (what
    typing.get_type_hints does, at a fraction of its start-up cost)."""
    found: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        names = vars(sys.modules[klass.__module__])
        for name, annotation in inspect.get_annotations(klass).items():
            if name.startswith("_") or (isinstance(annotation, str) and annotation.startswith("ClassVar")):
                continue
            found[name] = eval(annotation, names) if isinstance(annotation, str) else annotation
    return found


def _declared(cls: type, name: str) -> _FieldInfo:
    for klass in cls.__mro__:
        if name in klass.__dict__:
            value = klass.__dict__[name]
            return value if isinstance(value, _FieldInfo) else _FieldInfo(value, None, None, Limits())
    return _FieldInfo(REQUIRED, None, None, Limits())


def _hooks(cls: type) -> Iterator[tuple[tuple[str, str | None], Callable[..., Any]]]:
    for klass in reversed(cls.__mro__):
        for value in klass.__dict__.values():
            fn = value.__func__ if isinstance(value, staticmethod) else value
            hook = getattr(fn, "__shape_hook__", None)
            if hook is not None:
                yield hook, fn


def _compile(tp: Any, limits: dict[str, Any]) -> _Node:
    """The node of type `tp`; `limits` (from the field or an enclosing Annotated) override the
    type's own."""
    origin = typing.get_origin(tp)
    if origin is Annotated:
        base, *meta = typing.get_args(tp)
        merged: dict[str, Any] = {}
        for m in meta:
            if isinstance(m, Limits):
                merged.update(m.values)
        merged.update(limits)
        pick = next((m for m in meta if isinstance(m, OneOf)), None)
        if pick is not None:
            members = [_compile(a, {}) for a in typing.get_args(base)]
            return _ChoiceNode(members, pick, merged)
        return _compile(base, merged)
    if origin in (Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) != 1 or len(typing.get_args(tp)) != 2:
            raise TypeError(f"a union needs OneOf to pick its member: {tp!r}")
        return _OptionalNode(_compile(args[0], limits))
    if origin is Literal:
        return _LiteralNode(typing.get_args(tp), limits)
    if origin is list:
        return _ListNode(_compile(typing.get_args(tp)[0], {}), limits)
    if origin is dict:
        key, value = typing.get_args(tp)
        return _DictNode(_compile(key, {}), _compile(value, {}), limits)
    if origin is tuple:
        return _TupleNode([_compile(a, {}) for a in typing.get_args(tp)], limits)
    if tp is Any:
        return _AnyNode(limits)
    if tp is str:
        return _StrNode(limits)
    if tp is bool:
        return _BoolNode(limits)
    if tp is int or tp is float:
        return _NumberNode(tp is int, limits)
    if isinstance(tp, type) and issubclass(tp, Shape):
        model = _model_node(tp)
        return _RefNode(model, limits) if limits else model
    raise TypeError(f"no shape for type {tp!r}")


class _RefNode(_Node):
    """A class used by a field that documents it: the field's description beside the `$ref`."""

    def __init__(self, model: _ModelNode, limits: dict[str, Any]) -> None:
        self.model = model
        self.limits = limits

    def check(self, value: Any, loc: tuple[Any, ...], problems: list[Problem]) -> Any:
        return self.model.check(value, loc, problems)

    def schema(self, defs: dict[str, Any]) -> dict[str, Any]:
        return self.documented(self.model.schema(defs))


def _mapping(node: _Node | None) -> _Node | None:
    """`node` with Optional, references and choices looked through to a class, where there is one."""
    while True:
        if isinstance(node, _OptionalNode):
            node = node.inner
        elif isinstance(node, _RefNode):
            node = node.model
        elif isinstance(node, _ChoiceNode):
            node = next((m for m in node.members if isinstance(_mapping(m), _ModelNode)), node.members[0])
            node = _mapping(node)
        else:
            return node


def _child(node: _Node | None, part: Any) -> _Node | None:
    if isinstance(node, _ModelNode):
        f = node.by_key.get(part)
        return f.node if f is not None else None
    if isinstance(node, _ListNode):
        return node.item
    if isinstance(node, _DictNode):
        return node.value
    if isinstance(node, _TupleNode) and isinstance(part, int) and 0 <= part < len(node.items):
        return node.items[part]
    return None
