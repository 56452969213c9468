"""The `environments:` block: names → endpoint, key variable, rate, overrides and protection.

An endpoint is kept as written: its `${VAR}` is expanded when that environment's connection is
built (facesync.environments.resolve), so a job for staging needs none of production's variables
and `facesync validate` needs none at all.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from facesync import secrets
from facesync.config.errors import ConfigError, Diagnostic
from facesync.config.loader import YamlDocument, YamlPath
from facesync.model import API_VERSIONS, AUTH_METHODS, RECOGNITION_MODELS, SourcePos

KEY = "environments"
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
_NAME_RE = re.compile(NAME_PATTERN)
_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
TIER_RATES = {"S0": 10.0, "F0": 20 / 60}
"""Calls per second each tier allows (F0: 20 per minute)."""

FIELDS = (
    "endpoint",
    "keyEnv",
    "auth",
    "apiVersion",
    "tier",
    "rateLimit",
    "parallelism",
    "targets",
    "recognitionModel",
    "protect",
)


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    endpoint: str
    """As written: `${VAR}` is expanded when this environment's connection is built."""
    key_env: str | None = None
    """The name of the environment variable holding this resource's key (never the key)."""
    auth: str | None = None
    """`key` or `entra` (a Microsoft Entra ID token, no key); None: the command's --auth, else
    the config's `service.auth`, else `key`."""
    api_version: str | None = None
    tier: str | None = None
    rate_limit: float | None = None
    """Calls per second (0 for no limit); None: the tier's rate, else --rate-limit."""
    parallelism: int | None = None
    targets: tuple[str, ...] = ()
    """Only these collections are held here (like --target); empty for all."""
    recognition_model: str | None = None
    """Every collection of this environment uses this model (a model upgrade being rolled out)."""
    protect: bool = False
    """Plans that delete or replace anything here are refused unless --force-env NAME."""
    file: str = ""
    line: int = 0
    column: int = 0
    endpoint_at: tuple[int, int] = (0, 0)
    """Line and column of the endpoint's value (in `file`)."""

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"

    @property
    def endpoint_pos(self) -> SourcePos:
        return SourcePos(self.file, *self.endpoint_at)

    @property
    def calls_per_second(self) -> float | None:
        """The configured rate, None when the environment does not set one."""
        if self.rate_limit is not None:
            return self.rate_limit
        return TIER_RATES[self.tier] if self.tier is not None else None


@dataclass(frozen=True, slots=True)
class Environments:
    entries: tuple[Environment, ...] = ()
    file: str = ""
    line: int = 0
    column: int = 0

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self.entries)

    def get(self, name: str) -> Environment | None:
        return next((e for e in self.entries if e.name == name), None)


def load_environments(config: Path) -> Environments | None:
    """The configuration's `environments:` (None when it has none); `ConfigError` naming
    file:line:column when the block is wrong. Read with the configuration's own loader; no
    environment variable is read."""
    from facesync.config.errors import Reporter
    from facesync.config.sources import read_documents

    return environments_in(read_documents(config, Reporter()))


def environments_in(documents: Sequence[YamlDocument]) -> Environments | None:
    """`load_environments` of a configuration's documents, already read."""
    docs = [d for d in documents if isinstance(d.data, dict) and KEY in d.data]
    if not docs:
        return None
    first = docs[0]
    line, _ = first.positions.key((KEY,))
    diagnostics = [
        Diagnostic(
            doc.file,
            *doc.positions.key((KEY,)),
            f"'{KEY}' is already set in {first.file}:{line}; set it in one file only",
        )
        for doc in docs[1:]
    ]
    environments, problems = parse_environments(
        first.data[KEY], first.file, first.positions.values, first.positions.keys
    )
    diagnostics += problems
    if diagnostics:
        raise ConfigError(diagnostics)
    # Every environment's key is a secret from now on, chosen or not: a service may echo any.
    secrets.register_environment(names=[e.key_env for e in environments.entries if e.key_env])
    return environments


def parse_environments(
    data: Any,
    file: str,
    values: Mapping[YamlPath, tuple[int, int]],
    keys: Mapping[YamlPath, tuple[int, int]] | None = None,
) -> tuple[Environments, list[Diagnostic]]:
    """The raw `environments:` mapping (paths start with `("environments",)`) → entries and the
    problems found, each at its file:line:column."""
    keys = keys or {}
    problems: list[Diagnostic] = []

    def at(path: YamlPath, key: bool = False) -> tuple[int, int]:
        for i in range(len(path), 0, -1):
            pos = (keys if key and i == len(path) else values).get(path[:i])
            if pos is not None:
                return pos
        return (1, 1)

    def problem(path: YamlPath, message: str, key: bool = False) -> None:
        problems.append(Diagnostic(file, *at(path, key), message))

    block_pos = at((KEY,), key=True)
    if not isinstance(data, dict) or not data:
        problem((KEY,), f"'{KEY}' must map environment names to settings, e.g. prod: {{endpoint: ...}}")
        return Environments(file=file, line=block_pos[0], column=block_pos[1]), problems
    entries: list[Environment] = []
    for name, value in data.items():
        path: YamlPath = (KEY, name)
        label = f"environment '{name}'"
        if not isinstance(name, str) or not _NAME_RE.match(name):
            problem(
                path, f"environment name {name!r} must be letters, digits, '.', '_' or '-' (up to 64)", True
            )
            continue
        if not isinstance(value, dict):
            problem(path, f"{label} must be a mapping with at least 'endpoint'")
            continue
        entry = _entry(name, value, path, label, problem)
        if entry is not None:
            pos = at(path, key=True)
            entries.append(_located(entry, file, pos, at((*path, "endpoint"))))
    return Environments(tuple(entries), file, *block_pos), problems


def _located(
    entry: Environment, file: str, pos: tuple[int, int], endpoint_at: tuple[int, int]
) -> Environment:
    return replace(entry, file=file, line=pos[0], column=pos[1], endpoint_at=endpoint_at)


def _entry(name: str, value: dict[Any, Any], path: YamlPath, label: str, problem: Any) -> Environment | None:
    ok = True

    def bad(key: str, message: str) -> None:
        nonlocal ok
        ok = False
        problem((*path, key), f"{label}: {message}")

    for key in value:
        if key not in FIELDS:
            ok = False
            near = [f for f in FIELDS if f.lower() == str(key).lower()]
            hint = f" (did you mean '{near[0]}'?)" if near else f" (known: {', '.join(FIELDS)})"
            problem((*path, key), f"{label}: unknown key '{key}'{hint}", True)
    endpoint = value.get("endpoint")
    if not isinstance(endpoint, str) or not endpoint.strip():
        bad("endpoint", "needs 'endpoint': an https URL, ${VARIABLE} or local:PATH")
        endpoint = ""
    key_env = value.get("keyEnv")
    if key_env is not None and (not isinstance(key_env, str) or not _VAR_RE.match(key_env)):
        bad("keyEnv", f"'keyEnv' names an environment variable (e.g. PROD_FACE_KEY), not {key_env!r}")
    elif isinstance(key_env, str) and key_env in ("FACESYNC_KEY",):
        bad("keyEnv", "'keyEnv' must name a variable of this environment's own, not FACESYNC_KEY")
    auth = value.get("auth")
    if auth is not None and auth not in AUTH_METHODS:
        bad("auth", f"'auth' must be one of {', '.join(AUTH_METHODS)}, not {auth!r}")
    api_version = value.get("apiVersion")
    if api_version is not None and api_version not in API_VERSIONS:
        bad("apiVersion", f"'apiVersion' must be one of {', '.join(API_VERSIONS)}")
    tier = value.get("tier")
    if tier is not None and tier not in TIER_RATES:
        bad("tier", f"'tier' must be one of {', '.join(TIER_RATES)}")
    rate = value.get("rateLimit")
    if rate is not None and (isinstance(rate, bool) or not isinstance(rate, int | float) or rate < 0):
        bad("rateLimit", "'rateLimit' is calls per second: a number, 0 for no limit")
    parallelism = value.get("parallelism")
    if parallelism is not None and (
        isinstance(parallelism, bool) or not isinstance(parallelism, int) or not 1 <= parallelism <= 64
    ):
        bad("parallelism", "'parallelism' must be a whole number from 1 to 64")
    targets = value.get("targets", [])
    if not isinstance(targets, list) or not all(isinstance(t, str) and t for t in targets):
        bad("targets", "'targets' is a list of collection ids or addresses (like --target)")
        targets = []
    model = value.get("recognitionModel")
    if model is not None and model not in RECOGNITION_MODELS:
        bad("recognitionModel", f"'recognitionModel' must be one of {', '.join(RECOGNITION_MODELS)}")
    protect = value.get("protect", False)
    if not isinstance(protect, bool):
        bad("protect", "'protect' is true or false")
    if not ok:
        return None
    return Environment(
        name=name,
        endpoint=endpoint.strip(),
        key_env=key_env,
        auth=auth,
        api_version=api_version,
        tier=tier,
        rate_limit=float(rate) if rate is not None else None,
        parallelism=parallelism,
        targets=tuple(targets),
        recognition_model=model,
        protect=bool(protect),
    )
