"""`facesync init`: start a repository with the GitOps kit."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import NoReturn

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_OK
from facesync.cli.output import echo


@main.command("init")
@click.argument("folder", default=".", type=click.Path(path_type=Path))
@click.option(
    "--action",
    "action_text",
    metavar="OWNER/REPO@REF",
    default=None,
    help="Where facesync's GitHub action and pre-commit hook are hosted, e.g. acme/facesync@v0.1.0 "
    "[default: the placeholder OWNER/facesync@vVERSION, to replace by hand].",
)
def init_command(folder: Path, action_text: str | None) -> NoReturn:
    """Write a starter kit into FOLDER (default: the current folder), the repository's root.

    \b
    facesync.yaml                 a commented configuration; its $schema line names
    facesync.schema.json          the schema of this facesync, written beside it
    .gitignore                    with .facesync/ (the local cache)
    .pre-commit-config.yaml       facesync validate before each commit
    .github/workflows/            facesync-plan.yml (pull request: plan comment),
                                  facesync-apply.yml (merge: apply the reviewed plan),
                                  facesync-drift.yml (nightly drift issue)

    Never overwrites: a file that exists is skipped and listed (delete it and run init again for a
    fresh copy), except that an existing .gitignore without .facesync/ gets that line appended.
    Running init again is harmless. Exit codes: 0 when every file is in place (written now or
    skipped because it was there), 1 on an error (FOLDER is a file, a write failed, a bad
    --action); files written before an error stay.
    """
    from facesync.kit import PLACEHOLDER, PLACEHOLDER_ACTION, Action, Outcome, repository_root, write_kit

    try:
        action = PLACEHOLDER if action_text is None else Action.parse(action_text)
    except ValueError as exc:
        echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_ERROR)
    if folder.exists() and not folder.is_dir():
        echo(f"Error: {folder} is a file, not a folder", err=True)
        sys.exit(EXIT_ERROR)
    try:
        outcomes = write_kit(folder, action)
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        echo(f"Error: cannot write{where}: {exc.strerror or exc}", err=True)
        sys.exit(EXIT_ERROR)

    shown = {Outcome.WRITTEN: "wrote  ", Outcome.UPDATED: "updated", Outcome.SKIPPED: "skipped"}
    for destination, outcome in outcomes:
        note = {
            Outcome.SKIPPED: "  (exists: left as it is)",
            Outcome.UPDATED: "  (added .facesync/)",
        }.get(outcome, "")
        echo(f"{shown[outcome]}  {Path(folder, destination)}{note}")
    written = sum(outcome is not Outcome.SKIPPED for _, outcome in outcomes)
    echo(f"{written} file(s) written or updated, {len(outcomes) - written} skipped.")

    root = repository_root(folder)
    if root is not None and root != folder.resolve():
        echo(
            f"Note: {folder} is not the root of its git repository ({root}): GitHub reads workflows "
            f"only from {root / '.github' / 'workflows'}. Move them there and set the repository "
            f"variable FACESYNC_CONFIG to the configuration's path from the root.",
            err=True,
        )
    if action.is_placeholder:
        echo(
            f"Next: replace {PLACEHOLDER_ACTION} in .github/workflows/ and .pre-commit-config.yaml by "
            "where facesync is hosted (or run init with --action), and set up the workflows' "
            "sign-in: see examples/github-actions/README.md in facesync's repository."
        )
    sys.exit(EXIT_OK)
