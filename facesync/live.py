"""Service → live state: reads only what the plan needs.

For every declared (and targeted) collection: its metadata, persons (paged), faces with their
fingerprints and training status. Every other collection is only listed, to report it as unmanaged.
Face userData of PG/LPG persons comes from the local cache when the persistedFaceId is known, else
from one GET per face, all concurrently under the client's rate limit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection

from facesync.cache import FaceCache
from facesync.client import FaceClient
from facesync.client.models import CollectionInfo, PersistedFace, Person
from facesync.fingerprint import decode_face_user_data
from facesync.model import (
    SERVICE_DEFAULT_RECOGNITION_MODEL,
    CollectionKind,
    DesiredState,
    LiveCollection,
    LiveFace,
    LivePerson,
    LiveState,
    LiveSummary,
    LiveTraining,
    TrainingStatus,
)


def _live_face(persisted_face_id: str, user_data: str | None) -> LiveFace:
    fingerprint, note = decode_face_user_data(user_data)
    return LiveFace(persisted_face_id, user_data, fingerprint, note)


async def read_live_state(
    client: FaceClient,
    desired: DesiredState,
    *,
    targets: Collection[str] = (),
    cache: FaceCache | None = None,
) -> LiveState:
    kinds = list(CollectionKind)
    listings = await asyncio.gather(*(client.list_collections(kind) for kind in kinds))
    listed: dict[tuple[CollectionKind, str], CollectionInfo] = {
        (kind, info.id): info for kind, infos in zip(kinds, listings, strict=True) for info in infos
    }
    declared = {(c.kind, c.id): c for c in desired.collections}
    wanted = [
        (declared[key], info)
        for key, info in listed.items()
        if key in declared and declared[key].targeted(targets)
    ]
    reader = _CollectionReader(client, cache)
    # A collection about to be deleted needs only counts for the plan, not face fingerprints.
    collections = await asyncio.gather(*(reader.read(d.kind, info, d.present) for d, info in wanted))
    others = tuple(
        LiveSummary(kind, cid, info.name)
        for (kind, cid), info in sorted(listed.items())
        if (kind, cid) not in declared
    )
    if cache is not None and not targets:
        cache.retain(
            {
                f.persisted_face_id
                for c in collections
                for f in (*c.faces, *(pf for p in c.persons for pf in p.faces))
            }
        )
    return LiveState(collections=tuple(collections), others=others)


async def read_collection(
    client: FaceClient,
    kind: CollectionKind,
    info: CollectionInfo,
    *,
    cache: FaceCache | None = None,
    full: bool = True,
) -> LiveCollection:
    """One listed collection, read whole: persons (paged), faces with their userData, training.

    `full=False` skips face userData and training (enough to count what a delete destroys).
    """
    return await _CollectionReader(client, cache).read(kind, info, full)


class _CollectionReader:
    def __init__(self, client: FaceClient, cache: FaceCache | None) -> None:
        self._client = client
        self._cache = cache

    async def read(self, kind: CollectionKind, info: CollectionInfo, full: bool) -> LiveCollection:
        persons: tuple[LivePerson, ...] = ()
        faces: tuple[LiveFace, ...] = ()
        if kind.has_persons:
            persons = await self._persons(kind, info.id, full)
        elif kind is CollectionKind.FACE_LIST:
            detail = await self._client.get_face_list(info.id)
            faces = tuple(self._remember(f) for f in detail.persisted_faces)
        else:
            listed = await self._client.list_large_face_list_faces(info.id)
            faces = tuple(self._remember(f) for f in listed)
        training = await self._training(kind, info.id) if kind.trainable and full else None
        return LiveCollection(
            kind=kind,
            id=info.id,
            name=info.name,
            # Clearing userData stores an empty string: the same as none.
            user_data=info.user_data or None,
            recognition_model=info.recognition_model or SERVICE_DEFAULT_RECOGNITION_MODEL,
            persons=persons,
            faces=faces,
            training=training,
        )

    def _remember(self, face: PersistedFace) -> LiveFace:
        if self._cache is not None:
            self._cache.put(face.persisted_face_id, face.user_data)
        return _live_face(face.persisted_face_id, face.user_data)

    async def _persons(self, kind: CollectionKind, group_id: str, full: bool) -> tuple[LivePerson, ...]:
        persons = await self._client.list_persons(kind, group_id)

        async def face(person_id: str, face_id: str) -> LiveFace:
            if not full:
                return LiveFace(face_id, None, None)
            if self._cache is not None:
                hit, user_data = self._cache.get(face_id)
                if hit:
                    return _live_face(face_id, user_data)
            fetched = await self._client.get_face(kind, group_id, face_id, person_id=person_id)
            return self._remember(fetched)

        async def person(p: Person) -> LivePerson:
            faces = await asyncio.gather(*(face(p.person_id, fid) for fid in p.persisted_face_ids))
            return LivePerson(p.person_id, p.name, p.user_data or None, tuple(faces))

        return tuple(await asyncio.gather(*(person(p) for p in persons)))

    async def _training(self, kind: CollectionKind, collection_id: str) -> LiveTraining:
        result = await self._client.get_training(kind, collection_id)
        if result is None:
            return LiveTraining(TrainingStatus.NOT_TRAINED)
        return LiveTraining(
            status=TrainingStatus.parse(result.status),
            message=result.message,
            last_action=result.last_action,
            last_successful=result.last_successful,
        )
