"""`-v/--verbose` and `--debug`: where facesync's log goes, and how much of it.

Apart from the other options so that a command that needs no more (`validate`) does not compile
them all: a run compiles every module it imports when no bytecode is cached.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Iterable
from typing import Any

import click

from facesync.cli.exits import F


def apply_options(func: F, options: Iterable[Callable[[F], F]]) -> F:
    """Decorate `func` with click `options`, the first listed shown first."""
    for option in reversed(list(options)):
        func = option(func)
    return func


class _Stderr(logging.StreamHandler[Any]):
    """Writes to whatever sys.stderr is at the time (test runners swap it per invocation)."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _configure_logging(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    ctx.meta[f"facesync.log.{param.name}"] = value
    verbose = ctx.meta.get("facesync.log.verbose") or 0
    debug = bool(ctx.meta.get("facesync.log.debug"))
    level = logging.DEBUG if debug or verbose >= 2 else logging.INFO if verbose else logging.WARNING
    logger = logging.getLogger("facesync")
    if not any(isinstance(h, _Stderr) for h in logger.handlers):
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        from facesync.secrets import RedactFilter

        handler.addFilter(RedactFilter())
        logger.addHandler(handler)
    logger.setLevel(level)


def logging_options(func: F) -> F:
    """`-v/--verbose` (retries, waits, cache decisions; twice for debug) and `--debug`, to stderr."""
    return apply_options(
        func,
        [
            click.option(
                "-v",
                "--verbose",
                count=True,
                expose_value=False,
                callback=_configure_logging,
                help="Log what facesync decides and waits for (repeat for debug) to stderr.",
            ),
            click.option(
                "--debug",
                is_flag=True,
                expose_value=False,
                callback=_configure_logging,
                help="Log everything, each request included, to stderr (never the key).",
            ),
        ],
    )
