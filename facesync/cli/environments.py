"""plan, drift and apply over the config's `environments:` (--env NAME, --all-envs).

Option parsing and printing only: environments are resolved by `facesync.environments`, and
each one runs through `Sync` (planned, checked and applied like a config without environments).
"""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import click

from facesync.cli.common import (
    EXIT_CHANGES,
    EXIT_ERROR,
    EXIT_OK,
    EXIT_REFUSED,
    Exit,
    F,
    ServiceArgs,
    _apply_options,
    fail,
    read_summary,
    redact,
    run_async,
    sync_options,
    use_color,
    with_status,
)

if TYPE_CHECKING:
    from facesync.apply import ApplyOptions
    from facesync.client import Endpoint
    from facesync.environments import Environments
    from facesync.environments.resolve import Resolved
    from facesync.environments.run import Fleet, Member
    from facesync.lock import LockOptions


@dataclass(frozen=True)
class EnvApplyArgs:
    """What apply takes only for environments."""

    sequential: bool
    force_envs: tuple[str, ...]
    skip_refused: bool


force_env_option = click.option(
    "--force-env",
    "force_envs",
    multiple=True,
    metavar="NAME",
    help="Accept deletes and replaces in this protected environment (protect: true); repeatable.",
)


def environment_apply_options(func: F) -> F:
    """--sequential, --force-env NAME and --skip-refused; the command receives `envs_apply`."""

    @functools.wraps(func)
    def collect(*args: Any, **kwargs: Any) -> Any:
        envs_apply = EnvApplyArgs(
            kwargs.pop("sequential"), tuple(kwargs.pop("force_envs")), kwargs.pop("skip_refused")
        )
        return func(*args, envs_apply=envs_apply, **kwargs)

    return _apply_options(
        cast(F, collect),
        [
            click.option(
                "--sequential",
                is_flag=True,
                help="Apply the environments one at a time in --env order, running recognition "
                "checks (facesync test) after each but the last; stop at the first that fails.",
            ),
            force_env_option,
            click.option(
                "--skip-refused",
                is_flag=True,
                help="Apply the environments whose plans are accepted even when others are refused "
                "(the refused ones are left alone; the exit code is still 3).",
            ),
        ],
    )


# -- choosing environments ----------------------------------------------------------------------


def chosen(
    service: ServiceArgs, saved: Mapping[str, str] | None = None
) -> tuple[Environments, list[str]] | None:
    """The config's environments and the names chosen, or None for a config without environments
    (today's behaviour). `saved`: the environments of a saved plan, used when none is named."""
    from facesync.environments import load_environments

    environments = load_environments(service.config_path) if service.config_path.exists() else None
    if environments is None:
        if service.envs or service.all_envs:
            flag = "--all-envs" if service.all_envs else f"--env {service.envs[0]}"
            raise fail(f"{flag}: {service.config_path} has no `environments:` block")
        if saved:
            raise fail(
                f"the plan file was made for environments ({', '.join(saved)}) but the config has none"
            )
        return None
    if service.endpoint or service.key:
        raise fail(
            "--endpoint and --key cannot be used with `environments:`: each environment's endpoint "
            "and key come from its entry (endpoint, keyEnv)"
        )
    for name in service.envs:
        if environments.get(name) is None:
            near = difflib.get_close_matches(name, environments.names, n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            raise fail(
                f"--env {name}: no such environment{hint}; "
                f"the configuration has {', '.join(environments.names)}"
            )
    if service.all_envs and service.envs:
        raise fail("give --env NAME or --all-envs, not both")
    if service.all_envs:
        names = list(environments.names)
    elif service.envs:
        names = list(dict.fromkeys(service.envs))
    elif saved:
        names = [n for n in saved]
        for name in names:
            if environments.get(name) is None:
                raise fail(
                    f"the plan file names environment '{name}', which the configuration does not define"
                )
    else:
        raise fail(
            f"the configuration defines environments ({', '.join(environments.names)}): "
            "choose with --env NAME (repeatable) or --all-envs"
        )
    return environments, names


def import_endpoint(
    config: Path, name: str, endpoint: str | None, key: str | None, auth: str | None = None
) -> tuple[Endpoint, str | None, float | None]:
    """`import --env NAME`: that environment's endpoint (with its own key), API version and rate."""
    from facesync.environments.resolve import resolve_environment_endpoint
    from facesync.sync import config_root

    service = ServiceArgs(config, None, endpoint, key, None, (), 0, 1, "cached", 0, envs=(name,))
    selection = chosen(service)
    if selection is None:  # pragma: no cover - chosen() raises for --env without environments
        raise fail(f"--env {name}: {config} has no `environments:` block")
    env = selection[0].get(name)
    assert env is not None
    endpoint_of = resolve_environment_endpoint(env, config_root(config), auth=auth)
    return endpoint_of, env.api_version, env.calls_per_second


def resolve_all(
    service: ServiceArgs,
    environments: Environments,
    names: list[str],
    delete_threshold: float | None = None,
    saved_targets: Mapping[str, tuple[str, ...]] | None = None,
    lock: LockOptions | None = None,
) -> list[Resolved]:
    """Config → each chosen environment's desired state, endpoint and options; no call is made."""
    from facesync.address import AddressError
    from facesync.environments.load import load_desired
    from facesync.environments.resolve import resolve
    from facesync.localstate import config_root

    desired, diagnostics = load_desired(
        service.config_path, environments, api_version=service.api_version, root=service.root
    )
    base = sync_options(service, desired.service.api_version or "v1.0", delete_threshold, lock)
    resolved = []
    for name in names:
        env = environments.get(name)
        assert env is not None
        options = base if saved_targets is None else replace(base, targets=saved_targets.get(name, ()))
        try:
            one = resolve(
                env,
                desired,
                options,
                config_root(service.config_path),
                api_version=service.api_version,
                auth=service.auth,
            )
        except AddressError as exc:
            raise fail(str(exc)) from None
        redact(one.endpoint.key)
        resolved.append(one)
    for diagnostic in diagnostics:
        click.echo(str(diagnostic), err=True)
    return resolved


# -- planning ----------------------------------------------------------------------------------------


async def _plan(fleet: Fleet) -> None:
    def describe() -> str:
        return "Reading the live services: " + "; ".join(
            f"{m.name} {m.progress.faces_read:,}/{m.progress.faces:,} faces" for m in fleet.members
        )

    await with_status(fleet.plan(), describe)
    for member in fleet.members:
        if member.error is None:
            click.echo(
                f"[{member.name}] {read_summary(member.progress, member.sync.client.total_calls)}.", err=True
            )
        else:
            click.echo(f"[{member.name}] Error: {member.error}", err=True)


def document(fleet: Fleet) -> dict[str, Any]:
    from facesync.environments.document import environments_document

    return environments_document(
        [
            (
                m.name,
                m.plan.to_dict() if m.plan is not None else None,
                None if m.error is None else str(m.error),
            )
            for m in fleet.members
        ]
    )


def render_document(
    doc: Mapping[str, Any], fmt: str, *, color: bool, drift: bool = False, marker: str | None = None
) -> str:
    from facesync.render import render_json
    from facesync.render.environments import render_environments_markdown, render_environments_text

    if fmt == "json":
        return render_json(doc)
    if fmt == "markdown":
        title = "facesync drift" if drift else "facesync plan"
        return render_environments_markdown(doc, title=title, marker=marker, drift=drift)
    return render_environments_text(doc, color=color, drift=drift)


def _emit(
    doc: Mapping[str, Any],
    fmt: str,
    no_color: bool,
    out_path: Path | None,
    *,
    drift: bool,
    marker: str | None,
) -> None:
    from facesync.cli.plan import step_summary, write_file

    click.echo(render_document(doc, fmt, color=use_color(no_color), drift=drift, marker=marker), nl=False)
    if out_path is not None:
        write_file(out_path, render_document(doc, "json", color=False), "the plan file")
    step_summary(render_document(doc, "markdown", color=False, drift=drift, marker=marker))


def plan_environments(
    service: ServiceArgs,
    selection: tuple[Environments, list[str]],
    *,
    fmt: str,
    no_color: bool,
    out_path: Path | None,
    marker: str | None,
    drift: bool,
    detailed_exitcode: bool = True,
    force: bool = False,
    force_envs: tuple[str, ...] = (),
    delete_threshold: float | None = None,
) -> None:
    """`plan`/`drift` over environments. Exit 1 when any environment could not be planned, else 3
    when any plan is refused (plan), else 2 for changes (--detailed-exitcode) or drift, else 0."""
    from facesync.environments.run import Fleet

    environments, names = selection
    resolved = resolve_all(service, environments, names, delete_threshold)

    async def run() -> dict[str, Any]:
        async with Fleet(resolved, state_root=service.config_path) as fleet:
            await _plan(fleet)
            if not drift:
                fleet.check(reviewed=None, force=force, force_envs=force_envs)
            doc = document(fleet)
            doc["refused"] = sorted(m.name for m in fleet.members if m.refused is not None)
            return doc

    doc = run_async(run())
    refused = doc.pop("refused")
    _emit(doc, fmt, no_color, out_path, drift=drift, marker=marker)
    errors = [e["environment"] for e in doc["environments"] if "error" in e]
    if errors:
        raise Exit(EXIT_ERROR, f"could not plan environment(s) {', '.join(errors)} (see above)")
    if refused:
        raise Exit(EXIT_REFUSED, f"the plans of {', '.join(refused)} are refused (see the reasons above)")
    changed = any(e["changes"] for e in doc["environments"]) or bool(doc["differences"])
    raise Exit(EXIT_CHANGES if changed and (detailed_exitcode or drift) else EXIT_OK)


# -- applying -------------------------------------------------------------------------------------------


async def run_checks_between(member: Member, config: Path) -> str | None:
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
        click.echo(f"[{member.name}] no recognition tests to run (facesync test)", err=True)
        return None
    result = await run_tests(member.sync.client, resolved)
    for line in TEST_RENDERERS["text"](result).splitlines():
        click.echo(f"[{member.name}] {line}", err=True)
    if not result.ok:
        return f"recognition tests failed on '{member.name}'"
    click.echo(f"[{member.name}] recognition tests passed", err=True)
    return None


def _saved(
    plan_file: Path | None, checksum: str | None
) -> tuple[dict[str, str] | None, dict[str, Mapping[str, Any]], str | None]:
    """Reviewed checksums by environment, the saved scopes, and a combined checksum to match."""
    from facesync.cli.plan import read_plan_file
    from facesync.environments.document import plan_checksums, plan_scopes

    if plan_file is None:
        return None, {}, checksum
    doc = read_plan_file(plan_file)
    if checksum and checksum != doc["checksum"]:
        raise fail(f"--checksum {checksum} differs from the checksum in {plan_file}")
    return plan_checksums(doc), plan_scopes(doc), None


def apply_environments(
    plan_file: Path | None,
    service: ServiceArgs,
    envs_apply: EnvApplyArgs,
    *,
    auto_approve: bool,
    checksum: str | None,
    force: bool,
    delete_threshold: float,
    options: ApplyOptions,
    fail_fast: bool,
    fmt: str,
    no_color: bool,
    lock: LockOptions | None = None,
) -> bool:
    """apply over environments; False when the config has none (the caller goes on as today).

    Everything is planned and checked before anything is applied: a stale plan in any environment,
    or a refused one without --skip-refused, applies nothing. Exit 1 when any environment failed,
    else 3 when any was refused, else 0.
    """
    from facesync.environments.run import Fleet

    reviewed, scopes, combined = _saved(plan_file, checksum)
    selection = chosen(service, reviewed)
    if selection is None:
        return False
    if reviewed is not None and not reviewed:
        raise fail(f"{plan_file} was not made for environments: make it with `plan --env NAME --out FILE`")
    environments, names = selection
    if reviewed is not None:
        missing = [n for n in names if n not in reviewed]
        if missing:
            raise fail(f"{plan_file} holds no plan for environment(s) {', '.join(missing)}")
        if service.targets:
            raise fail("leave --target out to apply a saved plan: it keeps the targets it was made with")
    if envs_apply.sequential and len(names) < 2:
        click.echo("Note: --sequential with one environment changes nothing.", err=True)
    saved_targets = {n: tuple(str(t) for t in s.get("targets") or ()) for n, s in scopes.items()} or None
    resolved = resolve_all(service, environments, names, delete_threshold, saved_targets, lock)
    for one in resolved:
        saved_endpoint = (scopes.get(one.name) or {}).get("endpoint")
        if saved_endpoint is not None and saved_endpoint != one.endpoint.display:
            raise Exit(
                EXIT_REFUSED,
                f"{plan_file} was made for {saved_endpoint} in environment '{one.name}', not "
                f"{one.endpoint.display}; nothing was applied",
            )
    color = use_color(no_color)

    async def run() -> int:
        async with Fleet(resolved, state_root=service.config_path) as fleet:
            return await _apply(
                fleet,
                service.config_path,
                reviewed,
                combined,
                envs_apply,
                auto_approve,
                force,
                options,
                fail_fast,
                fmt,
                color,
            )

    code = run_async(run(), stop_on_sigterm=True)
    raise Exit(code)


async def _apply(
    fleet: Fleet,
    config: Path,
    reviewed: dict[str, str] | None,
    combined: str | None,
    envs_apply: EnvApplyArgs,
    auto_approve: bool,
    force: bool,
    options: ApplyOptions,
    fail_fast: bool,
    fmt: str,
    color: bool,
) -> int:
    from facesync.cli.apply import _ask_approval, _Reporter, _summary, where
    from facesync.cli.plan import step_summary
    from facesync.render.values import short_fingerprints
    from facesync.sync import StalePlan

    await _plan(fleet)
    doc = document(fleet)
    if fmt == "json":
        click.echo(json.dumps({"event": "plan", "plan": doc}, sort_keys=True))
    else:
        click.echo(render_document(doc, "text", color=color), nl=False)
    step_summary(render_document(doc, "markdown", color=False))
    if combined is not None and reviewed is None:
        if len(fleet.members) == 1 and fleet.members[0].plan is not None:
            reviewed = {fleet.members[0].name: combined}
        elif combined != doc["checksum"]:
            click.echo(
                "Refused: the plans changed since they were reviewed "
                f"(reviewed {combined}, now {doc['checksum']})",
                err=True,
            )
            return _refused_exit("; nothing was applied. Review the new plans and apply again")
    refused = fleet.check(reviewed=reviewed, force=force, force_envs=envs_apply.force_envs)
    for name, exc in refused.items():
        reasons = getattr(exc, "refusals", None)
        for reason in reasons or (exc,):
            click.echo(f"Refused: [{name}] {reason}", err=True)
    stale = [n for n, exc in refused.items() if isinstance(exc, StalePlan)]
    if stale:
        return _refused_exit(
            f"the plans of {', '.join(stale)} changed since they were reviewed; nothing was applied. "
            "Review the new plans and apply again"
        )
    if refused and not envs_apply.skip_refused:
        return _refused_exit(
            f"the plans of {', '.join(refused)} are refused; nothing was applied "
            "(--skip-refused applies the others; --force-env NAME accepts a protected environment)"
        )
    ready = fleet.ready()
    if ready and reviewed is None and not auto_approve:
        _ask_approval()
    reporters = {
        m.name: _Reporter(fmt, len(m.plan.changes) if m.plan else 0, color, label=m.name) for m in ready
    }
    try:
        await fleet.apply(
            # In --env order (the fleet's), every environment: the checks run between them all.
            fleet.members if envs_apply.sequential else ready,
            options=options,
            on_event=lambda member, event: reporters[member.name].event(event),
            sequential=envs_apply.sequential,
            fail_fast=fail_fast,
            between=lambda member: run_checks_between(member, config),
        )
    finally:
        for reporter in reporters.values():
            reporter.close()
    summary: list[dict[str, Any]] = []
    for member in fleet.members:
        line, entry = _member_summary(member, _summary)
        summary.append(entry)
        if member.result is not None:
            for change, message in member.result.failed:
                click.echo(
                    f"Failed: [{member.name}] {short_fingerprints(str(change.address))}"
                    f"{where(change)}: {message}",
                    err=True,
                )
            for address, message in member.result.training_failed:
                click.echo(f"Failed: [{member.name}] training {address}: {message}", err=True)
            for change in member.result.unconverged:
                click.echo(
                    f"Not converged: [{member.name}] {short_fingerprints(str(change.address))} still needs "
                    f"{change.action.value} ({change.explanation})",
                    err=True,
                )
        if fmt != "json":
            click.echo(f"[{member.name}] {line}")
    failed = [m.name for m in fleet.members if m.failed]
    if fmt == "json":
        click.echo(
            json.dumps(
                {"event": "summary", "ok": not failed and not refused, "environments": summary},
                sort_keys=True,
            )
        )
    if failed:
        click.echo(
            f"Error: environment(s) {', '.join(failed)} failed; fix the cause and run apply again to finish",
            err=True,
        )
        return EXIT_ERROR
    if refused:
        click.echo(f"Error: environment(s) {', '.join(refused)} refused and not applied", err=True)
        return EXIT_REFUSED
    if any(m.stopped for m in fleet.members):
        return EXIT_ERROR
    return EXIT_OK


def _refused_exit(message: str) -> int:
    click.echo(f"Error: {message}", err=True)
    return EXIT_REFUSED


def _member_summary(member: Member, summarize: Any) -> tuple[str, dict[str, Any]]:
    entry: dict[str, Any] = {"environment": member.name}
    if member.result is not None:
        result = member.result
        entry.update(
            ok=result.ok,
            done=len(result.done),
            failed=len(result.failed),
            unconverged=[str(c.address) for c in result.unconverged],
            superseded=result.superseded,
        )
        if result.superseded:
            return (
                "Nothing to apply: another apply made these changes while this one waited for the lock.",
                entry,
            )
        return summarize(result), entry
    if member.error is not None:
        entry.update(ok=False, error=str(member.error))
        return f"Error: {member.error}", entry
    if member.refused is not None:
        entry.update(ok=False, refused=str(member.refused))
        return f"Refused, not applied: {member.refused}", entry
    if member.stopped is not None:
        entry.update(ok=False, stopped=member.stopped)
        return member.stopped.capitalize() + ".", entry
    entry.update(ok=True, done=0)
    return "No changes.", entry
