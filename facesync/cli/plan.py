"""`facesync plan` and `facesync drift`."""

from __future__ import annotations

from pathlib import Path

import click

from facesync.cli import main
from facesync.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    EXIT_REFUSED,
    Exit,
    Loaded,
    handle_errors,
    load,
    make_client,
    output_options,
    run_async,
    service_options,
    use_color,
)
from facesync.plan import Plan, SafetyPolicy, safety_refusals
from facesync.planner import LocalState, build_plan
from facesync.render import render_json, render_markdown, render_text


async def compute_plan(
    loaded: Loaded,
    config_path: Path,
    targets: tuple[str, ...],
    refresh: str,
    rate_limit: float,
    parallelism: int,
) -> Plan:
    state = LocalState.open(config_path, loaded.endpoint.url, full_refresh=refresh == "full")
    async with make_client(loaded, rate_limit, parallelism) as client:
        plan, _ = await build_plan(client, loaded.desired, state=state, targets=targets)
    return plan


def emit_plan(
    plan: Plan, fmt: str, no_color: bool, out_path: Path | None, endpoint: str, title: str = "facesync plan"
) -> None:
    if fmt == "json":
        click.echo(render_json(plan), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(plan, title=title), nl=False)
    else:
        click.echo(render_text(plan, color=use_color(no_color), endpoint=endpoint), nl=False)
    if out_path is not None:
        out_path.parent.mkdir(parents=True, exist_ok=True)
        out_path.write_text(render_json(plan))


def warn(messages: list[str]) -> None:
    for message in messages:
        click.echo(message, err=True)


@main.command("plan")
@service_options
@output_options
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@click.option("--force", is_flag=True, help="Accept a plan the safety gates would refuse.")
@click.option(
    "--delete-threshold",
    type=click.FloatRange(0, 1),
    default=0.30,
    show_default=True,
    help="Largest share of a collection's persons or faces to delete without --force.",
)
@handle_errors
def plan_command(
    config_path: Path,
    endpoint: str | None,
    key: str | None,
    api_version: str | None,
    targets: tuple[str, ...],
    rate_limit: float,
    parallelism: int,
    refresh: str,
    fmt: str,
    no_color: bool,
    out_path: Path | None,
    detailed_exitcode: bool,
    force: bool,
    delete_threshold: float,
) -> None:
    """Show what apply would change on the live Face resource.

    Exit codes: 0 no changes (or changes without --detailed-exitcode), 1 error,
    2 changes present (--detailed-exitcode), 3 refused by a safety gate.
    """
    loaded = load(config_path, endpoint, key, api_version, targets)
    warn(loaded.warnings)
    plan = run_async(compute_plan(loaded, config_path, targets, refresh, rate_limit, parallelism))
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display)
    refusals = safety_refusals(plan, SafetyPolicy(delete_threshold=delete_threshold))
    if refusals and not force:
        for reason in refusals:
            click.echo(f"Refused: {reason}", err=True)
        raise Exit(EXIT_REFUSED, "the plan needs --force (see the reasons above)")
    if detailed_exitcode and not plan.empty:
        raise Exit(EXIT_CHANGES)
    raise Exit(EXIT_OK)


@main.command("drift")
@service_options
@output_options
@handle_errors
def drift_command(
    config_path: Path,
    endpoint: str | None,
    key: str | None,
    api_version: str | None,
    targets: tuple[str, ...],
    rate_limit: float,
    parallelism: int,
    refresh: str,
    fmt: str,
    no_color: bool,
    out_path: Path | None,
) -> None:
    """Fail (exit 2) when the live service differs from the configuration. Never writes.

    Exit codes: 0 in sync, 1 error, 2 drift found.
    """
    loaded = load(config_path, endpoint, key, api_version, targets)
    warn(loaded.warnings)
    plan = run_async(compute_plan(loaded, config_path, targets, refresh, rate_limit, parallelism))
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display, title="facesync drift")
    raise Exit(EXIT_CHANGES if not plan.empty else EXIT_OK)
