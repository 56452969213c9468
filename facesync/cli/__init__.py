"""The facesync command line: the only layer that prints.

Each command lives in a module of its own and registers itself on `main`.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from facesync import __version__

EXIT_USAGE = 1
"""A mistyped flag is an error like any other: exit 2 means "changes present" to scripts."""


class _Group(click.Group):
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


# Imported for their side effect: each module adds its commands to `main`.
from facesync.cli import apply as _apply  # noqa: E402, F401
from facesync.cli import audit as _audit  # noqa: E402, F401
from facesync.cli import emulator as _emulator  # noqa: E402, F401
from facesync.cli import import_ as _import  # noqa: E402, F401
from facesync.cli import init as _init  # noqa: E402, F401
from facesync.cli import lock as _lock  # noqa: E402, F401
from facesync.cli import plan as _plan  # noqa: E402, F401
from facesync.cli import test as _test  # noqa: E402, F401
from facesync.cli import validate as _validate  # noqa: E402, F401
