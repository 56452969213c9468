"""The README, the configuration docs and the showcase describe an import command that exists."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from facesync.cli import main

REPO = Path(__file__).parents[2]
DOCS = ["README.md", "docs/configuration.md", "examples/showcase/facesync.yaml"]
_COMMAND = re.compile(r"facesync import [^\n&`|]+")


def documented_imports() -> list[tuple[str, str]]:
    found = []
    for doc in DOCS:
        for command in _COMMAND.findall((REPO / doc).read_text()):
            # Skip synopsis lines ([OPTION]...) and prose; keep what a user would paste.
            if "[" not in command and "--" in command:
                found.append((doc, command.split("#")[0].strip()))
    return found


def test_every_doc_shows_an_import_command():
    assert {doc for doc, _ in documented_imports()} == set(DOCS)


@pytest.mark.parametrize(("doc", "command"), documented_imports())
def test_documented_import_commands_parse(doc: str, command: str, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "images").mkdir()
    name, *args = shlex.split(command)[1:]
    command_ = main.get_command(click.Context(main), name)
    assert command_ is not None, f"{doc}: no command {name!r}"
    try:
        command_.make_context(name, args)
    except click.UsageError as exc:
        pytest.fail(f"{doc}: `{command}`: {exc}")
