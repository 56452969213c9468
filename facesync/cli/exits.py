"""Exit codes, the one way a command leaves, and known failures turned into one `Error:` line.

0 ok / no changes, 1 error (usage errors included), 2 changes or drift, 3 refused.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_REFUSED = 0, 1, 2, 3
F = TypeVar("F", bound=Callable[..., Any])


class Exit(Exception):
    """Leave the command with this code after the message (if any) went to stderr."""

    def __init__(self, code: int, message: str | None = None) -> None:
        super().__init__(message or "")
        self.code = code
        self.message = message


def fail(message: str, code: int = EXIT_ERROR) -> Exit:
    return Exit(code, message)


def error_line(message: str) -> str:
    """What the user reads on stderr for `message`: controls escaped, every known secret hidden."""
    from facesync.secrets import clean

    return clean(message)



def handle_errors(func: F) -> F:
    """Turn known failures into a message on stderr and an exit code; never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from facesync.address import AddressError
        from facesync.client import FaceClientError
        from facesync.config.errors import ConfigError
        from facesync.document import PlanFileError
        from facesync.environments.select import SelectionError
        from facesync.lock import LockError
        from facesync.plan import PlanBlocked

        try:
            return func(*args, **kwargs)
        except Exit as exc:
            if exc.message:
                click.echo(f"Error: {error_line(exc.message)}", err=True)
            sys.exit(exc.code)
        except ConfigError as exc:
            for diagnostic in exc.diagnostics:
                click.echo(error_line(str(diagnostic)), err=True)
            click.echo(
                f"Error: the configuration has {len(exc.errors)} error(s); nothing was sent to the service.",
                err=True,
            )
            sys.exit(EXIT_ERROR)
        except PlanFileError as exc:
            click.echo(f"Error: {error_line(str(exc))}", err=True)
            sys.exit(EXIT_REFUSED if exc.refused else EXIT_ERROR)
        except (FaceClientError, LockError, SelectionError, AddressError, PlanBlocked) as exc:
            click.echo(f"Error: {error_line(str(exc))}", err=True)
            sys.exit(EXIT_ERROR)
        except OSError as exc:
            # A local file or folder (cache, journal, plan file): one line, never a traceback.
            where = f" {exc.filename}" if exc.filename else ""
            click.echo(f"Error:{error_line(where)} {error_line(exc.strerror or str(exc))}", err=True)
            sys.exit(EXIT_ERROR)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
