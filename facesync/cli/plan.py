"""`facesync plan`, `facesync drift` and `facesync show`."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NoReturn

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_CHANGES, EXIT_OK, EXIT_REFUSED, Exit, handle_errors
from facesync.cli.options import (
    ServiceArgs,
    force_env_option,
    gate_options,
    marker_option,
    no_check_images_option,
    output_options,
    service_options,
)
from facesync.cli.output import echo, run_async, use_color
from facesync.cli.run import document, emit, failure, label, open_fleet, plan_fleet, resolve


def refusal_messages(refused: Mapping[str | None, Exception]) -> str:
    """Each refusal on stderr; returns what would accept them (`--force`, `--force-env NAME`)."""
    from facesync.plan import Gate
    from facesync.text import printable

    needs: list[str] = []
    for name, exc in refused.items():
        for reason in getattr(exc, "refusals", None) or (exc,):
            echo(f"Refused: {label(name)}{printable(str(reason))}", err=True)
            gate = getattr(reason, "gate", None)
            flag = f"--force-env {name}" if gate is Gate.PROTECTED_ENVIRONMENT else "--force"
            if flag not in needs:
                needs.append(flag)
    return " and ".join(needs)


@main.command("plan")
@service_options(read=True)
@output_options(("text", "json", "markdown", "github"))
@marker_option
@click.option("--detailed-exitcode", is_flag=True, help="Exit 2 when the plan has changes.")
@gate_options
@force_env_option
@no_check_images_option
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
    no_check_images: bool,
) -> NoReturn:
    """Show what apply would change on the live Face resource (each environment's with --env).

    The image of every face the plan adds is detected first (one call each): a photo the service
    would refuse (no face, several faces and no targetFace, a face too small) is an error.
    `--format github` adds an annotation at its config line. Exit codes: 0 no changes (or
    changes without --detailed-exitcode), 1 error (usage errors included; any environment that
    could not be planned; an image the service would refuse), 2 changes present
    (--detailed-exitcode), 3 refused by a safety gate.
    """
    resolved = resolve(service, delete_threshold=delete_threshold, check_images=not no_check_images)

    async def run() -> tuple[dict[str, object], Exit | None, dict[str | None, Exception]]:
        async with open_fleet(resolved, service) as fleet:
            await plan_fleet(fleet)
            refused = fleet.check(reviewed=None, force=force, force_envs=force_envs)
            return document(fleet), failure(fleet, "plan"), dict(refused)

    doc, failed, refused = run_async(run())
    emit(doc, fmt, no_color=no_color, out_path=out_path, marker=marker)
    if failed is not None:
        raise failed
    if refused:
        needs = refusal_messages(refused)
        raise Exit(EXIT_REFUSED, f"the plan needs {needs} (see the reasons above)")
    raise Exit(EXIT_CHANGES if detailed_exitcode and _changed(doc) else EXIT_OK)


def _changed(doc: dict[str, object]) -> bool:
    if "environments" in doc:
        entries = doc["environments"]
        assert isinstance(entries, list)
        return any(e.get("changes") for e in entries) or bool(doc.get("differences"))
    return bool(doc["changes"])


@main.command("drift")
@service_options(read=True, verify_default="all")
@output_options()
@marker_option
@handle_errors
def drift_command(
    service: ServiceArgs, fmt: str, no_color: bool, out_path: Path | None, marker: str | None
) -> NoReturn:
    """Fail (exit 2) when the live service differs from the configuration. Never writes.

    Every face facesync knows from its local cache is checked against the service (like
    Terraform's refresh): a face edited by hand is never missed. Exit codes: 0 in sync, 1 error
    (usage errors included; any environment that could not be read), 2 drift found.
    """
    resolved = resolve(service, verify_default=None)

    async def run() -> tuple[dict[str, object], Exit | None]:
        async with open_fleet(resolved, service) as fleet:
            await plan_fleet(fleet)
            return document(fleet), failure(fleet, "read")

    doc, failed = run_async(run())
    emit(doc, fmt, no_color=no_color, out_path=out_path, drift=True, marker=marker)
    if failed is not None:
        raise failed
    raise Exit(EXIT_CHANGES if _changed(doc) else EXIT_OK)


@main.command("show")
@click.argument("plan_file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "markdown", "github"]),
    default="text",
    show_default=True,
    help="How to render the saved plan (`github`: the text and an annotation at the config line "
    "of each image the service would refuse).",
)
@marker_option
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal (also NO_COLOR).")
@handle_errors
def show_command(plan_file: Path, fmt: str, marker: str | None, no_color: bool) -> None:
    """Render a saved plan (from `plan --out FILE`) as text, Markdown, JSON or GitHub annotations.
    Never calls the service.

    The file's checksums are recomputed from its own changes: a file edited after it was made is
    refused. Exit codes: 0 shown, 1 error (not a plan this facesync can read), 3 refused (the file
    was modified after it was made).
    """
    from facesync.document import read_plan_file, with_summary
    from facesync.render import render

    saved = read_plan_file(plan_file)
    text = render(with_summary(saved.doc), fmt, color=use_color(no_color), marker=marker)
    echo(text, nl=False)
