"""The one run path of the command line: resolve the resources (one, or each environment), open
the fleet, plan it with progress on stderr, and turn it into the document the renderers read.

plan, drift, show, apply, test, audit, force-unlock and import all come through here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facesync.cli.exits import EXIT_ERROR, Exit
from facesync.cli.options import ServiceArgs, run_request
from facesync.cli.output import echo, step_summary, use_color, with_status, write_file

if TYPE_CHECKING:
    from facesync.document import Saved
    from facesync.environments.resolve import Resolved
    from facesync.fleet import Fleet
    from facesync.live import ReadProgress
    from facesync.lock import LockOptions


def resolve(
    service: ServiceArgs,
    *,
    delete_threshold: float | None = None,
    lock: LockOptions | None = None,
    verify_default: int | None = 10,
    saved: Saved | None = None,
    check_images: bool = False,
) -> list[Resolved]:
    """Config → the resources of the run, each with its endpoint, key and options; no call is
    made. Warnings go to stderr; errors raise (ConfigError, SelectionError, EndpointError…)."""
    from facesync.environments.select import resolve_run

    request = run_request(
        service,
        delete_threshold=delete_threshold,
        lock=lock,
        verify_default=verify_default,
        check_images=check_images,
    )
    # Every key was registered as a secret when its endpoint was resolved (facesync.secrets).
    resolved, diagnostics = resolve_run(request, saved)
    for diagnostic in diagnostics:
        echo(str(diagnostic), err=True)
    return resolved


def one_resource(service: ServiceArgs, command: str) -> Resolved:
    """For commands that act on one resource at a time (test, audit, force-unlock)."""
    resolved = resolve(service)
    if len(resolved) != 1:
        raise Exit(EXIT_ERROR, f"{command} runs against one environment at a time: give a single --env NAME")
    return resolved[0]


def open_fleet(resolved: Iterable[Resolved], service: ServiceArgs) -> Fleet:
    from facesync.fleet import Fleet

    return Fleet(list(resolved), state_root=service.config_path)


def label(name: str | None) -> str:
    """How a line about one resource starts: nothing for a configuration without environments."""
    return "" if name is None else f"[{name}] "


def read_summary(progress: ReadProgress, requests: int, verified: int) -> str:
    cached = ""
    if progress.cache_hits:
        cached = f"; {progress.cache_hits:,} faces from the local cache, {verified:,} of them checked"
    return (
        f"Read {progress.collections_read}/{progress.collections} collection(s), "
        f"{progress.persons_read:,} person(s), {progress.faces_read:,}/{progress.faces:,} face(s) "
        f"with {requests:,} request(s){cached}"
    )


async def plan_fleet(fleet: Fleet, *, unmanaged: bool = True) -> None:
    """Plan every member, a progress line on a terminal and a summary line each on stderr."""

    def describe() -> str:
        if fleet.single:
            member = fleet.members[0]
            return "Reading the live service: " + read_summary(
                member.progress, member.sync.client.total_calls, member.sync.verified
            )
        return "Reading the live services: " + "; ".join(
            f"{m.name} {m.progress.faces_read:,}/{m.progress.faces:,} faces" for m in fleet.members
        )

    await with_status(fleet.plan(unmanaged=unmanaged), describe)
    for member in fleet.members:
        if member.error is None and member.plan is not None:
            client = member.sync.client
            detects = client.calls["Face.Detect"]
            summary = read_summary(member.progress, client.total_calls - detects, member.sync.verified)
            checks = member.plan.image_checks
            if checks is not None and checks.checked:
                summary += f"; checked {checks.checked:,} new face image(s) with {detects:,} detect call(s)"
            echo(f"{label(member.name)}{summary}.", err=True)
    stop_if_single_failed(fleet)
    # Whatever stopped a member (its lock, its read) is said once, here.
    for member in fleet.members:
        if member.error is not None:
            echo(f"{label(member.name)}Error: {member.error}", err=True)


def stop_if_single_failed(fleet: Fleet) -> None:
    """One resource that failed is the command's error; several report theirs in the document."""
    if fleet.single and fleet.members[0].error is not None:
        raise Exit(EXIT_ERROR, str(fleet.members[0].error))


def document(fleet: Fleet) -> dict[str, Any]:
    """The run's document: the plan of one resource, or every environment's."""
    from facesync.document import environments_document

    if fleet.single:
        plan = fleet.members[0].plan
        assert plan is not None
        return plan.to_dict()
    return environments_document(
        [
            (
                str(m.name),
                m.plan.to_dict() if m.plan is not None else None,
                None if m.error is None else str(m.error),
            )
            for m in fleet.members
        ]
    )


def emit(
    doc: dict[str, Any],
    fmt: str,
    *,
    no_color: bool,
    out_path: Path | None = None,
    drift: bool = False,
    marker: str | None = None,
) -> None:
    """The document on stdout in `fmt`, as JSON in `out_path`, and as Markdown in the step summary."""
    from facesync.render import render

    echo(render(doc, fmt, color=use_color(no_color), drift=drift, marker=marker), nl=False)
    if out_path is not None:
        write_file(out_path, render(doc, "json"), "the plan file")
    step_summary(render(doc, "markdown", drift=drift, marker=marker))


def failure(fleet: Fleet, verb: str) -> Exit | None:
    """The command's error, to raise once its document is shown: the one resource's own, or which
    environments could not be `verb`-ed; None when none failed."""
    failed = [m for m in fleet.members if m.error is not None]
    if not failed:
        return None
    if fleet.single:
        return Exit(EXIT_ERROR, str(failed[0].error))
    names = ", ".join(str(m.name) for m in failed)
    return Exit(EXIT_ERROR, f"could not {verb} environment(s) {names} (see above)")
