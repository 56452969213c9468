"""`facesync audit`: review the configured face images with the service's recognition."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, NoReturn

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, Exit, handle_errors
from facesync.cli.options import ServiceArgs, service_options
from facesync.cli.output import echo, run_async, with_status
from facesync.cli.run import one_resource, open_fleet

if TYPE_CHECKING:
    from facesync.checks.audit import AuditReport

FORMATS = ("text", "json", "github", "markdown")


@main.command("audit")
@service_options(envs="one")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for annotations, markdown for a PR comment.",
)
@click.option("--yes", "-y", is_flag=True, help="Do not ask before spending the estimated transactions.")
@click.option(
    "--level",
    "levels",
    multiple=True,
    metavar="CHECK=LEVEL",
    help="Make a check an error, a warning or off (repeatable), e.g. --level near-duplicate=off. "
    "Checks: no-face, several-faces, detect-failed, low-quality, misfiled, unverified, "
    "enrolled-twice, near-duplicate.",
)
@click.option(
    "--duplicate-threshold",
    type=click.FloatRange(0, 1),
    default=0.97,
    show_default=True,
    help="Confidence from which two faces of one person count as near-duplicates.",
)
@handle_errors
def audit_command(
    service: ServiceArgs, fmt: str, yes: bool, levels: tuple[str, ...], duplicate_threshold: float
) -> NoReturn:
    """Review the configured images: no face, several faces, low quality, a face filed under the
    wrong person, one person enrolled twice, near-duplicates.

    Uses detect, find similar and group on the service (never changes the collections); the
    transactions are estimated and confirmed first. Exit codes: 0 no error-level finding,
    1 an error-level finding or an error, 3 not confirmed.
    """
    from facesync.address import resolve_targets
    from facesync.checks.audit import AuditOptions, estimate, parse_levels, run_audit
    from facesync.checks.render import AUDIT_RENDERERS

    try:
        parsed = parse_levels(levels)
    except ValueError as exc:
        raise Exit(EXIT_ERROR, f"--level {exc}") from None
    resource = one_resource(service, "facesync audit")
    targets = resolve_targets(resource.desired, resource.options.targets)  # checked by resolve()
    cost = estimate(resource.desired, targets)
    rate = resource.options.rate_limit
    pace = f", about {cost.seconds(rate):.0f} s at {rate:g}/s" if rate else ""
    echo(
        f"Audit of {cost.images} image(s), {cost.persons} person(s): about {cost.total} transactions "
        f"({cost.detect} detect, {cost.find_similar} find similar, {cost.group} group){pace}.",
        err=True,
    )
    if not yes:
        if not sys.stdin.isatty():
            raise Exit(EXIT_REFUSED, "no terminal to ask: pass --yes to spend the transactions")
        if not click.confirm("Run the audit?", default=False, err=True):
            raise Exit(EXIT_REFUSED, "audit cancelled; nothing was sent")
    options = AuditOptions(levels=parsed, duplicate_threshold=duplicate_threshold, rate_limit=rate)

    async def run() -> AuditReport:
        async with open_fleet([resource], service) as fleet:
            client = fleet.members[0].sync.client
            work = run_audit(client, resource.desired, targets=targets, options=options)
            return await with_status(
                work, lambda: f"Auditing: {client.total_calls:,}/{cost.total:,} transactions"
            )

    report = run_async(run())
    echo(AUDIT_RENDERERS[fmt](report), nl=False)
    raise Exit(EXIT_ERROR if report.has_errors else EXIT_OK)
