"""The desired state of a configuration that has `environments:`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from facesync.config.errors import ConfigError, Diagnostic
from facesync.environments.spec import Environments, unset_variables
from facesync.model import DesiredState


def _environ(environments: Environments, environ: Mapping[str, str]) -> dict[str, str]:
    """The process environment, plus an empty value for each variable only environments name:
    those are expanded per chosen environment, and a job for one need not set another's."""
    return {**{name: "" for name in unset_variables(environments)}, **environ}


def load_desired(
    config: Path, environments: Environments, *, api_version: str | None = None, root: Path | None = None
) -> tuple[DesiredState, list[Diagnostic]]:
    from facesync.config import validate

    environ = _environ(environments, os.environ)
    result = validate(config, api_version=api_version, root=root, environ=environ)
    if result.state is None:
        raise ConfigError(result.diagnostics)
    return result.state, result.diagnostics


def validation_environ(config: Path) -> tuple[dict[str, str] | None, list[Diagnostic]]:
    """For `facesync validate`: the environ to check the configuration with (None: the process's
    own), and the problems of its `environments:` block. A variable only some environment names
    need not be set where validation runs (CI jobs hold one environment's variables)."""
    from facesync.environments.spec import load_environments

    try:
        environments = load_environments(config)
    except ConfigError as exc:
        return None, list(exc.diagnostics)
    if environments is None:
        return None, []
    return _environ(environments, os.environ), []
