"""`facesync apply`: plan, show, approve, then make the live service match."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from facesync.cli import main
from facesync.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REFUSED,
    Exit,
    Loaded,
    ServiceArgs,
    fail,
    gate_options,
    handle_errors,
    load,
    make_sync,
    plan_with_progress,
    refusal_exit,
    run_async,
    service_options,
    use_color,
)
from facesync.cli.environments import EnvApplyArgs, environment_apply_options
from facesync.cli.plan import read_plan_file, render, step_summary

if TYPE_CHECKING:
    from facesync.apply import ApplyEvent, ApplyOptions, ApplyResult
    from facesync.lock import LockInfo
    from facesync.plan import Change, Plan
    from facesync.sync import Sync


def _reviewed(plan_file: Path | None, checksum: str | None) -> tuple[str | None, dict[str, Any] | None]:
    """The reviewed checksum, and the saved plan's scope when a plan file was given."""
    if plan_file is None:
        return checksum, None
    doc = read_plan_file(plan_file)
    if checksum and checksum != doc["checksum"]:
        raise fail(f"--checksum {checksum} differs from the checksum in {plan_file}")
    scope = doc.get("scope")
    return str(doc["checksum"]), scope if isinstance(scope, dict) else None


def _in_scope(service: ServiceArgs, scope: dict[str, Any] | None, plan_file: Path | None) -> ServiceArgs:
    """A saved plan remembers what it was made for: apply it to exactly that."""
    if scope is None:
        return service
    saved = tuple(str(t) for t in scope.get("targets") or ())
    if service.targets and tuple(service.targets) != saved:
        raise fail(
            f"--target {' '.join(service.targets)} differs from the targets {plan_file} was made for "
            f"({' '.join(saved) or 'all collections'}); leave --target out to apply the saved plan"
        )
    return replace(service, targets=saved, api_version=service.api_version or scope.get("api_version"))


def where(change: Change) -> str:
    """The image and config line a change comes from, for messages about it."""
    from facesync.model import DesiredFace
    from facesync.plan import display_path

    parts = []
    if isinstance(change.desired, DesiredFace) and change.desired.image_path:
        parts.append(f"image {display_path(change.desired.image_path)}")
    if change.source is not None:
        parts.append(f"{change.source.file}:{change.source.line}")
    return f" ({', '.join(parts)})" if parts else ""


class _Reporter:
    """Progress: a bar on a terminal, a line per step in CI, one JSON object per line with --format json."""

    def __init__(self, fmt: str, total: int, color: bool, label: str | None = None) -> None:
        """`label`: the environment, when several are applied at once (no bar; lines say which)."""
        self.label = label
        self.fmt = fmt
        self.color = color
        self.total = total
        self.count = 0
        self.started = time.monotonic()
        self.progress: Any = None
        self.task: Any = None
        if fmt == "text" and sys.stdout.isatty() and label is None:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self.progress = Progress(
                TextColumn("Applying"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:.1f} changes/s"),
                TimeElapsedColumn(),
            )
            self.task = self.progress.add_task("apply", total=total, rate=0.0)
            self.progress.start()

    def event(self, event: ApplyEvent) -> None:
        from facesync.render.text import SYMBOLS
        from facesync.render.values import short_fingerprints

        address = short_fingerprints(str(event.address))
        if event.type == "change" or event.status in ("succeeded", "failed"):
            self.count += 1
        if self.fmt == "json":
            payload: dict[str, Any] = {
                "event": event.type,
                "status": event.status,
                "address": str(event.address),
            }
            if event.change is not None:
                payload["action"] = event.change.action.value
                data = event.change.to_dict()
                image = (data["after"] or {}).get("image")
                if image:
                    payload["image"] = image
                if "source" in data:
                    payload["source"] = data["source"]
            if event.message:
                payload["message"] = event.message
            if self.label is not None:
                payload["environment"] = self.label
            click.echo(json.dumps(payload, sort_keys=True))
            return
        if self.progress is not None:
            rate = self.count / max(1e-6, time.monotonic() - self.started)
            self.progress.update(self.task, completed=min(self.count, self.total), rate=rate)
            if event.status == "failed":
                origin = where(event.change) if event.change is not None else ""
                self.progress.console.print(f"[red]failed[/red] {address}{origin}: {event.message}")
            return
        symbol = SYMBOLS[event.change.action][0] if event.change is not None else "*"
        label = "train" if event.type == "training" else event.status
        if event.type == "training":
            label = f"training {event.status}"
        line = f"{label:<18} {symbol} {address}"
        if event.message:
            line += f": {event.message}"
        click.echo(f"[{self.label}] {line}" if self.label is not None else line)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def _summary(result: ApplyResult) -> str:
    parts = [f"{len(result.done)} done", f"{len(result.failed)} failed", f"{len(result.skipped)} skipped"]
    text = "Apply complete: " if result.ok else "Apply finished with errors: "
    text += ", ".join(parts) + "."
    if result.trained:
        text += f" Trained: {', '.join(map(str, result.trained))}."
    if result.training_started:
        text += f" Training started (not waited for): {', '.join(map(str, result.training_started))}."
    return text


@main.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@service_options
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required without a terminal).")
@click.option("--checksum", help="Apply only if the fresh plan has this checksum (from `plan`).")
@gate_options
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed change.")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for training to finish.")
@click.option(
    "--train-timeout", type=float, default=1800.0, show_default=True, help="Seconds to wait for training."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="`json` streams one event per line; `github` adds an error annotation per failed change.",
)
@click.option("--no-color", is_flag=True, help="Plain text even on a terminal (also NO_COLOR).")
@click.option(
    "--lock-timeout",
    type=click.FloatRange(min=0),
    default=300.0,
    show_default=True,
    help="Seconds to wait for the lock another apply holds on the resource.",
)
@click.option(
    "--lock-expiry",
    type=click.FloatRange(min=0, max=86400),
    default=120.0,  # facesync.lock.DEFAULT_LEASE (imported lazily)
    show_default=True,
    help="Seconds this run's lease on the lock lasts unrenewed (at least 30; renewed every third): "
    "a killed run's lock is taken over after that long.",
)
@click.option("--unsafe-short-lease", is_flag=True, hidden=True, help="Tests only: --lock-expiry down to 1s.")
@click.option(
    "--lock-poll",
    type=click.FloatRange(min=0.01),
    default=2.0,
    show_default=True,
    help="Seconds between looks at a lock another apply holds.",
)
@environment_apply_options
@handle_errors
def apply_command(
    plan_file: Path | None,
    service: ServiceArgs,
    auto_approve: bool,
    checksum: str | None,
    force: bool,
    delete_threshold: float,
    fail_fast: bool,
    wait: bool,
    train_timeout: float,
    fmt: str,
    no_color: bool,
    lock_timeout: float,
    lock_expiry: float,
    unsafe_short_lease: bool,
    lock_poll: float,
    envs_apply: EnvApplyArgs,
) -> None:
    """Make the live Face resource match the configuration.

    With PLANFILE (from `plan --out`) or --checksum, the fresh plan must equal the reviewed one,
    else nothing changes and the exit code is 3. Running apply again finishes an interrupted or
    partly failed run. A plan file also fixes the targets and API version the plan was made with,
    and is refused for another endpoint. Exit codes: 0 success, 1 error (usage errors included),
    3 refused. Only one apply runs at a time on a resource: the lock is held on the service
    itself (see `force-unlock`).
    """
    from facesync.apply import ApplyOptions
    from facesync.cli.environments import apply_environments
    from facesync.lock import LockOptions, lease_floor_problem

    problem = lease_floor_problem(lock_expiry, for_tests=unsafe_short_lease)
    if problem:
        raise click.BadParameter(problem, param_hint="'--lock-expiry'")
    options = ApplyOptions(fail_fast=fail_fast, wait_for_training=wait, train_timeout=train_timeout)
    lock = LockOptions(timeout=lock_timeout, expiry=lock_expiry, poll=lock_poll)
    if apply_environments(
        plan_file,
        service,
        envs_apply,
        auto_approve=auto_approve,
        checksum=checksum,
        force=force,
        delete_threshold=delete_threshold,
        options=options,
        fail_fast=fail_fast,
        fmt=fmt,
        no_color=no_color,
        lock=lock,
    ):
        return
    reviewed, scope = _reviewed(plan_file, checksum)
    service = _in_scope(service, scope, plan_file)
    loaded = load(service)
    if scope is not None and scope.get("endpoint") != loaded.endpoint.display:
        raise Exit(
            EXIT_REFUSED,
            f"{plan_file} was made for {scope.get('endpoint')}, not {loaded.endpoint.display}; "
            "nothing was applied",
        )
    sync = make_sync(loaded, service, delete_threshold, lock)
    run_async(
        _apply(loaded, sync, reviewed, auto_approve, force, options, fmt, no_color), stop_on_sigterm=True
    )


async def _apply(
    loaded: Loaded,
    sync: Sync,
    reviewed: str | None,
    auto_approve: bool,
    force: bool,
    options: ApplyOptions,
    fmt: str,
    no_color: bool,
) -> None:
    from facesync.render.values import short_fingerprints
    from facesync.sync import PlanRefused

    color = use_color(no_color)
    async with sync:
        plan = await plan_with_progress(sync)
        _show(plan, fmt, color, loaded.endpoint.display)
        try:
            sync.check(plan, reviewed=reviewed, force=force)
        except PlanRefused as exc:
            raise refusal_exit(exc, "; nothing was applied") from None
        if plan.empty:
            raise Exit(EXIT_OK)
        if reviewed is None and not auto_approve:
            _ask_approval()
        # Taken here, after approval, so that nobody's prompt holds it; apply plans again under it.
        await sync.lock(on_wait=lambda holder: _waiting(holder, sync))
        reporter = _Reporter(fmt, len(plan.changes), color)
        try:
            result = await sync.apply(plan, options=options, on_event=reporter.event)
        except PlanRefused as exc:
            consequence = "; the service changed while this apply waited for the lock; nothing was applied"
            raise refusal_exit(exc, consequence) from None
        finally:
            reporter.close()
    for change, message in result.failed:
        click.echo(f"Failed: {short_fingerprints(str(change.address))}{where(change)}: {message}", err=True)
        if fmt == "github":
            click.echo(_annotation(change, message))
    for address, message in result.training_failed:
        click.echo(f"Failed: training {address}: {message}", err=True)
    for change in result.unconverged:
        click.echo(
            f"Not converged: {short_fingerprints(str(change.address))} still needs {change.action.value} "
            f"({change.explanation})",
            err=True,
        )
    summary = (
        "Nothing to apply: another apply made these changes while this one waited for the lock."
        if result.superseded
        else _summary(result)
    )
    if fmt == "json":
        click.echo(
            json.dumps(
                {
                    "event": "summary",
                    "ok": result.ok,
                    "done": len(result.done),
                    "failed": len(result.failed),
                    "skipped": len(result.skipped),
                    "trained": [str(a) for a in result.trained],
                    "unconverged": [str(c.address) for c in result.unconverged],
                    "superseded": result.superseded,
                    "message": summary,
                },
                sort_keys=True,
            )
        )
    else:
        click.echo(summary)
    if result.unconverged and not result.failed:
        raise Exit(
            EXIT_ERROR,
            "the service does not match the configuration after apply (changed by another writer?); "
            "run plan to see why",
        )
    if not result.ok:
        raise Exit(EXIT_ERROR, "some changes failed; fix the cause and run apply again to finish")


def _waiting(holder: LockInfo, sync: Sync) -> None:
    click.echo(
        f"Waiting for the lock on {sync.endpoint.display}, held by {holder.describe()} "
        f"(up to {sync.options.lock.timeout:g}s, --lock-timeout; if that run died: "
        f"facesync force-unlock {holder.lock_id})...",
        err=True,
    )


def _annotation(change: Change, message: str) -> str:
    """A GitHub Actions `::error` for a failed change, at its config line when it has one."""
    from facesync.cli.validate import github_annotation
    from facesync.config.errors import Diagnostic
    from facesync.render.values import short_fingerprints

    source = change.source
    text = f"{short_fingerprints(str(change.address))}{where(change)}: {message}"
    if source is None:
        return github_annotation(Diagnostic("", 0, 0, text))
    return github_annotation(Diagnostic(source.file, source.line, source.column, text))


def _show(plan: Plan, fmt: str, color: bool, endpoint: str) -> None:
    from facesync.render import render_text

    if fmt == "json":
        click.echo(json.dumps({"event": "plan", "plan": plan.to_dict()}, sort_keys=True))
    else:
        click.echo(render_text(plan, color=color, endpoint=endpoint), nl=False)
    step_summary(render(plan.to_dict(), "markdown", color=False, endpoint=endpoint))


def _ask_approval() -> None:
    if not sys.stdin.isatty():
        raise Exit(
            EXIT_REFUSED,
            "no terminal to ask for approval: review the plan and pass --auto-approve "
            "(or apply a reviewed plan file)",
        )
    answer = click.prompt(
        "\nDo you want to apply these changes? Only 'yes' will be accepted", default="", show_default=False
    )
    if answer.strip() != "yes":
        raise Exit(EXIT_ERROR, "apply cancelled; nothing was changed")
