"""Which live collections to import, and reading them with the same reader plan uses.

Reading only: every call made here is a GET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from facesync.client import FaceClient
from facesync.client.models import CollectionInfo
from facesync.config.rules import is_lock_collection
from facesync.directory.live import read_directory, read_group
from facesync.live import FaceReader, read_collection
from facesync.livestate import LiveCollection
from facesync.model import CLASSIC_KINDS, DIRECTORY_API_VERSIONS, DIRECTORY_ID, CollectionKind

log = logging.getLogger(__name__)
PD, DPG = CollectionKind.PERSON_DIRECTORY, CollectionKind.DYNAMIC_PERSON_GROUP


class SelectionError(Exception):
    """A named collection is not on the service, or nothing was named."""


async def list_all(client: FaceClient) -> list[tuple[CollectionKind, CollectionInfo]]:
    """Every collection; on an API version with the PersonDirectory also its DynamicPersonGroups,
    and the directory itself when it holds anyone."""
    kinds = list(CLASSIC_KINDS)
    listings = await asyncio.gather(*(client.list_collections(kind) for kind in kinds))
    # The apply lock is facesync's own bookkeeping, never something to import.
    listed = [
        (kind, info)
        for kind, infos in zip(kinds, listings, strict=True)
        for info in infos
        if not is_lock_collection(kind, info.id)
    ]
    if client.api_version in DIRECTORY_API_VERSIONS:
        groups, anyone = await asyncio.gather(client.directory.list_groups(), client.directory.any_person())
        if anyone:
            listed.append((PD, CollectionInfo(id=DIRECTORY_ID, name="PersonDirectory")))
        listed.extend((DPG, info) for info in groups)
    return listed


def select(
    listed: Sequence[tuple[CollectionKind, CollectionInfo]], names: Sequence[str], everything: bool
) -> list[tuple[CollectionKind, CollectionInfo]]:
    """`names` are ids (every kind holding that id) or addresses such as `personGroup.staff`."""
    if everything:
        return list(listed)
    if not names:
        raise SelectionError("name the collections to import (ids such as staff) or give --all")
    chosen: list[tuple[CollectionKind, CollectionInfo]] = []
    missing: list[str] = []
    for name in names:
        hits = [(kind, info) for kind, info in listed if _named(kind, info, name)]
        if not hits:
            missing.append(name)
        chosen.extend(hit for hit in hits if hit not in chosen)
    if missing:
        available = ", ".join(k.value if k.singleton else f"{k.value}.{i.id}" for k, i in listed) or "none"
        raise SelectionError(f"not on the service: {', '.join(missing)} (available: {available})")
    return chosen


def _named(kind: CollectionKind, info: CollectionInfo, name: str) -> bool:
    if kind.singleton:
        return name == kind.value
    # Ids cannot hold a dot, so a dot means an address: kind.id.
    kind_name, dot, cid = name.partition(".")
    return (kind.value == kind_name and info.id == cid) if dot else info.id == name


async def read_selected(
    client: FaceClient, selected: Sequence[tuple[CollectionKind, CollectionInfo]]
) -> list[LiveCollection]:
    """Every person and face, with face userData read from the service (no cache: import is the
    moment the truth matters most), under the client's rate limit and parallelism."""
    log.info("reading %d collection(s)", len(selected))
    classic = [(kind, info) for kind, info in selected if kind.classic]
    groups = [info for kind, info in selected if kind is DPG]
    reader = FaceReader(client)
    # The groups' members are directory persons, named after them: the directory is read for
    # their names even when it is not imported itself.
    directory = None
    if groups or any(kind is PD for kind, _ in selected):
        directory = await read_directory(reader, full=any(kind is PD for kind, _ in selected))
    names = {p.person_id: p.name for p in directory.persons} if directory is not None else {}
    read = await asyncio.gather(
        *(read_collection(client, kind, info, cache=None, full=True) for kind, info in classic),
        *(read_group(client, g.id, g.name, g.user_data, names) for g in groups),
    )
    imported_directory = [directory] if directory is not None and any(k is PD for k, _ in selected) else []
    return [*read[: len(classic)], *imported_directory, *read[len(classic) :]]
