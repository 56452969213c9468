"""`facesync force-unlock`: remove the apply lock a run that died left on the resource."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_OK, EXIT_REFUSED, Exit, handle_errors
from facesync.cli.options import ServiceArgs, service_options
from facesync.cli.output import echo, run_async
from facesync.cli.run import one_resource, open_fleet

if TYPE_CHECKING:
    from facesync.sync import Sync


@main.command("force-unlock")
@click.argument("lock_id", required=False)
@service_options(targets=False, envs="one")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation (for scripts).")
@handle_errors
def force_unlock_command(lock_id: str | None, service: ServiceArgs, yes: bool) -> None:
    """Remove the apply lock held on the Face resource.

    Only for a lock whose apply is no longer running (killed, or its machine gone): a running
    apply that loses its lock stops writing at its next renewal, and fails. With LOCK_ID (the
    lock id a waiting apply shows) the lock is removed without a question, and only if it is still
    that one: a lock taken since by another run is left alone (exit 3). Without it, you confirm
    (--yes for scripts). Exit codes: 0 removed or no lock, 1 error, 3 refused.
    """
    resource = one_resource(service, "facesync force-unlock")

    async def run() -> None:
        async with open_fleet([resource], service) as fleet:
            await _force_unlock(fleet.members[0].sync, lock_id, yes)

    run_async(run())


async def _force_unlock(sync: Sync, lock_id: str | None, yes: bool) -> None:
    from facesync.lock import NotThatLock

    holder = await sync.read_lock()
    if holder is None:
        echo(f"No lock on {sync.endpoint.display}.", err=True)
        raise Exit(EXIT_OK)
    echo(f"The lock on {sync.endpoint.display} is held by {holder.describe()}.", err=True)
    if lock_id is None and not yes:
        if not sys.stdin.isatty():
            raise Exit(EXIT_ERROR, "no terminal to confirm: pass the lock id or --yes to remove the lock")
        if not click.confirm("Remove it? Only do so if that run is no longer running", default=False):
            raise Exit(EXIT_ERROR, "the lock was left in place")
    try:
        removed = await sync.force_unlock(lock_id)
    except NotThatLock as exc:
        raise Exit(EXIT_REFUSED, str(exc)) from None
    echo(f"Removed the lock ({', '.join(removed) or 'already gone'}).", err=True)
