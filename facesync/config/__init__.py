"""The configuration: YAML files in, a checked desired state out.

`load` and `validate` are the entry points. This package stays light to import (the CLI's
`--help` must start fast): the parts that need PyYAML are imported when a config is read. No
pydantic here at all: `facesync validate` must start fast too (see `shape`).

Modules, one job each:
    sources     which files make the configuration (-f FILE or DIR) and how they merge
    loader      YAML with positions, hardened against hostile input
    env         `${VAR}` expansion, in endpoints only
    shape       declared classes checked field by field, every problem at once, and their JSON Schema
    models      the format as shapes (the JSON Schema's source)
    schema      schema errors turned into messages at YAML positions
    rules       the Face API's id, name, model and tier rules, defined once
    imagepaths  image paths: globs, directories, confinement to the root
    images      image probing and the stat-keyed cache
    resolve     everything above → DesiredState
    errors      Diagnostic, ConfigError, ValidationResult
"""

from __future__ import annotations

from pathlib import Path

from facesync.config.errors import ConfigError, Diagnostic, Severity, ValidationResult
from facesync.model import DesiredState

DEFAULT_CONFIG = "facesync.yaml"

__all__ = [
    "DEFAULT_CONFIG",
    "ConfigError",
    "Diagnostic",
    "Severity",
    "ValidationResult",
    "load",
    "validate",
]


def validate(
    path: str | Path = DEFAULT_CONFIG,
    *,
    api_version: str | None = None,
    tier: str = "S0",
    root: str | Path | None = None,
    cache_dir: Path | None = None,
) -> ValidationResult:
    """Check the configuration at `path` (a YAML file or a directory of them) without raising.

    `api_version` overrides `service.apiVersion`; `tier` (F0 or S0) sets the quotas checked;
    `root` is the folder image paths must stay inside (default: the folder of `path`, or `path`
    itself when it is a directory); `cache_dir` holds the image cache (default: `.facesync/` beside
    the configuration). No environment variable is read: `${VAR}` is text except in endpoints,
    which are expanded when a connection is built (`facesync.config.env.service_endpoint`).
    Raises ValueError only for an unknown `api_version` or `tier`.
    """
    from facesync.config.resolve import validate as run

    return run(path, api_version=api_version, tier=tier, root=root, cache_dir=cache_dir)


def load(
    path: str | Path = DEFAULT_CONFIG,
    *,
    api_version: str | None = None,
    tier: str = "S0",
    root: str | Path | None = None,
    cache_dir: Path | None = None,
) -> tuple[DesiredState, list[Diagnostic]]:
    """The desired state and its warnings; raises `ConfigError` carrying every diagnostic.

    Arguments as for `validate`. No call to the Face service happens here.
    """
    result = validate(path, api_version=api_version, tier=tier, root=root, cache_dir=cache_dir)
    if result.state is None:
        raise ConfigError(result.diagnostics)
    return result.state, result.diagnostics
