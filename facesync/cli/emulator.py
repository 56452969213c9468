"""`facesync emulator`: serve the local Azure Face API emulator (docs/emulator.md)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from facesync.cli import main
from facesync.cli.output import echo

DEFAULT_DATA = "./facesync-emulator.sqlite"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def _checked(setting: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback refusing what the emulator's settings refuse (NaN, infinity, an empty
    key...), with the settings' own words."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        # Imported here: the emulator (starlette and all) loads only for this command.
        from facesync.emulator.settings import check_setting

        if value is None and setting in ("key", "bearer_token", "rate_limit"):
            return value
        try:
            check_setting(setting, value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        return value

    return callback


@main.command("emulator")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@click.option(
    "--data",
    default=DEFAULT_DATA,
    show_default=True,
    help="SQLite file holding the emulated resource, or :memory: (not durable).",
)
@click.option(
    "--key",
    envvar="FACESYNC_EMULATOR_KEY",
    default=None,
    callback=_checked("key"),
    help="Require this Ocp-Apim-Subscription-Key on every call, /_emulator/* included "
    "(env FACESYNC_EMULATOR_KEY). Omit it for no key; an empty key is refused.",
)
@click.option(
    "--bearer-token",
    envvar="FACESYNC_EMULATOR_BEARER_TOKEN",
    default=None,
    callback=_checked("bearer_token"),
    help="Also accept 'Authorization: Bearer TOKEN', as the service accepts a Microsoft Entra ID "
    "token (env FACESYNC_EMULATOR_BEARER_TOKEN).",
)
@click.option(
    "--disable-local-auth",
    is_flag=True,
    default=False,
    help="Refuse the key header as a resource with local auth disabled does (403 "
    "AuthenticationTypeDisabled); needs --bearer-token.",
)
@click.option(
    "--rate-limit",
    type=float,
    default=None,
    callback=_checked("rate_limit"),
    help="Transactions per second, up to 100000 (429 above).",
)
@click.option(
    "--latency",
    type=float,
    default=0.0,
    show_default=True,
    callback=_checked("latency_ms"),
    help="Added ms per call (0 to 60000).",
)
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    callback=_checked("fault_rate"),
    help="Probability of a random 500/503 before a call does anything.",
)
@click.option(
    "--lost-response-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    callback=_checked("lost_response_rate"),
    help="Probability that a write is committed and then answered with 500.",
)
@click.option(
    "--train-seconds",
    type=float,
    callback=_checked("train_seconds"),
    default=0.2,
    show_default=True,
    help="Base training duration (0 to 3600): a run takes S * (1 + items / 10000) seconds.",
)
@click.option("--tier", type=click.Choice(["F0", "S0"]), default="S0", show_default=True)
@click.option("--seed", type=int, default=None, help="Seed of the fault RNG.")
@click.option(
    "--recognition",
    type=click.Choice(["auto", "real", "deterministic"]),
    envvar="FACESYNC_RECOGNITION",
    default="auto",
    show_default=True,
    help="Recognition engine: real (dlib, needs the recognition extra), deterministic, or auto "
    "(real when installed). Env FACESYNC_RECOGNITION.",
)
@click.option(
    "--workers",
    type=int,
    default=0,
    callback=_checked("recognition_workers"),
    show_default=True,
    help="Processes running the real recognition engine (0 to 64); 0 = one per core.",
)
@click.option(
    "--url-timeout",
    type=float,
    default=5.0,
    show_default=True,
    callback=_checked("url_timeout_seconds"),
    help='Deadline in seconds of a whole {"url"} image download (then 400 InvalidURL).',
)
def emulator_command(
    host: str,
    port: int,
    data: str,
    key: str | None,
    bearer_token: str | None,
    disable_local_auth: bool,
    rate_limit: float | None,
    latency: float,
    fault_rate: float,
    lost_response_rate: float,
    train_seconds: float,
    tier: str,
    seed: int | None,
    recognition: str,
    workers: int,
    url_timeout: float,
) -> None:
    """Serve the Azure Face API (collections and recognition) locally, persisting to SQLite.

    Runs until stopped. Exit codes: 0 stopped, 1 error (usage errors included).
    """
    import uvicorn

    from facesync.emulator import EmulatorSettings, create_app
    from facesync.emulator.recognition import EngineUnavailable

    if disable_local_auth and bearer_token is None:
        raise click.UsageError("--disable-local-auth needs --bearer-token: otherwise no call could get in")
    if data != ":memory:":
        parent = os.path.dirname(os.path.abspath(data))
        os.makedirs(parent, exist_ok=True)
    settings = EmulatorSettings(
        data=data,
        key=key,
        bearer_token=bearer_token,
        disable_local_auth=disable_local_auth,
        rate_limit=rate_limit,
        latency_ms=latency,
        fault_rate=fault_rate,
        lost_response_rate=lost_response_rate,
        train_seconds=train_seconds,
        tier=tier,
        seed=seed,
        url_timeout_seconds=url_timeout,
        recognition_workers=workers,
    )
    try:
        app = create_app(settings, recognition=recognition)
    except EngineUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    engine = app.state.emulator.recognition.engine.name
    where = "memory (not durable)" if data == ":memory:" else os.path.abspath(data)
    auth = _auth_summary(settings.key is not None, bearer_token is not None, disable_local_auth)
    echo(
        f"Face API emulator listening on http://{host}:{port} ({auth}); data in {where};"
        f" recognition: {engine}"
    )
    if settings.key is None and bearer_token is None and host not in LOOPBACK_HOSTS:
        echo(
            f"warning: {host} is reachable from other machines and no --key is set: anyone who can "
            "connect can read and change the data and the emulator's settings.",
            err=True,
        )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")
    finally:
        app.state.emulator.close()


def _auth_summary(key: bool, token: bool, local_auth_disabled: bool) -> str:
    if local_auth_disabled:
        return "bearer token required, keys refused"
    accepted = [name for name, on in (("key", key), ("bearer token", token)) if on]
    return " or ".join(accepted) + " required" if accepted else "no key required"
