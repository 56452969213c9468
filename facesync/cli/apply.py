"""`facesync apply`: lock, plan once, show, approve, then make the live service match."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, Exit, handle_errors
from facesync.cli.options import (
    ServiceArgs,
    force_env_option,
    gate_options,
    no_check_images_option,
    service_options,
)
from facesync.cli.output import echo, run_async, step_summary, use_color
from facesync.cli.plan import refusal_messages
from facesync.cli.report import Reporter, report_outcomes
from facesync.cli.run import document, label, open_fleet, plan_fleet, resolve, stop_if_single_failed

if TYPE_CHECKING:
    from facesync.apply import ApplyOptions
    from facesync.document import PlanFile
    from facesync.fleet import Fleet, Member
    from facesync.lock import LockInfo


def _reviewed(plan_file: PlanFile | None, checksum: str | None, fleet: Fleet) -> dict[str | None, str] | None:
    """The reviewed checksum of each member (None: nothing was reviewed)."""
    if plan_file is not None:
        return dict(plan_file.saved().checksums)
    if checksum is None:
        return None
    if fleet.single:
        return {None: checksum}
    return {m.name: checksum for m in fleet.members} if len(fleet.members) == 1 else None


CHANGED_WHILE_WAITING = "changed while this apply waited for the lock"


def _stale(fleet: Fleet, refused: Mapping[str | None, Exception], why: str) -> bool:
    """Report the members whose plan is stale; True when any is (nothing is applied then)."""
    from facesync.sync import StalePlan

    stale = {name: exc for name, exc in refused.items() if isinstance(exc, StalePlan)}
    for name, exc in stale.items():
        echo(f"Refused: {label(name)}{exc}", err=True)
    if not stale:
        return False
    names = "" if fleet.single else f" of {', '.join(str(n) for n in stale)}"
    echo(
        f"Error: the plan{names} {why}; nothing was applied. Review the new plan and apply again", err=True
    )
    return True


def _show(doc: dict[str, Any], fmt: str, color: bool) -> None:
    from facesync.render import render

    if fmt == "json":
        echo(json.dumps({"event": "plan", "plan": doc}, sort_keys=True))
    else:
        echo(render(doc, fmt if fmt in ("markdown", "github") else "text", color=color), nl=False)
    step_summary(render(doc, "markdown"))


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


def _waiting(member: Member, holder: LockInfo) -> None:
    timeout = member.sync.options.lock.timeout
    echo(
        f"{label(member.name)}Waiting for the lock on {member.sync.endpoint.display}, "
        f"held by {holder.describe()} "
        f"(up to {timeout:g}s, --lock-timeout; if that run died: "
        f"facesync force-unlock {holder.lock_id})...",
        err=True,
    )


async def _checks_between(member: Member, config: Path) -> str | None:
    """`facesync test` against the environment just applied, in a --sequential run: a failed or
    unrunnable test stops the environments after it. Uses that environment's own client (its key,
    its rate limit) and only the tests of collections it holds."""
    from facesync.address import resolve_targets, selects
    from facesync.checks.render import TEST_RENDERERS
    from facesync.checks.resolve import resolve_tests
    from facesync.checks.runner import run_tests
    from facesync.checks.spec import load_tests

    desired = member.resolved.desired
    tests, diagnostics = load_tests(config)
    if any(d.is_error for d in diagnostics):
        return f"the recognition tests have errors ({diagnostics[0]})"
    resolved, problems = resolve_tests(tests, desired)
    if problems:
        return f"the recognition tests cannot run on '{member.name}' ({problems[0]})"
    targets = resolve_targets(desired, member.resolved.options.targets)
    resolved = [
        t for t in resolved if t.collection is None or selects(targets, t.collection.kind, t.collection.id)
    ]
    if not resolved:
        echo(f"{label(member.name)}no recognition tests to run (facesync test)", err=True)
        return None
    result = await run_tests(member.sync.client, resolved)
    for line in TEST_RENDERERS["text"](result).splitlines():
        echo(f"{label(member.name)}{line}", err=True)
    if not result.ok:
        return f"recognition tests failed on '{member.name}'"
    echo(f"{label(member.name)}recognition tests passed", err=True)
    return None


@main.command("apply")
@click.argument("plan_file", required=False, type=click.Path(path_type=Path, dir_okay=False, exists=True))
@service_options(read=True, sequential=True)
@click.option("--auto-approve", is_flag=True, help="Apply without asking (required without a terminal).")
@click.option("--checksum", help="Apply only if the fresh plan has this checksum (from `plan`).")
@gate_options
@force_env_option
@click.option(
    "--skip-refused",
    is_flag=True,
    help="Apply the environments whose plans are accepted even when others are refused "
    "(the refused ones are left alone; the exit code is still 3).",
)
@click.option(
    "--sequential",
    is_flag=True,
    help="Apply the environments one at a time in --env order, running recognition checks "
    "(facesync test) after each but the last; stop at the first that fails.",
)
@click.option("--fail-fast", is_flag=True, help="Stop at the first failed change (or environment).")
@click.option("--wait/--no-wait", default=True, show_default=True, help="Wait for training to finish.")
@click.option(
    "--train-timeout", type=float, default=1800.0, show_default=True, help="Seconds to wait for training."
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github", "markdown"]),
    default="text",
    show_default=True,
    help="`json` streams one event per line; `github` adds an error annotation per failed change; "
    "`markdown` shows the plan and the outcome as a pull-request comment.",
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
@no_check_images_option
@handle_errors
def apply_command(
    plan_file: Path | None,
    service: ServiceArgs,
    auto_approve: bool,
    checksum: str | None,
    force: bool,
    delete_threshold: float,
    force_envs: tuple[str, ...],
    skip_refused: bool,
    sequential: bool,
    fail_fast: bool,
    wait: bool,
    train_timeout: float,
    fmt: str,
    no_color: bool,
    lock_timeout: float,
    lock_expiry: float,
    unsafe_short_lease: bool,
    lock_poll: float,
    no_check_images: bool,
) -> NoReturn:
    """Make the live Face resource match the configuration (each environment's with --env).

    Takes the resource's lock (held on the service itself; see `force-unlock`), plans once under
    it, shows the plan and asks for approval. With PLANFILE (from `plan --out`) or --checksum, the
    fresh plan must equal the reviewed one, else nothing changes; a plan file also fixes the
    targets and API version it was made with, and is refused for another endpoint or when it was
    edited after it was made. Running apply again finishes an interrupted or partly failed run.
    Like plan, it detects the images of the faces it adds first, and writes nothing when the
    service would refuse one (unless --no-check-images).
    Exit codes: 0 success (or nothing to do), 1 error (usage errors included; a failed change or
    environment; an image the service would refuse), 3 refused (a safety gate, a stale or edited
    plan, no approval).
    """
    from facesync.apply import ApplyOptions
    from facesync.document import read_plan_file
    from facesync.lock import LockOptions, lease_floor_problem

    problem = lease_floor_problem(lock_expiry, for_tests=unsafe_short_lease)
    if problem:
        raise click.BadParameter(problem, param_hint="'--lock-expiry'")

    saved = read_plan_file(plan_file) if plan_file is not None else None
    if saved is not None and checksum and checksum != saved.checksum:
        raise Exit(EXIT_ERROR, f"--checksum {checksum} differs from the checksum in {plan_file}")
    if sequential and len(service.envs) < 2 and not service.all_envs:
        echo("Note: --sequential with one environment changes nothing.", err=True)
    lock = LockOptions(timeout=lock_timeout, expiry=lock_expiry, poll=lock_poll)
    resolved = resolve(
        service,
        delete_threshold=delete_threshold,
        lock=lock,
        saved=saved.saved() if saved is not None else None,
        check_images=not no_check_images,
    )
    if saved is not None:
        for one in resolved:
            made_for = saved.endpoint(one.name)
            if made_for is not None and made_for != one.endpoint.display:
                env = f" in environment '{one.name}'" if one.name is not None else ""
                raise Exit(
                    EXIT_REFUSED,
                    f"{plan_file} was made for {made_for}{env}, not {one.endpoint.display}; "
                    "nothing was applied",
                )
    options = ApplyOptions(fail_fast=fail_fast, wait_for_training=wait, train_timeout=train_timeout)

    async def run() -> int:
        async with open_fleet(resolved, service) as fleet:
            return await _apply(
                fleet,
                service.config_path,
                saved,
                checksum,
                auto_approve=auto_approve,
                force=force,
                force_envs=force_envs,
                skip_refused=skip_refused,
                sequential=sequential,
                fail_fast=fail_fast,
                options=options,
                fmt=fmt,
                color=use_color(no_color),
            )

    raise Exit(run_async(run(), stop_on_sigterm=True))


async def _apply(
    fleet: Fleet,
    config: Path,
    saved: PlanFile | None,
    checksum: str | None,
    *,
    auto_approve: bool,
    force: bool,
    force_envs: tuple[str, ...],
    skip_refused: bool,
    sequential: bool,
    fail_fast: bool,
    options: ApplyOptions,
    fmt: str,
    color: bool,
) -> int:
    # Unattended (a reviewed plan, or --auto-approve): the lock first, so the one plan made stays
    # true until it is applied. A person asked for approval is asked before any lock is taken (a
    # prompt must not hold it), and a --sequential run locks each environment when its turn
    # comes: then each plan is made again under its lock and must not have changed.
    interactive = saved is None and checksum is None and not auto_approve
    if not interactive and not sequential:
        await fleet.lock(on_wait=_waiting)
        stop_if_single_failed(fleet)
    # Apply reads only the kinds it manages: unmanaged collections are plan's and drift's to report.
    await plan_fleet(fleet, unmanaged=False)
    doc = document(fleet)
    _show(doc, fmt, color)
    reviewed = _reviewed(saved, checksum, fleet)
    if checksum is not None and reviewed is None and checksum != doc["checksum"]:
        echo(
            "Refused: the plans changed since they were reviewed "
            f"(reviewed {checksum}, now {doc['checksum']})",
            err=True,
        )
        echo("Error: nothing was applied. Review the new plans and apply again", err=True)
        return EXIT_REFUSED
    refused = fleet.check(reviewed=reviewed, force=force, force_envs=force_envs)
    if _stale(fleet, refused, "changed since it was reviewed"):
        return EXIT_REFUSED
    if fleet.single and fleet.members[0].error is not None:
        # A plan no apply can make (a kept face the service no longer holds): nothing is written.
        raise Exit(EXIT_ERROR, str(fleet.members[0].error))
    if refused:
        needs = refusal_messages(refused)
        if not skip_refused or fleet.single:
            others = "" if fleet.single else "; --skip-refused applies the others"
            echo(f"Error: the plan needs {needs}; nothing was applied{others}", err=True)
            return EXIT_REFUSED
    ready = fleet.ready()
    if fleet.single and not ready and not fleet.members[0].superseded:
        return EXIT_OK  # the plan shown says "No changes"
    if interactive and ready:
        _ask_approval()
    reporters = {m.name: Reporter(fmt, len(m.plan.changes) if m.plan else 0, m) for m in ready}
    try:
        await fleet.apply(
            # In --env order (the fleet's), every member: the checks run between them all.
            fleet.members if sequential else ready,
            options=options,
            on_event=lambda member, event: (
                reporters[member.name].event(event) if member.name in reporters else None
            ),
            sequential=sequential,
            fail_fast=fail_fast,
            between=lambda member: _checks_between(member, config),
            on_lock_wait=_waiting,
        )
    finally:
        for reporter in reporters.values():
            reporter.close()
    report_outcomes(fleet, fmt)
    if _stale(fleet, {m.name: m.refused for m in ready if m.refused is not None}, CHANGED_WHILE_WAITING):
        return EXIT_REFUSED
    failed = [m for m in fleet.members if m.failed]
    if failed:
        only_unconverged = all(
            m.error is None and m.result is not None and m.result.unconverged and not m.result.failed
            for m in failed
        )
        if only_unconverged:
            message = (
                "the service does not match the configuration after apply (changed by another writer?); "
                "run plan to see why"
            )
        elif fleet.single and failed[0].error is not None:
            message = str(failed[0].error)  # the run stopped: the lock lost, the service gone
        elif fleet.single:
            message = "some changes failed; fix the cause and run apply again to finish"
        else:
            message = (
                f"environment(s) {', '.join(str(m.name) for m in failed)} failed; "
                "fix the cause and run apply again to finish"
            )
        echo(f"Error: {message}", err=True)
        return EXIT_ERROR
    if refused:
        echo(
            f"Error: environment(s) {', '.join(str(n) for n in refused)} refused and not applied", err=True
        )
        return EXIT_REFUSED
    if any(m.stopped for m in fleet.members):
        return EXIT_ERROR
    return EXIT_OK
