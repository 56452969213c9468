"""`${VAR}` in endpoints, and only there.

A variable is expanded only where a connection needs one: `service.endpoint` and each
environment's `endpoint`, and only when that connection is built (a job for staging needs none of
production's variables; `facesync validate` needs none at all). Everywhere else `${…}` is text,
sent as written: expanding it in userData or a name would hand any variable of the CI job (the
Face key, a token) to whoever can open a pull request, through the plan and onto the service.

In an endpoint, `${VAR:-default}` uses the default when VAR is unset or empty, like the shell;
`$${` writes a literal `${`. A variable that holds a Face key (FACESYNC_KEY, an environment's
`keyEnv`) is never expanded into an endpoint: the endpoint is shown in plans and logs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Iterator, Mapping

from facesync.config.errors import ConfigError, Diagnostic
from facesync.model import ServiceSettings, SourcePos

_NAME_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

KEY_VARIABLES = ("FACESYNC_KEY",)
"""Variables that hold a Face key whatever the configuration says."""


def _references(value: str) -> Iterator[tuple[int, int, str | None, str | None]]:
    """What the expansion syntax acts on in `value`, left to right: (start, end, name, default) of
    each `${NAME}` and `${NAME:-default}` (the default runs to the first `}`), and (start, end,
    None, None) of each `$${`.

    One pass, linear in `value`: the regular expression this replaces backtracked, and a hostile
    `${a:-${a:-…` without a `}` took seconds per 100 KB of any string in a configuration."""
    close = -1  # the first "}" at or after the last default's start; len(value) when there is none
    i = value.find("$")
    while i != -1:
        end = None
        if value.startswith("$${", i):
            end = i + 3
            yield i, end, None, None
        elif value.startswith("${", i) and (name := _NAME_RE.match(value, i + 2)) is not None:
            after = name.end()
            if value.startswith("}", after):
                end = after + 1
                yield i, end, name.group(), None
            elif value.startswith(":-", after):
                if close < after + 2:
                    close = value.find("}", after + 2)
                    close = len(value) if close == -1 else close
                if close < len(value):
                    end = close + 1
                    yield i, end, name.group(), value[after + 2 : close]
        i = value.find("$", i + 1 if end is None else end)


def expand(value: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand `value`; return the result and the names of unset variables without a default."""
    if "${" not in value:
        return value, []
    missing: list[str] = []
    parts: list[str] = []
    done = 0
    for start, end, name, default in _references(value):
        parts.append(value[done:start])
        done = end
        if name is None:
            parts.append("${")
            continue
        current = environ.get(name)
        if default is not None:
            parts.append(current if current else default)
        elif current is None:
            missing.append(name)
        else:
            parts.append(current)
    parts.append(value[done:])
    return "".join(parts), missing


def variables(value: str) -> list[str]:
    """The names `value` refers to with `${NAME}` or `${NAME:-default}`."""
    return [name for _, _, name, _ in _references(value) if name is not None]


def literal_reference(value: str) -> str | None:
    """The first `${NAME}`, `${NAME:-…}` or `$${` in `value` (None when there is none): text that
    looks like a variable but, outside an endpoint, is sent as written."""
    for start, end, _, _ in _references(value):
        return value[start:end]
    return None


def expand_endpoint(
    text: str,
    where: SourcePos | None,
    environ: Mapping[str, str] | None = None,
    *,
    label: str = "",
    key_variables: Collection[str] = (),
) -> str:
    """`text` (an endpoint as written) with its variables expanded from `environ` (default: the
    process environment). Raises `ConfigError` at `where` for an unset variable without a default,
    or a variable holding a key (`KEY_VARIABLES` and `key_variables`). `label` starts the message
    (e.g. "environment 'prod': ")."""
    environ = os.environ if environ is None else environ
    file, line, column = (where.file, where.line, where.column) if where else ("configuration", 0, 0)
    problems: list[Diagnostic] = []
    forbidden = {*KEY_VARIABLES, *key_variables}
    for name in dict.fromkeys(variables(text)):
        if name in forbidden:
            problems.append(
                Diagnostic(
                    file,
                    line,
                    column,
                    f"{label}the endpoint may not use ${{{name}}}: it holds a Face key, and "
                    "endpoints are shown in plans and logs",
                )
            )
    if problems:
        raise ConfigError(problems)
    expanded, missing = expand(text, environ)
    if not missing and any(ord(char) < 0x20 or ord(char) == 0x7F for char in expanded):
        raise ConfigError(
            [
                Diagnostic(
                    file,
                    line,
                    column,
                    f"{label}the endpoint holds a control character (a line break, a NUL?)",
                )
            ]
        )
    if missing:
        raise ConfigError(
            [
                Diagnostic(
                    file,
                    line,
                    column,
                    f"{label}environment variable '{name}' is not set "
                    f"(write ${{{name}:-default}} to give a default)",
                )
                for name in dict.fromkeys(missing)
            ]
        )
    return expanded


def service_endpoint(
    settings: ServiceSettings, flag: str | None = None, environ: Mapping[str, str] | None = None
) -> str | None:
    """The configuration's `service.endpoint`, expanded now that a connection is built, or None when
    the --endpoint flag (`flag`) or FACESYNC_ENDPOINT wins over it (its variables are not needed
    then)."""
    environ = os.environ if environ is None else environ
    if flag or environ.get("FACESYNC_ENDPOINT") or settings.endpoint is None:
        return None
    return expand_endpoint(settings.endpoint, settings.endpoint_pos, environ, label="service.endpoint: ")
