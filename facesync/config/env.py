"""`${VAR}` and `${VAR:-default}` expansion in string values.

`$${` writes a literal `${`. A variable that is unset (and has no default) is an error;
`${VAR:-default}` uses the default when VAR is unset or empty, like the shell.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_VAR_RE = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def expand(value: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """Expand `value`; return the result and the names of unset variables without a default."""
    if "${" not in value:
        return value, []
    missing: list[str] = []

    def repl(match: re.Match[str]) -> str:
        if match.group(0) == "$${":
            return "${"
        name, default = match.group(1), match.group(2)
        current = environ.get(name)
        if default is not None:
            return current if current else default
        if current is None:
            missing.append(name)
            return ""
        return current

    return _VAR_RE.sub(repl, value), missing
