"""`facesync import`: write the configuration of collections that already exist."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import click

from facesync.cli import main
from facesync.cli.exits import EXIT_ERROR, EXIT_REFUSED, Exit, fail, handle_errors
from facesync.cli.options import ServiceArgs, connection_options, run_request
from facesync.cli.output import echo, run_async, with_status

if TYPE_CHECKING:
    from facesync.client import FaceClient
    from facesync.livestate import LiveCollection

T = TypeVar("T")
HEADER = "Written by `facesync import`. `facesync plan` against the same service shows no changes."
KEPT_HEADER = (
    "persistedFaceId entries keep faces no local image describes; replace them by images over "
    'time (docs/configuration.md, "Adopting an existing Face resource").'
)


async def _read(client: FaceClient, names: tuple[str, ...], everything: bool) -> list[LiveCollection]:
    from facesync.importing import list_all, read_selected, select

    selected = select(await list_all(client), names, everything)
    return await with_status(
        read_selected(client, selected), lambda: f"import: {client.total_calls:,} requests"
    )


def _check_out(out: Path | None, split: bool, force: bool) -> None:
    """Bad --out / --split combinations, and (for one file) a refusal before any call is made:
    it should not cost a long read."""
    if split and out is None:
        raise fail("--split writes one file per collection: give the directory with --out DIR")
    if out is not None and split and out.exists() and not out.is_dir():
        raise fail(f"--out {out}: not a directory (--split writes one file per collection)")
    if out is not None and not split and out.is_dir():
        raise fail(f"--out {out} is a directory: give a file, or add --split")
    if out is not None and not split and out.exists() and not force:
        raise Exit(EXIT_REFUSED, f"{out} exists; add --force to overwrite it")


def _write(files: dict[str, str], out: Path | None, split: bool, force: bool) -> str:
    """Print or write the files; returns what the summary says about them."""
    if out is None:
        echo(files["facesync.yaml"], nl=False)
        return ""
    targets = {out / name if split else out: text for name, text in files.items()}
    # All or nothing: a split import that would overwrite one file writes none.
    existing = [str(t) for t in targets if t.exists()]
    if existing and not force:
        raise Exit(EXIT_REFUSED, f"{', '.join(existing)} exist(s); add --force to overwrite")
    from facesync.atomic import write_text_atomically

    for target, text in targets.items():
        write_text_atomically(target, text)
    return f" Wrote {len(targets)} file(s) in {out}." if split else f" Wrote {out}."


@main.command("import")
@click.argument("collections", nargs=-1, metavar="[COLLECTION]...")
@click.option("--all", "everything", is_flag=True, help="Import every collection on the service.")
@click.option(
    "--images",
    "image_dirs",
    multiple=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    metavar="DIR",
    help="Match faces that carry a facesync fingerprint to images under DIR (repeatable).",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Write to this file (a directory with --split) instead of stdout.",
)
@click.option("--split", is_flag=True, help="One file per collection in the --out directory.")
@click.option("--force", is_flag=True, help="Overwrite files that exist.")
@click.option(
    "--rename-twins",
    is_flag=True,
    help="Write persons sharing a name as `NAME (personId prefix)` instead of stopping.",
)
@click.option(
    "--env",
    "env_name",
    metavar="NAME",
    help="Read the resource of this entry of the config's `environments:` (its endpoint and key).",
)
@click.option(
    "-f",
    "--file",
    "config_path",
    default="facesync.yaml",
    show_default=True,
    type=click.Path(path_type=Path),
    help="The config whose `environments:` --env names.",
)
@connection_options
@handle_errors
def import_command(
    collections: tuple[str, ...],
    everything: bool,
    image_dirs: tuple[Path, ...],
    out: Path | None,
    split: bool,
    force: bool,
    rename_twins: bool,
    env_name: str | None,
    config_path: Path,
    endpoint: str | None,
    key: str | None,
    api_version: str | None,
    rate_limit: float | None,
    parallelism: int,
    auth: str | None,
) -> None:
    """Write the configuration of collections that exist on the Face resource.

    COLLECTION is an id (every kind holding it) or an address such as personGroup.staff.
    The result plans to no changes. Import only reads: it never writes to the service.

    Exit codes: 0 written, 1 error, 3 refused (a file exists and --force was not given).
    """
    from facesync.client import FaceClient
    from facesync.environments.select import connection
    from facesync.importing import Converter, ImageIndex, SelectionError, TwinsError, index_images
    from facesync.importing.emit import render

    _check_out(out, split, force)
    service = ServiceArgs(
        config_path=config_path,
        endpoint=endpoint,
        key=key,
        api_version=api_version,
        rate_limit=rate_limit,
        parallelism=parallelism,
        envs=(env_name,) if env_name else (),
        auth=auth,
    )
    resource = connection(run_request(service), env_name)
    images = index_images(image_dirs) if image_dirs else ImageIndex({})
    client = FaceClient(
        resource.endpoint,
        api_version=resource.options.api_version,
        rate_limit=resource.options.rate_limit,
        parallelism=resource.options.parallelism,
        retry=resource.options.retry,
    )

    async def read() -> list[LiveCollection]:
        async with client:
            return await _read(client, collections, everything)

    try:
        live = run_async(read())
    except SelectionError as exc:
        raise fail(str(exc)) from None
    base_dir = (out if split else out.parent) if out is not None else Path.cwd()
    converter = Converter(images, base_dir.resolve(), rename_twins=rename_twins)
    defaults = converter.choose_defaults(live)
    try:
        imported = converter.convert(live)
    except TwinsError as exc:
        for address, name, ids in exc.twins:
            echo(f"{address}: {len(ids)} persons are named {name!r}: {', '.join(ids)}", err=True)
        raise Exit(
            EXIT_ERROR,
            "persons share a name, which the configuration cannot express (facesync knows persons "
            "by name): rename or delete the extras on the service, or pass --rename-twins",
        ) from None
    header = (HEADER, KEPT_HEADER) if converter.stats.kept else (HEADER,)
    # The directory and its groups exist only in the preview APIs: say which one was read.
    preview = {"apiVersion": client.api_version} if any(not c.kind.classic for c in imported) else None
    files = render(imported, split=split, header=header, defaults=defaults, service=preview)
    wrote = _write(files, out, split, force)
    for c in imported:
        for note in c.notes:
            echo(f"Warning: {note}", err=True)
    s = converter.stats
    if s.outside:
        echo(
            f"Warning: {s.outside:,} image path(s) lie outside {base_dir}, the folder the imported "
            "configuration is in: plan and apply keep images inside the configuration's folder, so "
            "run them with --root (a folder holding both), or write the configuration beside the "
            "images.",
            err=True,
        )
    images_part = f", {s.matched:,} as images" if image_dirs else ""
    if image_dirs and s.unmatched:
        images_part += f" ({s.unmatched:,} fingerprinted faces matched no image under --images)"
    echo(
        f"Imported {s.collections} collection(s), {s.persons:,} person(s), {s.faces:,} face(s)"
        f"{images_part}, {s.kept:,} as persistedFaceId entries; {client.total_calls:,} requests, "
        f"none of them writes.{wrote}",
        err=True,
    )
