"""`facesync plan` and `facesync drift`."""

from __future__ import annotations

from pathlib import Path

import click

from facesync.cli import main
from facesync.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    Exit,
    Loaded,
    ServiceArgs,
    enforce_gates,
    gate_options,
    handle_errors,
    load,
    make_client,
    output_options,
    run_async,
    service_options,
    use_color,
)
from facesync.plan import Plan
from facesync.planner import LocalState, build_plan
from facesync.render import render_json, render_markdown, render_text


async def compute_plan(loaded: Loaded, service: ServiceArgs) -> Plan:
    state = LocalState.open(service.config_path, loaded.endpoint.url, full_refresh=service.full_refresh)
    async with make_client(loaded, service) as client:
        plan, _ = await build_plan(client, loaded.desired, state=state, targets=service.targets)
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


@main.command("plan")
@service_options
@output_options
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@gate_options
@handle_errors
def plan_command(
    service: ServiceArgs,
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
    loaded = load(service)
    plan = run_async(compute_plan(loaded, service))
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display)
    enforce_gates(plan, force, delete_threshold, "")
    raise Exit(EXIT_CHANGES if detailed_exitcode and not plan.empty else EXIT_OK)


@main.command("drift")
@service_options
@output_options
@handle_errors
def drift_command(service: ServiceArgs, fmt: str, no_color: bool, out_path: Path | None) -> None:
    """Fail (exit 2) when the live service differs from the configuration. Never writes.

    Exit codes: 0 in sync, 1 error, 2 drift found.
    """
    loaded = load(service)
    plan = run_async(compute_plan(loaded, service))
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display, title="facesync drift")
    raise Exit(EXIT_CHANGES if not plan.empty else EXIT_OK)
