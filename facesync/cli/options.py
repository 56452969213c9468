"""The options commands share, each declared once, and what they become: a `RunRequest`.

Only click is imported at module level: `facesync --help` must not pay for httpx, pydantic or the
emulator. A command takes only the options that apply to it (`service_options(...)` says which).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

import click

from facesync.cli.exits import F
from facesync.cli.logs import apply_options, logging_options
from facesync.model import API_VERSIONS, AUTH_METHODS

if TYPE_CHECKING:
    from facesync.environments.select import RunRequest
    from facesync.lock import LockOptions

RETRY_DELAY_VARIABLE = "FACESYNC_RETRY_DELAY"
"""Seconds of the first retry backoff (doubling up to 10×): an advanced knob, also how the test
suite keeps retries short."""


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceArgs:
    """The options of a command that talks to the service, in one value. Options a command does
    not take keep their defaults here."""

    config_path: Path = Path("facesync.yaml")
    root: Path | None = None
    endpoint: str | None = None
    key: str | None = None
    api_version: str | None = None
    rate_limit: float | None = None
    parallelism: int = 8
    targets: tuple[str, ...] = ()
    refresh: str = "cached"
    verify_sample: str | None = None
    """`--verify-sample`: a number, `all`, or None for the command's default."""
    envs: tuple[str, ...] = ()
    """`--env` values, in the order given."""
    all_envs: bool = False
    auth: str | None = None
    """`--auth key|entra` (None: FACESYNC_AUTH, the environment's or config's `auth`, else key)."""

    @property
    def full_refresh(self) -> bool:
        return self.refresh == "full"


_CONFIG = [
    click.option(
        "-f",
        "--file",
        "config_path",
        default="facesync.yaml",
        show_default=True,
        type=click.Path(path_type=Path),
        help="Config file, or a directory of *.yaml files.",
    ),
    click.option(
        "--root",
        type=click.Path(path_type=Path, file_okay=False),
        help="Folder that image paths must stay inside [default: the config's folder].",
    ),
]
_TARGET = click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="ADDRESS",
    help="Only this collection (an id or an address such as personGroup.staff, "
    "dynamicPersonGroup.parents or personDirectory) or person "
    '(personGroup.staff/person["Alice Smith"], personDirectory/person["Dad"]); repeatable.',
)


def _read_options(verify_default: str) -> list[Callable[[F], F]]:
    return [
        click.option(
            "--refresh",
            type=click.Choice(["cached", "full"]),
            default="cached",
            show_default=True,
            help="`full` ignores the local face cache and reads every face from the service.",
        ),
        click.option(
            "--verify-sample",
            default=verify_default,
            show_default=True,
            metavar="N|all",
            help="Check N random cached faces against the service (all of them if one differs); "
            "`all` checks every one, 0 none.",
        ),
    ]


def _environment_options(which: Literal["many", "one"], *, sequential: bool) -> list[Callable[[F], F]]:
    if which == "one":
        return [
            click.option(
                "--env",
                "envs",
                multiple=True,
                metavar="NAME",
                help="Run against this entry of the config's `environments:` (required when the "
                "config has environments).",
            )
        ]
    order = "; with --sequential, in this order" if sequential else ""
    return [
        click.option(
            "--env",
            "envs",
            multiple=True,
            metavar="NAME",
            help=f"Run against this entry of the config's `environments:` (repeatable{order}). "
            "Required when the config has environments.",
        ),
        click.option("--all-envs", is_flag=True, help="Run against every entry of `environments:`."),
    ]


def connection_options(func: F) -> F:
    """Where the service is and how hard to drive it: --endpoint, --key, --auth, --api-version,
    --rate-limit, --parallelism, and the logging options."""
    return apply_options(
        func,
        [
            click.option(
                "--endpoint",
                help="Face endpoint URL, or local:PATH for the embedded emulator. "
                "Else FACESYNC_ENDPOINT, else the config's service.endpoint.",
            ),
            click.option(
                "--key",
                help="Face key. Prefer the FACESYNC_KEY environment variable: "
                "flags are visible to other users of the machine.",
            ),
            click.option(
                "--auth",
                type=click.Choice(AUTH_METHODS),
                default=None,
                help="key (FACESYNC_KEY) or entra (a Microsoft Entra ID token from azure-identity, "
                "no key). Else FACESYNC_AUTH, else the config's auth, else key.",
            ),
            click.option(
                "--api-version",
                type=click.Choice(API_VERSIONS),
                default=None,
                help="Face API version (default: the config's service.apiVersion, else v1.0).",
            ),
            click.option(
                "--rate-limit",
                type=click.FloatRange(min=0),
                default=None,
                help="Calls per second, shared by all calls; 0 for no limit [default: the "
                "environment's tier or rateLimit, else 10 (S0), none for the local: emulator].",
            ),
            click.option(
                "--parallelism",
                type=click.IntRange(1, 64),
                default=8,
                show_default=True,
                help="Requests in flight at once.",
            ),
            logging_options,
        ],
    )


def service_options(
    *,
    targets: bool = True,
    read: bool = False,
    verify_default: str = "10",
    envs: Literal["many", "one"] = "many",
    sequential: bool = False,
) -> Callable[[F], F]:
    """The config, the connection and the choice of environments; the command receives
    `service: ServiceArgs`. `targets`: --target; `read`: --refresh and --verify-sample (commands
    that plan); `envs`: --env repeatable with --all-envs, or one --env."""

    def decorate(func: F) -> F:
        @functools.wraps(func)
        def collect(*args: Any, **kwargs: Any) -> Any:
            names = [n for n in ServiceArgs.__dataclass_fields__ if n in kwargs]
            values = {name: kwargs.pop(name) for name in names}
            if "envs" in values:
                values["envs"] = tuple(values["envs"])
            if "targets" in values:
                values["targets"] = tuple(values["targets"])
            return func(*args, service=ServiceArgs(**values), **kwargs)

        decorators: list[Callable[[F], F]] = [*_CONFIG, connection_options]
        if targets:
            decorators.append(_TARGET)
        if read:
            decorators += _read_options(verify_default)
        decorators += _environment_options(envs, sequential=sequential)
        return apply_options(cast(F, collect), decorators)

    return decorate


def verify_sample(service: ServiceArgs, default: int | None) -> int | None:
    """`--verify-sample`: how many cached faces to check (None: every one)."""
    raw = service.verify_sample
    if raw is None:
        return default
    if raw.strip().lower() == "all":
        return None
    try:
        count = int(raw)
    except ValueError:
        raise click.BadParameter(f"{raw!r} is not a number or 'all'", param_hint="--verify-sample") from None
    if count < 0:
        raise click.BadParameter(f"{count} is below 0", param_hint="--verify-sample")
    return count


def run_request(
    service: ServiceArgs,
    *,
    delete_threshold: float | None = None,
    lock: LockOptions | None = None,
    verify_default: int | None = 10,
    check_images: bool = False,
) -> RunRequest:
    """The library's view of the command line."""
    from facesync.client import RetryPolicy
    from facesync.environments.select import RunRequest
    from facesync.lock import LockOptions
    from facesync.plan import SafetyPolicy
    from facesync.sync import SyncOptions

    policy = SafetyPolicy() if delete_threshold is None else SafetyPolicy(delete_threshold=delete_threshold)
    retry = RetryPolicy()
    delay = os.environ.get(RETRY_DELAY_VARIABLE)
    if delay:
        try:
            base = float(delay)
        except ValueError:
            raise click.BadParameter(f"{RETRY_DELAY_VARIABLE}={delay!r} is not a number of seconds") from None
        retry = RetryPolicy(base_delay=base, max_delay=base * 10, connect_timeout=retry.connect_timeout)
    options = SyncOptions(
        parallelism=service.parallelism,
        full_refresh=service.full_refresh,
        targets=service.targets,
        policy=policy,
        verify_sample=verify_sample(service, verify_default),
        lock=lock or LockOptions(),
        retry=retry,
        check_images=check_images,
    )
    return RunRequest(
        config=service.config_path,
        root=service.root,
        endpoint=service.endpoint,
        key=service.key,
        auth=service.auth,
        api_version=service.api_version,
        rate_limit=service.rate_limit,
        environments=service.envs,
        all_environments=service.all_envs,
        options=options,
    )


def gate_options(func: F) -> F:
    return apply_options(
        func,
        [
            click.option("--force", is_flag=True, help="Accept a plan the safety gates would refuse."),
            click.option(
                "--delete-threshold",
                type=click.FloatRange(0, 1),
                default=0.30,
                show_default=True,
                help="Largest share of a collection's persons or faces to delete without --force.",
            ),
        ],
    )


no_check_images_option = click.option(
    "--no-check-images",
    is_flag=True,
    help="Do not detect the images of the faces the plan adds (one detect call each) before "
    "showing it; a photo the service refuses then fails only at apply.",
)


force_env_option = click.option(
    "--force-env",
    "force_envs",
    multiple=True,
    metavar="NAME",
    help="Accept deletes and replaces in this protected environment (protect: true); repeatable.",
)


def output_options(formats: tuple[str, ...] = ("text", "json", "markdown")) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return apply_options(
            func,
            [
                click.option(
                    "--format",
                    "fmt",
                    type=click.Choice(formats),
                    default="text",
                    show_default=True,
                    help="How to render the plan on stdout.",
                ),
                click.option(
                    "--no-color", is_flag=True, help="Plain text even on a terminal (also NO_COLOR)."
                ),
                click.option(
                    "--out",
                    "out_path",
                    type=click.Path(path_type=Path, dir_okay=False),
                    help="Also write the JSON plan to this file.",
                ),
            ],
        )

    return decorate


marker_option = click.option(
    "--comment-marker",
    "marker",
    metavar="NAME",
    help="Name in the Markdown's hidden marker, so a CI job updates its own comment "
    "[default: derived from the config root and endpoint].",
)
