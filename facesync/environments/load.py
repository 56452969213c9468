"""The desired state of a configuration that has `environments:`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from facesync.config.errors import ConfigError, Diagnostic
from facesync.model import DesiredState

if TYPE_CHECKING:
    from facesync.environments.spec import Environments


def load_desired(
    config: Path, environments: Environments, *, api_version: str | None = None, root: Path | None = None
) -> tuple[DesiredState, list[Diagnostic]]:
    """The configuration every environment starts from. No environment variable is needed here:
    an environment's endpoint is expanded when its connection is built (`resolve`)."""
    from facesync.config import validate

    result = validate(config, api_version=api_version, root=root)
    if result.state is None:
        raise ConfigError(result.diagnostics)
    return result.state, result.diagnostics


def environment_problems(config: Path) -> list[Diagnostic]:
    """For `facesync validate`: the problems of the configuration's `environments:` block (none
    when it has no block). No environment variable is read: validation runs anywhere."""
    from facesync.config.errors import Reporter
    from facesync.config.sources import read_documents

    # The block's parser is not imported (nor its classes built) for a configuration without one.
    docs = read_documents(config, Reporter())  # the YAML parse is cached from validate's own read
    if not any(isinstance(d.data, dict) and "environments" in d.data for d in docs):
        return []
    from facesync.environments.spec import environments_in

    try:
        environments_in(docs)
    except ConfigError as exc:
        return list(exc.diagnostics)
    return []
