"""`facesync validate` and `facesync schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import click

from facesync.cli import main
from facesync.cli.logs import logging_options
from facesync.cli.output import echo
from facesync.config import DEFAULT_CONFIG, Diagnostic, validate
from facesync.config.rules import TIERS
from facesync.model import API_VERSIONS, DesiredState


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def github_annotation(d: Diagnostic) -> str:
    """A GitHub Actions workflow command (`::error file=…,line=…,col=…::message`)."""
    from facesync.render.github import annotation

    return annotation(d.severity, d.message, file=d.file, line=d.line, column=d.column)


def _summary(state: DesiredState) -> str:
    persons = sum(len(c.persons) for c in state.collections)
    faces = sum(len(c.faces) + sum(len(p.faces) for p in c.persons) for c in state.collections)
    return (
        f"{', '.join(state.files)}: valid: {_plural(len(state.collections), 'collection')}, "
        f"{_plural(persons, 'person')}, {_plural(faces, 'face')}"
    )


@main.command("validate")
@click.option(
    "-f",
    "--file",
    "path",
    default=DEFAULT_CONFIG,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Config file, or a directory whose facesync *.yaml/*.yml files are merged.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="text for people, json for tools, github for CI annotations.",
)
@click.option(
    "--api-version",
    type=click.Choice(API_VERSIONS),
    default=None,
    help="Face API version whose rules apply [default: service.apiVersion, else v1.0].",
)
@click.option(
    "--tier",
    type=click.Choice(TIERS),
    default="S0",
    show_default=True,
    help="Pricing tier whose quotas apply.",
)
@click.option(
    "--root",
    type=click.Path(path_type=Path),
    default=None,
    help="Folder that image paths must stay inside [default: the config's folder].",
)
@logging_options
def validate_command(path: Path, fmt: str, api_version: str | None, tier: str, root: Path | None) -> NoReturn:
    """Check the configuration without calling the service.

    Reports every problem at once, each at its file:line:column, the recognition tests beside it
    included. Exit codes: 0 valid (warnings allowed), 1 invalid or a usage error.
    """
    from dataclasses import replace

    from facesync.checks.resolve import problems_in_tests
    from facesync.environments.load import environment_problems

    result = validate(path, api_version=api_version, tier=tier, root=root)  # reads no variable
    # The recognition tests beside the configuration (`tests:`, *.test.yaml) and the
    # `environments:` block are part of it.
    extra = []
    if path.exists():
        extra = [*environment_problems(path), *problems_in_tests(path, result.state, root)]
    if extra:
        diagnostics = sorted(set(result.diagnostics) | set(extra))
        failed = any(d.is_error for d in diagnostics)
        result = replace(result, state=None if failed else result.state, diagnostics=diagnostics)
    if fmt == "json":
        echo(json.dumps([d.to_dict() for d in result.diagnostics], indent=2))
    elif fmt == "github":
        for d in result.diagnostics:
            echo(github_annotation(d))
    else:
        for d in result.diagnostics:
            echo(str(d))
        if result.state is not None:
            echo(_summary(result.state))
        echo(f"{_plural(len(result.errors), 'error')}, {_plural(len(result.warnings), 'warning')}")
    raise SystemExit(0 if result.ok else 1)


@main.command("schema")
def schema_command() -> None:
    """Print the JSON Schema of the configuration format. Exit codes: 0, or 1 on a usage error."""
    from facesync.config.models import json_schema_text

    echo(json_schema_text(), nl=False)
