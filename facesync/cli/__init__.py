"""The facesync command line: the only layer that prints.

Each command lives in a module of its own and registers itself on `main` when that module is
imported. A run imports only the module of the command it runs (`--help` imports them all): with
no cached bytecode (an editable install, PYTHONDONTWRITEBYTECODE) every module imported is compiled
again on every run, and `facesync validate` must not compile apply.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from facesync import __version__

# facesync uses no pydantic plugin, and looking for them scans every installed package's entry
# points on the first model built (the clients' response models): a tenth of a short command's
# start. A user who wants a plugin sets the variable themselves.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

EXIT_USAGE = 1
"""A mistyped flag is an error like any other: exit 2 means "changes present" to scripts."""


COMMAND_MODULES = {
    "apply": "apply",
    "audit": "audit",
    "drift": "plan",
    "emulator": "emulator",
    "force-unlock": "lock",
    "import": "import_",
    "init": "init",
    "plan": "plan",
    "schema": "validate",
    "show": "plan",
    "test": "test",
    "validate": "validate",
}
"""Each command's module under facesync.cli."""


class _Group(click.Group):
    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = COMMAND_MODULES.get(cmd_name)
        if module is not None and cmd_name not in self.commands:
            importlib.import_module(f"facesync.cli.{module}")
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def main(self, *args: Any, **kwargs: Any) -> Any:
        from facesync.localstate import new_run

        new_run()
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.ClickException as exc:
            exc.show()
            sys.exit(EXIT_USAGE)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(EXIT_USAGE)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, "--version", "-V", prog_name="facesync")
def main() -> None:
    """GitOps for the Azure Face API.

    Keep person groups, persons, faces and face lists in git as YAML plus images;
    `plan` shows what would change on the live Face resource, `apply` makes it so,
    `drift` fails CI when the live resource was changed by hand.
    """


def command(name: str) -> click.Command:
    """The command `name` (its module imported): for code and tests that inspect its options."""
    found = main.get_command(click.Context(main), name)
    if found is None:
        raise KeyError(name)
    return found
