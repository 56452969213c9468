"""GitHub Actions expressions (`${{ … }}` and `if:`), evaluated as the runner does, for the subset the
kit's workflows use: literals, context paths (with `*` projections), `!`, `==`, `!=`, `&&`, `||`,
parentheses and the functions contains, format, startsWith, endsWith, always, cancelled, success,
failure. Semantics follow docs.github.com ("Evaluate expressions in workflows and actions"): `&&` and
`||` return an operand, string comparison ignores case, values of different types are compared as
numbers (so a missing output, null, equals ''), a missing property is null."""

from __future__ import annotations

import math
import re
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<string>'(?:[^']|'')*')|(?P<number>\d+(?:\.\d+)?)|(?P<op>&&|\|\||==|!=|!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*(?:\.(?:\*|[A-Za-z_][A-Za-z0-9_\-]*))*))"
)
_INTERPOLATION = re.compile(r"\$\{\{\s*(.*?)\s*\}\}", re.DOTALL)


class ExpressionError(ValueError):
    pass


def _tokens(text: str) -> list[tuple[str, str]]:
    out, at = [], 0
    text = text.strip()
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        out.append((kind, match.group(kind)))
        at = match.end()
    return out


def truthy(value: Any) -> bool:
    return value not in (None, False, 0, "")


def _number(value: Any) -> float:
    """GitHub's coercion for comparing values of different types: null 0, booleans 1/0, a string
    its number ('' is 0), anything else NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text == "":
            return 0.0
        try:
            return float(int(text, 16)) if text.lower().startswith("0x") else float(text)
        except ValueError:
            return math.nan
    return math.nan


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, str) and isinstance(b, str):
        return a.lower() == b.lower()
    if type(a) is type(b) and not isinstance(a, str):
        return bool(a == b)
    return _number(a) == _number(b)


def _lookup(context: dict[str, Any], path: str) -> Any:
    values: list[Any] = [context]
    projected = False
    for part in path.split("."):
        if part == "*":
            values = [item for value in values if isinstance(value, list) for item in value]
            projected = True
            continue
        values = [value.get(part) if isinstance(value, dict) else None for value in values]
    if projected:
        return [value for value in values if value is not None]
    return values[0]


def _format(template: str, *args: Any) -> str:
    return re.sub(r"\{(\d+)\}", lambda m: to_text(args[int(m.group(1))]), template)


def _contains(search: Any, item: Any) -> bool:
    if isinstance(search, list):
        return any(_equal(value, item) for value in search)
    return to_text(item).lower() in to_text(search).lower()


class _Parser:
    def __init__(self, text: str, context: dict[str, Any]) -> None:
        self.tokens = _tokens(text)
        self.at = 0
        self.context = context
        self.text = text

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (expected is not None and token[1] != expected):
            raise ExpressionError(f"expected {expected or 'more'} in {self.text!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.or_()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()} in {self.text!r}")
        return value

    def or_(self) -> Any:
        value = self.and_()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.and_()
            value = value if truthy(value) else right
        return value

    def and_(self) -> Any:
        value = self.comparison()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.comparison()
            value = right if truthy(value) else value
        return value

    def comparison(self) -> Any:
        value = self.unary()
        if self.peek() in (("op", "=="), ("op", "!=")):
            op = self.take()[1]
            right = self.unary()
            return _equal(value, right) if op == "==" else not _equal(value, right)
        return value

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not truthy(self.unary())
        return self.primary()

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "string":
            return text[1:-1].replace("''", "'")
        if kind == "number":
            return float(text) if "." in text else int(text)
        if text == "(":
            value = self.or_()
            self.take(")")
            return value
        if kind != "name":
            raise ExpressionError(f"unexpected {text!r} in {self.text!r}")
        if text in ("true", "false"):
            return text == "true"
        if text == "null":
            return None
        if self.peek() == ("op", "("):
            self.take()
            args = []
            while self.peek() != ("op", ")"):
                args.append(self.or_())
                if self.peek() == ("op", ","):
                    self.take()
            self.take(")")
            return self.call(text, args)
        return _lookup(self.context, text)

    def call(self, name: str, args: list[Any]) -> Any:
        status = self.context.get("__status__", "success")
        functions = {
            "contains": lambda: _contains(*args),
            "format": lambda: _format(*args),
            "startsWith": lambda: to_text(args[0]).lower().startswith(to_text(args[1]).lower()),
            "endsWith": lambda: to_text(args[0]).lower().endswith(to_text(args[1]).lower()),
            "always": lambda: True,
            "cancelled": lambda: status == "cancelled",
            "success": lambda: status == "success",
            "failure": lambda: status == "failure",
        }
        if name not in functions:
            raise ExpressionError(f"function {name}() is not supported here")
        return functions[name]()


def to_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    """An `if:` condition (with or without `${{ }}`) or the inside of one `${{ }}`."""
    inner = _INTERPOLATION.fullmatch(expression.strip())
    return _Parser(inner.group(1) if inner else expression, context).parse()


def interpolate(text: str, context: dict[str, Any]) -> str:
    """A value with `${{ … }}` inside, as the runner hands it to a step."""
    return _INTERPOLATION.sub(lambda m: to_text(_Parser(m.group(1), context).parse()), text)
