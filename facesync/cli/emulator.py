"""`facesync emulator`: serve the local Azure Face API emulator (docs/emulator.md)."""

from __future__ import annotations

import os

import click

from facesync.cli import main

DEFAULT_DATA = "./facesync-emulator.sqlite"
LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


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
    help="Require this Ocp-Apim-Subscription-Key on every call, /_emulator/* included "
    "(env FACESYNC_EMULATOR_KEY).",
)
@click.option("--rate-limit", type=float, default=None, help="Transactions per second (429 above).")
@click.option("--latency", type=float, default=0.0, show_default=True, help="Added ms per call.")
@click.option(
    "--fault-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of a random 500/503 before a call does anything.",
)
@click.option(
    "--lost-response-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability that a write is committed and then answered with 500.",
)
@click.option(
    "--train-seconds",
    type=float,
    default=0.2,
    show_default=True,
    help="Base training duration: a run takes S * (1 + items / 10000) seconds.",
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
def emulator_command(
    host: str,
    port: int,
    data: str,
    key: str | None,
    rate_limit: float | None,
    latency: float,
    fault_rate: float,
    lost_response_rate: float,
    train_seconds: float,
    tier: str,
    seed: int | None,
    recognition: str,
) -> None:
    """Serve the Azure Face API (collections and recognition) locally, persisting to SQLite.

    Runs until stopped. Exit codes: 0 stopped, 1 error (usage errors included).
    """
    import uvicorn

    from facesync.emulator import EmulatorSettings, create_app
    from facesync.emulator.recognition import EngineUnavailable

    if rate_limit is not None and rate_limit <= 0:
        raise click.BadParameter("must be > 0", param_hint="--rate-limit")
    if data != ":memory:":
        parent = os.path.dirname(os.path.abspath(data))
        os.makedirs(parent, exist_ok=True)
    settings = EmulatorSettings(
        data=data,
        key=key or None,
        rate_limit=rate_limit,
        latency_ms=latency,
        fault_rate=fault_rate,
        lost_response_rate=lost_response_rate,
        train_seconds=train_seconds,
        tier=tier,
        seed=seed,
    )
    try:
        app = create_app(settings, recognition=recognition)
    except EngineUnavailable as exc:
        raise click.UsageError(str(exc)) from None
    engine = app.state.emulator.recognition.engine.name
    where = "memory (not durable)" if data == ":memory:" else os.path.abspath(data)
    auth = "key required" if settings.key else "no key required"
    click.echo(
        f"Face API emulator listening on http://{host}:{port} ({auth}); data in {where};"
        f" recognition: {engine}"
    )
    if not settings.key and host not in LOOPBACK_HOSTS:
        click.echo(
            f"warning: {host} is reachable from other machines and no --key is set: anyone who can "
            "connect can read and change the data and the emulator's settings.",
            err=True,
        )
    try:
        uvicorn.run(app, host=host, port=port, log_level="warning", lifespan="off")
    finally:
        app.state.emulator.close()
