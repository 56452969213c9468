"""One environment → what a `Sync` for it needs: its desired state, its endpoint and key, its options.

Pure functions of the configuration and the process environment; nothing is called here.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from facesync.address import AddressError, resolve_targets, selects
from facesync.client import Endpoint, require_key, resolve_endpoint
from facesync.client.endpoint import key_problem
from facesync.client.errors import EndpointError
from facesync.config.env import expand_endpoint
from facesync.config.errors import ConfigError, Diagnostic
from facesync.environments.spec import Environment
from facesync.model import DIRECTORY_API_VERSIONS, CollectionKind, DesiredState
from facesync.sync import SyncOptions


@dataclass(frozen=True)
class Resolved:
    """One Face resource of a run, ready for a `Sync`: an environment, or (name None) the one
    resource a configuration without `environments:` is for."""

    name: str | None
    desired: DesiredState
    endpoint: Endpoint
    options: SyncOptions
    environment: Environment | None = None

    @property
    def protect(self) -> bool:
        """Plans that destroy anything here need --force-env NAME."""
        return self.environment is not None and self.environment.protect


def resolve_desired(desired: DesiredState, env: Environment) -> DesiredState:
    """The configuration as this environment holds it: only its `targets:` collections, and its
    `recognitionModel:` on every collection (the directory enrols its faces in that model alone)."""
    collections = desired.collections
    if env.targets:
        chosen = resolve_targets(desired, env.targets)
        collections = tuple(c for c in collections if selects(chosen, c.kind, c.id))
    if env.recognition_model is not None:
        model = env.recognition_model
        collections = tuple(
            c
            if c.kind is CollectionKind.DYNAMIC_PERSON_GROUP  # references persons: no model of its own
            else replace(c, recognition_model=model, recognition_models=(model,))
            if c.kind is CollectionKind.PERSON_DIRECTORY
            else replace(c, recognition_model=model)
            for c in collections
        )
    return replace(desired, collections=collections)


def _problem(env: Environment, message: str) -> ConfigError:
    return ConfigError([Diagnostic(env.file, env.line, env.column, f"environment '{env.name}': {message}")])


def resolve_environment_endpoint(
    env: Environment,
    config_root: Path,
    environ: Mapping[str, str] | None = None,
    *,
    auth: str | None = None,
    config_auth: str | None = None,
) -> Endpoint:
    """The endpoint, its `${VAR}` expanded now (only this environment's variables are needed), with
    the key read from `keyEnv` — only from there: a key meant for one resource (FACESYNC_KEY,
    another environment's variable) never goes to this one. `auth` (the --auth flag) wins over the
    environment's `auth:`, which wins over `config_auth` (the config's `service.auth`),
    FACESYNC_AUTH in between; with `entra` no key is read or sent."""
    environ = os.environ if environ is None else environ
    url = expand_endpoint(
        env.endpoint,
        env.endpoint_pos,
        environ,
        label=f"environment '{env.name}': ",
        key_variables=(env.key_env,) if env.key_env else (),
    )
    method = auth or environ.get("FACESYNC_AUTH") or env.auth or config_auth
    key = environ.get(env.key_env) if env.key_env and method != "entra" else None
    if key and env.key_env:
        problem = key_problem(key)
        if problem is not None:
            raise EndpointError(
                f"{env.key_env} (the key of environment '{env.name}') {problem}; nothing was sent"
            )
    try:
        endpoint = resolve_endpoint(
            None, key or None, url, environ={}, config_root=config_root, flag_auth=method
        )
    except EndpointError as exc:
        raise _problem(env, str(exc)) from None
    try:
        require_key(endpoint)
    except EndpointError:
        where = f"set {env.key_env}" if env.key_env else "give it 'keyEnv: VARIABLE' and set that variable"
        where += ", or give it 'auth: entra'"
        raise EndpointError(
            f"no Face key for environment '{env.name}' ({endpoint.display}): {where}; nothing was sent"
        ) from None
    return endpoint


def resolve(
    env: Environment,
    desired: DesiredState,
    base: SyncOptions,
    config_root: Path,
    *,
    api_version: str | None = None,
    environ: Mapping[str, str] | None = None,
    auth: str | None = None,
) -> Resolved:
    """`base` holds the command's options; the environment's own settings win over them, and an
    explicit `api_version` (the --api-version flag) or `auth` (--auth) wins over the environment's."""
    try:
        own = resolve_desired(desired, env)
    except AddressError as exc:
        raise _problem(env, f"targets: {exc}".replace("--target ", "")) from None
    targets = base.targets or env.targets
    if base.targets:
        try:
            resolve_targets(own, base.targets)
        except AddressError as exc:
            raise AddressError(f"{exc} held by environment '{env.name}'") from None
    version = api_version or env.api_version or base.api_version
    if version not in DIRECTORY_API_VERSIONS and any(not c.kind.classic for c in own.collections):
        raise _problem(
            env,
            f"API {version} has no PersonDirectory, which the configuration declares: set this "
            f"environment's apiVersion to {DIRECTORY_API_VERSIONS[0]} (or leave it to service.apiVersion)",
        )
    rate = env.calls_per_second
    options = replace(
        base,
        api_version=version,
        rate_limit=(rate or None) if rate is not None else base.rate_limit,
        parallelism=env.parallelism or base.parallelism,
        targets=targets,
        environment=env.name,
    )
    endpoint = resolve_environment_endpoint(
        env, config_root, environ, auth=auth, config_auth=desired.service.auth
    )
    return Resolved(env.name, own, endpoint, options, environment=env)
