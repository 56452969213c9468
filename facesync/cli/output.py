"""Where command output goes: stdout, files, the GitHub step summary, a status line on a terminal."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import click

from facesync.cli.exits import fail

T = TypeVar("T")


def echo(message: str = "", *, err: bool = False, nl: bool = True) -> None:
    """Print one message: the only way a command writes to stdout or stderr. Every secret facesync
    knows (keys, tokens, CI variables) is masked, whatever the message was built from."""
    from facesync.secrets import scrub

    click.echo(scrub(message), err=err, nl=nl)


def use_color(no_color: bool) -> bool:
    return not no_color and "NO_COLOR" not in os.environ and sys.stdout.isatty()


def write_file(path: Path, text: str, what: str) -> None:
    """Write one output file whole (a reader never sees half of it); `/dev/stdout` or a pipe is
    written into, a symlink is refused (see `facesync.atomic`). Known secrets are masked."""
    from facesync.atomic import write_text_atomically
    from facesync.secrets import scrub

    try:
        write_text_atomically(path, scrub(text))
    except OSError as exc:
        raise fail(f"cannot write {what} {path}: {exc.strerror or exc}") from None


def step_summary(markdown: str) -> None:
    """GitHub Actions shows what a job appends to $GITHUB_STEP_SUMMARY on the run's page."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return
    try:
        from facesync.secrets import scrub

        with open(target, "a", encoding="utf-8") as out:
            out.write(scrub(markdown) + "\n")
    except OSError as exc:
        echo(f"Warning: cannot append to $GITHUB_STEP_SUMMARY ({target}): {exc.strerror}", err=True)


async def with_status(work: Coroutine[Any, Any, T], describe: Callable[[], str]) -> T:
    """Run `work`; on a terminal keep a status line on stderr up to date with `describe()`."""
    import asyncio

    task = asyncio.ensure_future(work)
    if not sys.stderr.isatty():
        return await task
    from rich.console import Console

    with Console(stderr=True).status(describe()) as status:
        while not task.done():
            await asyncio.wait({task}, timeout=0.2)
            status.update(describe())
    return task.result()


def run_async(coro: Coroutine[Any, Any, T], *, stop_on_sigterm: bool = False) -> T:
    """Run `coro`; with `stop_on_sigterm`, SIGTERM (how CI stops a job) unwinds it like Ctrl-C.

    The signal cancels the task, so the cancellation arrives at an await (caches saved, the lock
    released) rather than as an exception at any bytecode — and it does not rely on SIGINT,
    which a parent may have set to be ignored (background jobs, test runners)."""
    import asyncio
    import signal

    async def main() -> T:
        task = asyncio.current_task()
        stopped: list[int] = []
        if stop_on_sigterm and task is not None:

            def stop() -> None:
                stopped.append(signal.SIGTERM)
                task.cancel()

            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop)
        try:
            return await coro
        except asyncio.CancelledError:
            if stopped:
                raise KeyboardInterrupt from None
            raise

    return asyncio.run(main())
