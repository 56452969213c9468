"""Service → the live directory and DynamicPersonGroups (called by `facesync.live`).

On an API version with the directory: the directory persons (paged) when it is declared or a
declared group needs their names, with each person's faces listed model by model (the API lists
a person's faces per model, so a face added by hand in any model is seen) and their userData from
the cache or one GET each; the groups (paged), with the members of the declared ones. What is
not declared is only reported: the groups by id, the directory when it holds anyone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from typing import Protocol

from facesync.address import Address, selects
from facesync.client import FaceClient
from facesync.client.models import Person
from facesync.livestate import LiveCollection, LiveFace, LiveMember, LivePerson, LiveSummary
from facesync.model import (
    DIRECTORY_API_VERSIONS,
    DIRECTORY_ID,
    RECOGNITION_MODELS,
    CollectionKind,
    DesiredState,
)

log = logging.getLogger(__name__)

PD, DPG = CollectionKind.PERSON_DIRECTORY, CollectionKind.DYNAMIC_PERSON_GROUP


class _Progress(Protocol):
    collections: int
    collections_read: int
    persons_read: int


class FaceReading(Protocol):
    """What the core's face reader offers: the client, progress counters, and faces with their
    userData from the cache or the service."""

    client: FaceClient

    @property
    def progress(self) -> _Progress: ...

    async def person_faces(
        self,
        kind: CollectionKind,
        group_id: str,
        person_id: str,
        face_ids: Sequence[str],
        model: str | None = None,
    ) -> tuple[LiveFace, ...]: ...


async def read_directory_state(
    reader: FaceReading, desired: DesiredState, targets: Collection[Address] = ()
) -> tuple[list[LiveCollection], tuple[LiveSummary, ...]]:
    """The declared (and targeted) directory and groups, read; what else is there, summarised."""
    client = reader.client
    if client.api_version not in DIRECTORY_API_VERSIONS:
        return [], ()
    declared = {c.id: c for c in desired.collections if c.kind is DPG}
    wanted_groups = {gid for gid in declared if selects(targets, DPG, gid)}
    has_directory = desired.collection(PD, DIRECTORY_ID) is not None
    full = has_directory and selects(targets, PD, DIRECTORY_ID)
    groups = await client.directory.list_groups()
    others = tuple(LiveSummary(DPG, g.id, g.name) for g in groups if g.id not in declared)
    read: list[LiveCollection] = []
    if full or wanted_groups:  # a group's members are named after the directory's persons
        reader.progress.collections += 1
        directory = await read_directory(reader, full)
        read.append(directory)
        names = {p.person_id: p.name for p in directory.persons}
        reader.progress.collections += sum(1 for g in groups if g.id in wanted_groups)
        read.extend(
            await asyncio.gather(
                *(
                    read_group(client, g.id, g.name, g.user_data, names)
                    for g in groups
                    if g.id in wanted_groups
                )
            )
        )
        reader.progress.collections_read += len(read) - 1
    elif not has_directory and await client.directory.any_person():
        others += (LiveSummary(PD, DIRECTORY_ID, "PersonDirectory"),)
    return read, others


async def read_group(
    client: FaceClient, group_id: str, name: str, user_data: str | None, names: dict[str, str]
) -> LiveCollection:
    members = await client.directory.group_members(group_id)
    return LiveCollection(
        kind=DPG,
        id=group_id,
        name=name,
        user_data=user_data or None,
        recognition_model="",
        members=tuple(LiveMember(pid, names.get(pid)) for pid in members),
    )


async def read_directory(reader: FaceReading, full: bool) -> LiveCollection:
    """Every directory person; with `full`, their faces in every model (else names only, which
    is all a group needs)."""
    client = reader.client
    persons = await client.directory.list_persons()
    unsupported: set[str] = set()

    async def faces_in(person: Person, model: str) -> tuple[LiveFace, ...]:
        if model in unsupported:
            return ()
        ids = await client.directory.list_faces(person.person_id, model)
        if ids is None:
            # The directory refuses this model (400): it holds no face of it. Ask no more.
            log.debug("the directory does not support %s; not reading it again", model)
            unsupported.add(model)
            return ()
        return await reader.person_faces(PD, DIRECTORY_ID, person.person_id, ids, model)

    async def person(p: Person) -> LivePerson:
        faces: tuple[LiveFace, ...] = ()
        if full:
            for model in RECOGNITION_MODELS:
                faces += await faces_in(p, model)
        reader.progress.persons_read += 1
        return LivePerson(p.person_id, p.name, p.user_data or None, faces)

    # The first person alone: a model the directory refuses is then not asked of everyone else.
    first = [await person(p) for p in persons[:1]]
    live = (*first, *await asyncio.gather(*(person(p) for p in persons[1:])))
    reader.progress.collections_read += 1
    return LiveCollection(kind=PD, id=DIRECTORY_ID, name="", recognition_model="", persons=live)
