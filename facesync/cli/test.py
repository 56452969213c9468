"""`facesync test`: run the recognition tests kept beside the configuration."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_OK, Exit, handle_errors
from facesync.cli.options import ServiceArgs, service_options
from facesync.cli.output import echo, run_async, with_status, write_file
from facesync.cli.run import one_resource, open_fleet

if TYPE_CHECKING:
    from facesync.checks.runner import TestRun

FORMATS = ("text", "json", "junit", "github", "markdown")


@main.command("test")
@service_options(envs="one")
@click.option(
    "--tests",
    "test_paths",
    multiple=True,
    type=click.Path(path_type=Path, exists=True),
    help="A test file, or a directory of *.test.yaml files (repeatable). "
    "Default: the config's `tests:` and the *.test.yaml files beside it.",
)
@click.option("--filter", "name_filter", metavar="TEXT", help="Only tests whose name contains TEXT.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="text for people, json for tools, junit for CI test reports, github for annotations, "
    "markdown for a PR comment.",
)
@click.option(
    "--out",
    "out_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Also write the JUnit XML here.",
)
@handle_errors
def test_command(
    service: ServiceArgs,
    test_paths: tuple[Path, ...],
    name_filter: str | None,
    fmt: str,
    out_path: Path | None,
) -> NoReturn:
    """Check that the live collections recognise the right people.

    Each test detects its probe image and runs one expectation (identify, verify, findSimilar,
    detect) against the service, read-only. Exit codes: 0 all passed, 1 a test failed or could
    not run (e.g. an untrained collection).
    """
    from facesync.address import resolve_targets, selects
    from facesync.checks.render import TEST_RENDERERS, render_tests_junit
    from facesync.checks.resolve import resolve_tests
    from facesync.checks.runner import run_tests
    from facesync.checks.spec import load_tests
    from facesync.config.errors import ConfigError

    resource = one_resource(service, "facesync test")
    tests, diagnostics = load_tests(service.config_path, test_paths, root=service.root)
    resolved, problems = resolve_tests(tests, resource.desired)
    if any(d.is_error for d in diagnostics) or problems:
        raise ConfigError([*diagnostics, *problems])
    for d in diagnostics:
        echo(str(d), err=True)
    if name_filter:
        resolved = [t for t in resolved if name_filter.lower() in t.test.name.lower()]
    targets = resolve_targets(resource.desired, resource.options.targets)  # checked by resolve()
    resolved = [
        t for t in resolved if t.collection is None or selects(targets, t.collection.kind, t.collection.id)
    ]
    if not resolved:
        raise Exit(
            EXIT_ERROR, "no test to run" + (f" matches --filter {name_filter!r}" if name_filter else "")
        )

    async def run() -> TestRun:
        async with open_fleet([resource], service) as fleet:
            client = fleet.members[0].sync.client
            work = run_tests(client, resolved)
            return await with_status(work, lambda: f"Testing: {client.total_calls:,} transactions")

    result = run_async(run())
    echo(TEST_RENDERERS[fmt](result), nl=False)
    if out_path is not None:
        write_file(out_path, render_tests_junit(result), "the JUnit report")
    raise Exit(EXIT_OK if result.ok else EXIT_ERROR)
