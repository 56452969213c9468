"""Options and helpers shared by the commands that talk to the service (plan, drift, apply).

Only click is imported at module level: `facesync --help` must not pay for httpx, pydantic or the
emulator. Everything else is imported where a command runs.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import click

from facesync.model import API_VERSIONS

if TYPE_CHECKING:
    from facesync.client import Endpoint
    from facesync.live import ReadProgress
    from facesync.lock import LockOptions
    from facesync.model import DesiredState
    from facesync.plan import Plan
    from facesync.sync import Sync, SyncOptions

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_REFUSED = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])


class Exit(Exception):
    """Leave the command with this code after the message (if any) went to stderr."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or "")
        self.code = code
        self.message = message


def fail(message: str, code: int = EXIT_ERROR) -> Exit:
    return Exit(code, message)


def _apply_options(func: F, options: Iterable[Callable[[F], F]]) -> F:
    for option in reversed(list(options)):
        func = option(func)
    return func


# -- logging ----------------------------------------------------------------------------------


class _Redact(logging.Filter):
    """Defence in depth: no log line carries a secret, whatever a message interpolates."""

    secrets: ClassVar[set[str]] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            if any(secret in text for secret in self.secrets):
                for secret in self.secrets:
                    text = text.replace(secret, "***")
                record.msg, record.args = text, None
        return True


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it per invocation)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def redact(secret: str | None) -> None:
    if secret:
        _Redact.secrets.add(secret)


def _configure_logging(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta[f"facesync.log.{param.name}"] = value
    verbose = ctx.meta.get("facesync.log.verbose") or 0
    debug = bool(ctx.meta.get("facesync.log.debug"))
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else logging.WARNING
    logger = logging.getLogger("facesync")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        handler.addFilter(_Redact())
        logger.addHandler(handler)
    logger.setLevel(level)


def logging_options(func: F) -> F:
    """`-v/--verbose` (retries, waits, cache decisions; twice for debug) and `--debug`, to stderr."""
    return _apply_options(
        func,
        [
            click.option(
                "-v",
                "--verbose",
                count=True,
                expose_value=False,
                callback=_configure_logging,
                help="Log what facesync decides and waits for (repeat for debug) to stderr.",
            ),
            click.option(
                "--debug",
                is_flag=True,
                expose_value=False,
                callback=_configure_logging,
                help="Log everything, each request included, to stderr (never the key).",
            ),
        ],
    )


# -- the service ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ServiceArgs:
    """The options every command that talks to the service takes, in one value."""

    config_path: Path
    root: Path | None
    endpoint: str | None
    key: str | None
    api_version: str | None
    targets: tuple[str, ...]
    rate_limit: float
    parallelism: int
    refresh: str
    verify_sample: int
    envs: tuple[str, ...] = ()
    """`--env` values, in the order given (see facesync.cli.environments)."""
    all_envs: bool = False

    @property
    def full_refresh(self) -> bool:
        return self.refresh == "full"


_SERVICE_FIELDS = tuple(f.name for f in fields(ServiceArgs))


def service_options(func: F) -> F:
    """Where the service is and how hard to drive it; the command receives `service: ServiceArgs`."""

    @functools.wraps(func)
    def collect(*args: Any, **kwargs: Any) -> Any:
        service = ServiceArgs(**{name: kwargs.pop(name) for name in _SERVICE_FIELDS})
        return func(*args, service=service, **kwargs)

    return _apply_options(
        cast(F, collect),
        [
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
            connection_options,
            click.option(
                "--target",
                "targets",
                multiple=True,
                metavar="ADDRESS",
                help="Only read and plan this collection (an id or an address such as "
                'personGroup.staff) or person (personGroup.staff/person["Alice Smith"]); repeatable.',
            ),
            click.option(
                "--refresh",
                type=click.Choice(["cached", "full"]),
                default="cached",
                show_default=True,
                help="`full` ignores the local face cache and reads every face from the service.",
            ),
            click.option(
                "--verify-sample",
                type=click.IntRange(min=0),
                default=10,
                show_default=True,
                metavar="N",
                help="Check N random cached faces against the service (all of them if one differs); 0: none.",
            ),
            environment_options,
        ],
    )


def environment_options(func: F) -> F:
    """`--env NAME` (repeatable) and `--all-envs`: which of the config's `environments:` to use."""
    return _apply_options(
        func,
        [
            click.option(
                "--env",
                "envs",
                multiple=True,
                metavar="NAME",
                help="Run against this entry of the config's `environments:` (repeatable; "
                "with --sequential, in this order). Required when the config has environments.",
            ),
            click.option("--all-envs", is_flag=True, help="Run against every entry of `environments:`."),
        ],
    )


def connection_options(func: F) -> F:
    """Where the service is and how hard to drive it: --endpoint, --key, --api-version,
    --rate-limit, --parallelism, and the logging options."""
    return _apply_options(
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
                "--api-version",
                type=click.Choice(API_VERSIONS),
                default=None,
                help="Face API version (default: the config's service.apiVersion, else v1.0).",
            ),
            click.option(
                "--rate-limit",
                type=float,
                default=10.0,
                show_default=True,
                help="Calls per second, shared by all calls (S0 allows 10; F0 about 0.33).",
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


def gate_options(func: F) -> F:
    return _apply_options(
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


def output_options(func: F) -> F:
    return _apply_options(
        func,
        [
            click.option(
                "--format",
                "fmt",
                type=click.Choice(["text", "json", "markdown"]),
                default="text",
                show_default=True,
                help="How to render the plan on stdout.",
            ),
            click.option("--no-color", is_flag=True, help="Plain text even on a terminal (also NO_COLOR)."),
            click.option(
                "--out",
                "out_path",
                type=click.Path(path_type=Path, dir_okay=False),
                help="Also write the JSON plan to this file.",
            ),
        ],
    )


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def handle_errors(func: F) -> F:
    """Turn known failures into a message on stderr and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from facesync.client import FaceClientError
        from facesync.config.errors import ConfigError
        from facesync.lock import LockError

        try:
            return func(*args, **kwargs)
        except Exit as exc:
            if exc.message:
                click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.code)
        except ConfigError as exc:
            for diagnostic in exc.diagnostics:
                click.echo(str(diagnostic), err=True)
            click.echo(
                f"Error: the configuration has {len(exc.errors)} error(s); nothing was sent to the service.",
                err=True,
            )
            sys.exit(EXIT_ERROR)
        except (FaceClientError, LockError) as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(EXIT_ERROR)
        except OSError as exc:
            # A local file or folder (cache, journal, plan file): one line, never a traceback.
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"Error:{where} {exc.strerror or exc}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class Loaded:
    desired: DesiredState
    endpoint: Endpoint
    api_version: str


def load(service: ServiceArgs) -> Loaded:
    """Config → desired state (every error at once), then the endpoint; no call is made here."""
    from facesync.address import AddressError, resolve_targets
    from facesync.client import require_key, resolve_endpoint
    from facesync.config import load as load_config
    from facesync.config.env import service_endpoint
    from facesync.localstate import config_root

    if not service.config_path.exists():
        raise fail(f"configuration {service.config_path} not found (give one with -f PATH)")
    desired, diagnostics = load_config(
        service.config_path, api_version=service.api_version, root=service.root
    )
    try:
        resolve_targets(desired, service.targets)
    except AddressError as exc:
        raise fail(str(exc)) from None
    config_endpoint = service_endpoint(desired.service, service.endpoint)  # its ${VAR} expanded now
    resolved = resolve_endpoint(
        service.endpoint, service.key, config_endpoint, config_root=config_root(service.config_path)
    )
    redact(resolved.key)
    require_key(resolved)
    version = service.api_version or desired.service.api_version or "v1.0"
    for diagnostic in diagnostics:
        click.echo(str(diagnostic), err=True)
    return Loaded(desired, resolved, version)


def sync_options(
    service: ServiceArgs,
    api_version: str,
    delete_threshold: float | None = None,
    lock: LockOptions | None = None,
) -> SyncOptions:
    """The orchestrator's options from the command line (one resource, or each environment's base)."""
    from facesync.lock import LockOptions
    from facesync.plan import SafetyPolicy
    from facesync.sync import SyncOptions

    policy = SafetyPolicy() if delete_threshold is None else SafetyPolicy(delete_threshold=delete_threshold)
    return SyncOptions(
        api_version=api_version,
        rate_limit=service.rate_limit if service.rate_limit > 0 else None,
        parallelism=service.parallelism,
        full_refresh=service.full_refresh,
        targets=service.targets,
        policy=policy,
        verify_sample=service.verify_sample,
        lock=lock or LockOptions(),
    )


def load_one(service: ServiceArgs, command: str) -> tuple[Loaded, Callable[[], Sync]]:
    """For commands that talk to one resource (test, audit): the configuration as it stands, or as
    the one environment chosen with --env holds it, and how to open that resource."""
    from facesync.cli.environments import chosen, resolve_all
    from facesync.sync import Sync

    selection = chosen(service)
    if selection is None:
        loaded = load(service)
        return loaded, lambda: make_sync(loaded, service)
    environments, names = selection
    if len(names) != 1:
        raise fail(f"{command} runs against one environment at a time: give a single --env NAME")
    (one,) = resolve_all(service, environments, names)
    loaded = Loaded(one.desired, one.endpoint, one.options.api_version)
    root = service.config_path
    return loaded, lambda: Sync(one.desired, one.endpoint, options=one.options, state_root=root)


def make_sync(
    loaded: Loaded,
    service: ServiceArgs,
    delete_threshold: float | None = None,
    lock: LockOptions | None = None,
) -> Sync:
    from facesync.sync import Sync

    options = sync_options(service, loaded.api_version, delete_threshold, lock)
    return Sync(loaded.desired, loaded.endpoint, options=options, state_root=service.config_path)


def refusal_exit(exc: Exception, consequence: str) -> Exit:
    """After the plan is shown: a refused plan's reasons on stderr, and exit 3."""
    from facesync.sync import StalePlan, UnsafePlan

    if isinstance(exc, UnsafePlan):
        for refusal in exc.refusals:
            click.echo(f"Refused: {refusal.message}", err=True)
        return Exit(EXIT_REFUSED, f"the plan needs --force (see the reasons above){consequence}")
    if isinstance(exc, StalePlan):
        return Exit(
            EXIT_REFUSED,
            f"{exc}{consequence}. Review the new plan and apply again",
        )
    raise exc


T = TypeVar("T")


async def with_status(work: Coroutine[Any, Any, T], describe: Callable[[], str]) -> T:
    """Run `work`; on a terminal keep a status line on stderr up to date with `describe()`."""
    import asyncio

    task = asyncio.ensure_future(work)
    if not sys.stderr.isatty():
        return await task
    from rich.console import Console

    with Console(stderr=True).status(describe()) as status:
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            status.update(describe())
    return task.result()


def read_summary(progress: ReadProgress, requests: int) -> str:
    cached = f"; {progress.cache_hits:,} faces from the local cache" if progress.cache_hits else ""
    return (
        f"Read {progress.collections_read}/{progress.collections} collection(s), "
        f"{progress.persons_read:,} person(s), {progress.faces_read:,}/{progress.faces:,} face(s) "
        f"with {requests:,} request(s){cached}"
    )


async def plan_with_progress(sync: Sync) -> Plan:
    """A plan, with a progress line while it reads (terminal) and one summary line (stderr)."""
    from facesync.live import ReadProgress

    progress = ReadProgress()

    def summary() -> str:
        return read_summary(progress, sync.client.total_calls)

    plan = await with_status(sync.plan(progress), lambda: f"Reading the live service: {summary()}")
    click.echo(f"{summary()}.", err=True)
    return plan


def run_async(coro: Coroutine[Any, Any, T], *, stop_on_sigterm: bool = False) -> T:
    """Run `coro`; with `stop_on_sigterm`, SIGTERM (how CI stops a job) unwinds it like Ctrl-C.

    The signal cancels the task, so the cancellation arrives at an await (caches saved, the lock
    released) rather than as an exception at any bytecode — and it does not rely on SIGINT,
    which a parent may have set to be ignored (background jobs, test runners)."""
    import asyncio
    import signal

    async def main() -> T:
        task = asyncio.current_task()
        stopped: list[int] = []
        if stop_on_sigterm and task is not None:

            def stop() -> None:
                stopped.append(signal.SIGTERM)
                task.cancel()

            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        try:
            return await coro
        except asyncio.CancelledError:
            if stopped:
                raise KeyboardInterrupt from None
            raise

    return asyncio.run(main())
