"""Which live collections to import, and reading them with the same reader plan uses.

Reading only: every call made here is a GET.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from facesync.client import FaceClient
from facesync.client.models import CollectionInfo
from facesync.live import read_collection
from facesync.lock import is_lock_collection
from facesync.model import CollectionKind, LiveCollection

log = logging.getLogger(__name__)


class SelectionError(Exception):
    """A named collection is not on the service, or nothing was named."""


async def list_all(client: FaceClient) -> list[tuple[CollectionKind, CollectionInfo]]:
    kinds = list(CollectionKind)
    listings = await asyncio.gather(*(client.list_collections(kind) for kind in kinds))
    # The apply lock is facesync's own bookkeeping, never something to import.
    return [
        (kind, info)
        for kind, infos in zip(kinds, listings, strict=True)
        for info in infos
        if not is_lock_collection(kind, info.id)
    ]


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
        available = ", ".join(f"{k.value}.{i.id}" for k, i in listed) or "none"
        raise SelectionError(f"not on the service: {', '.join(missing)} (available: {available})")
    return chosen


def _named(kind: CollectionKind, info: CollectionInfo, name: str) -> bool:
    # Ids cannot hold a dot, so a dot means an address: kind.id.
    kind_name, dot, cid = name.partition(".")
    return (kind.value == kind_name and info.id == cid) if dot else info.id == name


async def read_selected(
    client: FaceClient, selected: Sequence[tuple[CollectionKind, CollectionInfo]]
) -> list[LiveCollection]:
    """Every person and face, with face userData read from the service (no cache: import is the
    moment the truth matters most), under the client's rate limit and parallelism."""
    log.info("reading %d collection(s)", len(selected))
    return list(
        await asyncio.gather(
            *(read_collection(client, kind, info, cache=None, full=True) for kind, info in selected)
        )
    )
