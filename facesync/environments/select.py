"""Which Face resources a run is for: the one a configuration without `environments:` names, or
the environments chosen with --env / --all-envs — one list of `Resolved` either way.

Nothing is called here: the configuration is loaded and checked, each resource's endpoint, key
and options are worked out, and any mistake in the choice is a `SelectionError` (a usage error).
A configuration without `environments:` is a fleet of one: one `Resolved` with no name.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from facesync.address import resolve_targets
from facesync.client import require_key, resolve_endpoint
from facesync.config.env import service_endpoint
from facesync.config.errors import Diagnostic
from facesync.document import Saved
from facesync.environments.resolve import Resolved, resolve, resolve_environment_endpoint
from facesync.environments.spec import Environments, load_environments
from facesync.localstate import config_root
from facesync.sync import SyncOptions

DEFAULT_RATE_LIMIT = 10.0
"""Calls per second when nothing else says: what an S0 resource allows."""


class SelectionError(ValueError):
    """The run asks for something the configuration cannot give (a usage error)."""


@dataclass(frozen=True)
class RunRequest:
    """What a command asks for, in the library's terms; the CLI builds it from its options."""

    config: Path
    root: Path | None = None
    endpoint: str | None = None
    key: str | None = None
    auth: str | None = None
    """`key` or `entra` (--auth); None: FACESYNC_AUTH, the environment's or config's, else key."""
    api_version: str | None = None
    rate_limit: float | None = None
    """Calls per second (0: no limit); None: the environment's, else none for the in-process
    emulator, else S0's 10."""
    environments: tuple[str, ...] = ()
    all_environments: bool = False
    options: SyncOptions = field(default_factory=SyncOptions)
    """Everything else a `Sync` takes (targets, refresh, sample, gates, lock, retries); each
    environment's own settings win over them."""


def _rate(request: RunRequest, environment_rate: float | None, local: bool) -> float | None:
    """The run's pace: None means no limit."""
    if environment_rate is not None:
        return environment_rate or None
    if request.rate_limit is not None:
        return request.rate_limit or None
    # The in-process emulator has no rate limit of its own to respect.
    return None if local else DEFAULT_RATE_LIMIT


def configured_environments(request: RunRequest) -> Environments | None:
    return load_environments(request.config) if request.config.exists() else None


def chosen_names(
    environments: Environments | None, request: RunRequest, saved: Sequence[str | None] = ()
) -> list[str] | None:
    """The environments this run is for, in order; None for a configuration without them."""
    named = [n for n in saved if n is not None]
    if environments is None:
        if request.environments or request.all_environments:
            flag = "--all-envs" if request.all_environments else f"--env {request.environments[0]}"
            raise SelectionError(f"{flag}: {request.config} has no `environments:` block")
        if named:
            raise SelectionError(
                f"the plan file was made for environments ({', '.join(named)}) but the config has none"
            )
        return None
    if request.endpoint or request.key:
        raise SelectionError(
            "--endpoint and --key cannot be used with `environments:`: each environment's endpoint "
            "and key come from its entry (endpoint, keyEnv)"
        )
    for name in request.environments:
        if environments.get(name) is None:
            near = difflib.get_close_matches(name, environments.names, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise SelectionError(
                f"--env {name}: no such environment{hint}; "
                f"the configuration has {', '.join(environments.names)}"
            )
    if request.all_environments and request.environments:
        raise SelectionError("give --env NAME or --all-envs, not both")
    if saved and not named:
        raise SelectionError(
            "the plan file was not made for environments: make it with `plan --env NAME --out FILE`"
        )
    if request.all_environments:
        names = list(environments.names)
    elif request.environments:
        names = list(dict.fromkeys(request.environments))
    elif named:
        names = named
        for name in names:
            if environments.get(name) is None:
                raise SelectionError(
                    f"the plan file names environment '{name}', which the configuration does not define"
                )
    else:
        raise SelectionError(
            f"the configuration defines environments ({', '.join(environments.names)}): "
            "choose with --env NAME (repeatable) or --all-envs"
        )
    if named:
        missing = [n for n in names if n not in named]
        if missing:
            raise SelectionError(f"the plan file holds no plan for environment(s) {', '.join(missing)}")
    return names


def resolve_run(request: RunRequest, saved: Saved | None = None) -> tuple[list[Resolved], list[Diagnostic]]:
    """The resources the run is for, each ready for a `Sync`, and the configuration's warnings.

    Raises `ConfigError` (the configuration), `SelectionError` and `AddressError` (the choice),
    `EndpointError` (no endpoint, no key)."""
    from facesync.config import load as load_config

    environments = configured_environments(request)
    names = chosen_names(environments, request, list(saved.checksums) if saved else ())
    if saved is not None and request.options.targets:
        raise SelectionError(
            "leave --target out to apply a saved plan: it keeps the targets it was made with"
        )
    if environments is None or names is None:
        options = request.options
        saved_version = None
        if saved is not None:
            options = replace(options, targets=saved.targets.get(None, ()))
            saved_version = saved.api_versions.get(None)
        desired, diagnostics = load_config(
            request.config, api_version=request.api_version or saved_version, root=request.root
        )
        resolve_targets(desired, options.targets)
        written = service_endpoint(desired.service, request.endpoint)  # its ${VAR} expanded now
        endpoint = resolve_endpoint(
            request.endpoint,
            request.key,
            written,
            config_root=config_root(request.config),
            flag_auth=request.auth,
            config_auth=desired.service.auth,
        )
        require_key(endpoint)
        api_version = request.api_version or saved_version or desired.service.api_version or "v1.0"
        options = replace(
            options, api_version=api_version, rate_limit=_rate(request, None, endpoint.is_local)
        )
        return [Resolved(None, desired, endpoint, options)], diagnostics
    from facesync.environments.load import load_desired

    desired, diagnostics = load_desired(
        request.config, environments, api_version=request.api_version, root=request.root
    )
    base = replace(request.options, api_version=desired.service.api_version or "v1.0")
    resolved = []
    for name in names:
        env = environments.get(name)
        assert env is not None
        options = base if saved is None else replace(base, targets=saved.targets.get(name, ()))
        one = resolve(
            env,
            desired,
            options,
            config_root(request.config),
            api_version=request.api_version,
            auth=request.auth,
        )
        rate = _rate(request, env.calls_per_second, one.endpoint.is_local)
        resolved.append(replace(one, options=replace(one.options, rate_limit=rate)))
    return resolved, diagnostics


def connection(request: RunRequest, name: str | None) -> Resolved:
    """One resource's endpoint and options without loading the configuration's collections (import
    reads a resource whose collections the configuration may not declare yet)."""
    from facesync.model import DesiredState

    if name is None:
        endpoint = resolve_endpoint(request.endpoint, request.key, None, flag_auth=request.auth)
        require_key(endpoint)
        options = replace(
            request.options,
            api_version=request.api_version or "v1.0",
            rate_limit=_rate(request, None, endpoint.is_local),
        )
        return Resolved(None, DesiredState(), endpoint, options)
    environments = configured_environments(request)
    names = chosen_names(environments, replace(request, environments=(name,), all_environments=False))
    assert environments is not None and names == [name]
    env = environments.get(name)
    assert env is not None
    endpoint = resolve_environment_endpoint(env, config_root(request.config), auth=request.auth)
    options = replace(
        request.options,
        api_version=request.api_version or env.api_version or "v1.0",
        rate_limit=_rate(request, env.calls_per_second, endpoint.is_local),
        environment=name,
    )
    return Resolved(name, DesiredState(), endpoint, options, environment=env)
