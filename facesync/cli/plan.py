"""`facesync plan`, `facesync drift` and `facesync show`."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

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
    plan_with_progress,
    refusal_exit,
    run_async,
    service_options,
    use_color,
)
from facesync.cli.environments import force_env_option

if TYPE_CHECKING:
    from facesync.plan import Plan
    from facesync.sync import Sync


async def _plan(sync: Sync) -> Plan:
    async with sync:
        return await plan_with_progress(sync)


def render(
    doc: Mapping[str, Any],
    fmt: str,
    *,
    color: bool,
    endpoint: str | None,
    drift: bool = False,
    marker: str | None = None,
) -> str:
    from facesync.render import render_json, render_markdown, render_text

    if fmt == "json":
        return render_json(doc)
    if fmt == "markdown":
        title = "facesync drift" if drift else "facesync plan"
        return render_markdown(doc, title=title, marker=marker, drift=drift)
    return render_text(doc, color=color, endpoint=endpoint, drift=drift)


def write_file(path: Path, text: str, what: str) -> None:
    from facesync.atomic import write_text_atomically

    try:
        write_text_atomically(path, text)  # whole or not at all, never through a symlink
    except OSError as exc:
        raise fail(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def step_summary(markdown: str) -> None:
    """GitHub Actions shows what a job appends to $GITHUB_STEP_SUMMARY on the run's page."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        with open(target, "a", encoding="utf-8") as out:
            out.write(markdown + "\n")
    except OSError as exc:
        click.echo(f"Warning: cannot append to $GITHUB_STEP_SUMMARY ({target}): {exc.strerror}", err=True)


def emit_plan(
    plan: Plan,
    fmt: str,
    no_color: bool,
    out_path: Path | None,
    endpoint: str,
    *,
    drift: bool = False,
    marker: str | None = None,
) -> None:
    doc = plan.to_dict()
    click.echo(
        render(doc, fmt, color=use_color(no_color), endpoint=endpoint, drift=drift, marker=marker), nl=False
    )
    if out_path is not None:
        write_file(out_path, render(doc, "json", color=False, endpoint=None), "the plan file")
    step_summary(render(doc, "markdown", color=False, endpoint=endpoint, drift=drift, marker=marker))


def _report_verified(sync: Sync) -> None:
    if sync.verified:
        click.echo(f"Checked {sync.verified} cached face(s) against the service (--verify-sample).", err=True)


def _compute(service: ServiceArgs, delete_threshold: float | None = None) -> tuple[Loaded, Sync, Plan]:
    loaded = load(service)
    sync = make_sync(loaded, service, delete_threshold)
    return loaded, sync, run_async(_plan(sync))


marker_option = click.option(
    "--comment-marker",
    "marker",
    metavar="NAME",
    help="Name in the Markdown's hidden marker, so a CI job updates its own comment "
    "[default: derived from the config root and endpoint].",
)


@main.command("plan")
@service_options
@output_options
@marker_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@gate_options
@force_env_option
@handle_errors
def plan_command(
    service: ServiceArgs,
    fmt: str,
    no_color: bool,
    out_path: Path | None,
    marker: str | None,
    detailed_exitcode: bool,
    force: bool,
    delete_threshold: float,
    force_envs: tuple[str, ...],
) -> None:
    """Show what apply would change on the live Face resource.

    Exit codes: 0 no changes (or changes without --detailed-exitcode), 1 error (usage errors
    included), 2 changes present (--detailed-exitcode), 3 refused by a safety gate.
    """
    from facesync.cli.environments import chosen, plan_environments
    from facesync.sync import PlanRefused

    selection = chosen(service)
    if selection is not None:
        plan_environments(
            service,
            selection,
            fmt=fmt,
            no_color=no_color,
            out_path=out_path,
            marker=marker,
            drift=False,
            detailed_exitcode=detailed_exitcode,
            force=force,
            force_envs=force_envs,
            delete_threshold=delete_threshold,
        )
    loaded, sync, plan = _compute(service, delete_threshold)
    _report_verified(sync)
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display, marker=marker)
    try:
        sync.check(plan, force=force)
    except PlanRefused as exc:
        raise refusal_exit(exc, "") from None
    raise Exit(EXIT_CHANGES if detailed_exitcode and not plan.empty else EXIT_OK)


@main.command("drift")
@service_options
@output_options
@marker_option
@handle_errors
def drift_command(
    service: ServiceArgs, fmt: str, no_color: bool, out_path: Path | None, marker: str | None
) -> None:
    """Fail (exit 2) when the live service differs from the configuration. Never writes.

    Exit codes: 0 in sync, 1 error (usage errors included), 2 drift found.
    """
    from facesync.cli.environments import chosen, plan_environments

    selection = chosen(service)
    if selection is not None:
        plan_environments(
            service, selection, fmt=fmt, no_color=no_color, out_path=out_path, marker=marker, drift=True
        )
    loaded, sync, plan = _compute(service)
    _report_verified(sync)
    emit_plan(plan, fmt, no_color, out_path, loaded.endpoint.display, drift=True, marker=marker)
    raise Exit(EXIT_CHANGES if not plan.empty else EXIT_OK)


def read_plan_file(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise fail(f"cannot read plan file {path}: {exc}") from None
    has_plans = "changes" in doc or "environments" in doc if isinstance(doc, dict) else False
    if not isinstance(doc, dict) or not isinstance(doc.get("checksum"), str) or not has_plans:
        raise fail(f"{path} is not a facesync plan (no checksum): write one with `plan --out FILE`")
    return doc


@main.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown"]),
    default="text",
    show_default=True,
    help="How to render the saved plan.",
)
@marker_option
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal (also NO_COLOR).")
@handle_errors
def show_command(plan_file: Path, fmt: str, marker: str | None, no_color: bool) -> None:
    """Render a saved plan (from `plan --out FILE`) as text, Markdown or JSON. Never calls the service.

    Exit codes: 0 shown, 1 error.
    """
    from facesync.cli.environments import render_document

    doc = read_plan_file(plan_file)
    endpoint = (doc.get("scope") or {}).get("endpoint")
    try:
        if "environments" in doc:
            text = render_document(doc, fmt, color=use_color(no_color), marker=marker)
        else:
            text = render(doc, fmt, color=use_color(no_color), endpoint=endpoint, marker=marker)
    except (KeyError, TypeError, ValueError) as exc:
        raise fail(f"{plan_file} is not a plan this version of facesync can read ({exc!r})") from None
    click.echo(text, nl=False)
