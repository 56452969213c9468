"""The starter kit `facesync init` writes into a repository: a commented configuration with its
JSON Schema beside it, `.gitignore`, the pre-commit configuration and the three GitHub workflows.

The templates live in `facesync/kit/templates/` (package data). The workflows there are also the
ones in `examples/github-actions/`: a test keeps the two byte-identical, so the kit a user gets
from `init` is the one the examples document.

The templates name facesync's action and pre-commit hook by the placeholder
`OWNER/facesync@v<version>`: there is no canonical host to name (the name `facesync` on PyPI is an
unrelated project), so `init --action OWNER/REPO@REF` puts the real one in, or the user does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from pathlib import Path

from facesync import __version__
from facesync.localstate import STATE_DIR_NAME

PLACEHOLDER_REPOSITORY = "OWNER/facesync"
PLACEHOLDER_REF = f"v{__version__}"
PLACEHOLDER_ACTION = f"{PLACEHOLDER_REPOSITORY}@{PLACEHOLDER_REF}"

SCHEMA_FILE = "facesync.schema.json"
WORKFLOWS = ("facesync-plan.yml", "facesync-apply.yml", "facesync-drift.yml")

_ACTION = re.compile(r"(?P<repository>[A-Za-z0-9-]+/[A-Za-z0-9._-]+)@(?P<ref>[A-Za-z0-9._/-]+)")
_IGNORES_STATE = {f"{prefix}{STATE_DIR_NAME}{suffix}" for prefix in ("", "/", "**/") for suffix in ("", "/")}


@dataclass(frozen=True)
class Action:
    """Where facesync's GitHub action and pre-commit hook are hosted: `OWNER/REPO@REF`."""

    repository: str
    ref: str

    @classmethod
    def parse(cls, text: str) -> Action:
        match = _ACTION.fullmatch(text)
        if match is None:
            raise ValueError(f"--action {text!r} is not OWNER/REPO@REF (e.g. acme/facesync@v{__version__})")
        return cls(match["repository"], match["ref"])

    @property
    def is_placeholder(self) -> bool:
        return self.repository == PLACEHOLDER_REPOSITORY


PLACEHOLDER = Action(PLACEHOLDER_REPOSITORY, PLACEHOLDER_REF)


@dataclass(frozen=True)
class KitFile:
    destination: str
    """Relative to the folder `init` writes into."""
    template: str | None
    """Under facesync/kit/templates/; None for the schema, generated from the code."""


KIT_FILES = (
    KitFile("facesync.yaml", "facesync.yaml"),
    KitFile(SCHEMA_FILE, None),
    KitFile(".gitignore", "gitignore"),
    KitFile(".pre-commit-config.yaml", "pre-commit-config.yaml"),
    *(KitFile(f".github/workflows/{name}", f"workflows/{name}") for name in WORKFLOWS),
)


def template_text(name: str) -> str:
    """A template as shipped, placeholders included."""
    return (resources.files("facesync.kit") / "templates" / name).read_text(encoding="utf-8")


def render(kit_file: KitFile, action: Action) -> str:
    if kit_file.template is None:
        from facesync.config.models import json_schema_text

        return json_schema_text()
    text = template_text(kit_file.template)
    text = text.replace(PLACEHOLDER_ACTION, f"{action.repository}@{action.ref}")
    text = text.replace(f"https://github.com/{PLACEHOLDER_REPOSITORY}", f"https://github.com/{action.repository}")
    return text.replace(f"rev: {PLACEHOLDER_REF}", f"rev: {action.ref}")


class Outcome(StrEnum):
    WRITTEN = "written"
    SKIPPED = "skipped"
    """The file was there already: left as it is."""
    UPDATED = "updated"
    """`.gitignore` was there without `.facesync/`: the line was appended, nothing else changed."""


def _ignores_state(gitignore: str) -> bool:
    return any(line.strip() in _IGNORES_STATE for line in gitignore.splitlines())


def _write(path: Path, kit_file: KitFile, action: Action) -> Outcome:
    if path.exists() or path.is_symlink():
        if kit_file.destination != ".gitignore" or not path.is_file():
            return Outcome.SKIPPED
        current = path.read_text(encoding="utf-8", errors="replace")
        if _ignores_state(current):
            return Outcome.SKIPPED
        separator = "" if current == "" or current.endswith("\n") else "\n"
        with path.open("a", encoding="utf-8") as out:
            out.write(f"{separator}{render(kit_file, action)}")
        return Outcome.UPDATED
    path.parent.mkdir(parents=True, exist_ok=True)
    # "x": created here or not at all, even if the file appeared since the look above.
    with path.open("x", encoding="utf-8", newline="\n") as out:
        out.write(render(kit_file, action))
    return Outcome.WRITTEN


def write_kit(folder: Path, action: Action = PLACEHOLDER) -> list[tuple[str, Outcome]]:
    """Write every kit file that `folder` lacks; never replace one. Raises OSError (the files
    written before it stay)."""
    folder.mkdir(parents=True, exist_ok=True)
    return [(f.destination, _write(folder / f.destination, f, action)) for f in KIT_FILES]


def repository_root(folder: Path) -> Path | None:
    """The root of the git work tree holding `folder` (its nearest ancestor with `.git`), if any."""
    for candidate in [folder.resolve(), *folder.resolve().parents]:
        if (candidate / ".git").exists():
            return candidate
    return None
