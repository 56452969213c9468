"""`facesync plan` and `facesync drift`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from facesync.cli import main
from facesync.cli.common import (
    EXIT_CHANGES,
    EXIT_OK,
    Exit,
    Loaded,
    ServiceArgs,
    fail,
    gate_options,
    handle_errors,
    load,
    make_sync,
    output_options,
    refusal_exit,
    run_async,
    service_options,
    use_color,
)

if TYPE_CHECKING:
    from facesync.plan import Plan
    from facesync.sync import Sync


async def _plan(sync: Sync) -> Plan:
    async with sync:
        return await sync.plan()


def emit_plan(
    plan: Plan, fmt: str, no_color: bool, out_path: Path | None, endpoint: str, title: str = "facesync plan"
) -> None:
    from facesync.render import render_json, render_markdown, render_text

    if fmt == "json":
        click.echo(render_json(plan), nl=False)
    elif fmt == "markdown":
        click.echo(render_markdown(plan, title=title), nl=False)
    else:
        click.echo(render_text(plan, color=use_color(no_color), endpoint=endpoint), nl=False)
    if out_path is not None:
        try:
            out_path.parent.mkdir(parents=True, exist_ok=True)
            out_path.write_text(render_json(plan))
        except OSError as exc:
            raise fail(f"cannot write the plan to {out_path}: {exc.strerror or exc}") from None


def _report_verified(sync: Sync) -> None:
    if sync.verified:
        click.echo(f"Checked {sync.verified} cached face(s) against the service (--verify-sample).", err=True)


def _compute(service: ServiceArgs, delete_threshold: float | None = None) -> tuple[Loaded, Sync, Plan]:
    loaded = load(service)
    sync = make_sync(loaded, service, delete_threshold)
    return loaded, sync, run_async(_plan(sync))


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
    from facesync.sync import PlanRefused

    loaded, sync, plan = _compute(service, delete_threshold)
    _report_verified(sync)
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display)
    try:
        sync.check(plan, force=force)
    except PlanRefused as exc:
        raise refusal_exit(exc, "") from None
    raise Exit(EXIT_CHANGES if detailed_exitcode and not plan.empty else EXIT_OK)


@main.command("drift")
@service_options
@output_options
@handle_errors
def drift_command(service: ServiceArgs, fmt: str, no_color: bool, out_path: Path | None) -> None:
    """Fail (exit 2) when the live service differs from the configuration. Never writes.

    Exit codes: 0 in sync, 1 error, 2 drift found.
    """
    loaded, sync, plan = _compute(service)
    _report_verified(sync)
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display, title="facesync drift")
    raise Exit(EXIT_CHANGES if not plan.empty else EXIT_OK)
