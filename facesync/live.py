"""Service → live state: reads only what the plan needs.

For every declared (and targeted) collection: its metadata, persons (paged), faces with their
fingerprints and training status. Every other collection is only listed, to report it as unmanaged.
Face userData of PG/LPG persons comes from the local cache when the persistedFaceId is known, else
from one GET per face, all concurrently under the client's rate limit.

The cache is trusted, but checked: every read compares a random sample of the faces it took from
the cache with the service (`verify_sample`); when one differs (its userData was edited by hand),
every cached face is read again. The apply lock's collections are never part of the live state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import random
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from facesync.address import Address, selects
from facesync.cache import FaceCache
from facesync.client import FaceClient
from facesync.client.models import CollectionInfo, PersistedFace, Person
from facesync.config.rules import is_lock_collection
from facesync.directory.live import read_directory_state
from facesync.fingerprint import decode_face_user_data
from facesync.livestate import (
    LiveCollection,
    LiveFace,
    LivePerson,
    LiveState,
    LiveSummary,
    LiveTraining,
    PlanWarning,
    TrainingStatus,
)
from facesync.model import CLASSIC_KINDS, SERVICE_DEFAULT_RECOGNITION_MODEL, CollectionKind, DesiredState

log = logging.getLogger(__name__)


DEFAULT_VERIFY_SAMPLE = 10


def _live_face(
    persisted_face_id: str, user_data: str | None, known: bool = False, model: str | None = None
) -> LiveFace:
    fingerprint, note = decode_face_user_data(user_data)
    return LiveFace(persisted_face_id, user_data, fingerprint, note, known, model)


@dataclasses.dataclass(frozen=True)
class _CachedRead:
    """A person's face whose userData came from the cache, not the service."""

    kind: CollectionKind
    group_id: str
    person_id: str
    face_id: str
    user_data: str | None
    model: str | None = None
    """The recognition model of a directory person's face."""


@dataclass
class ReadProgress:
    """What a read has done so far, for a progress line; the reader only ever adds to it."""

    collections: int = 0
    collections_read: int = 0
    persons_read: int = 0
    faces: int = 0
    """Faces known to exist so far (persons listed, face lists read)."""
    faces_read: int = 0
    cache_hits: int = 0


class FaceReader:
    """Faces with their userData: from the list calls where the API has them, else from the cache
    or one GET per face (PG/LPG persons carry face ids only). Plan and apply both read through it."""

    def __init__(
        self, client: FaceClient, cache: FaceCache | None = None, progress: ReadProgress | None = None
    ) -> None:
        self.client = client
        self.cache = cache
        self.cached_reads: list[_CachedRead] = []
        self.progress = progress or ReadProgress()

    def _remember(self, face: PersistedFace, model: str | None = None) -> LiveFace:
        known = False
        if self.cache is not None:
            hit, cached = self.cache.get(face.persisted_face_id)
            known = hit and cached == face.user_data and self.cache.written(face.persisted_face_id)
            self.cache.put(face.persisted_face_id, face.user_data)
        return _live_face(face.persisted_face_id, face.user_data, known, model)

    async def get_face(
        self, kind: CollectionKind, group_id: str, face_id: str, person_id: str, model: str | None
    ) -> PersistedFace:
        """One person's face from the service: in a group, or in the directory under `model`."""
        if model is not None:
            return await self.client.directory.get_face(person_id, model, face_id)
        return await self.client.get_face(kind, group_id, face_id, person_id=person_id)

    async def list_faces(self, kind: CollectionKind, list_id: str) -> tuple[LiveFace, ...]:
        """Every face of a FaceList or LargeFaceList."""
        if kind is CollectionKind.FACE_LIST:
            listed = (await self.client.get_face_list(list_id)).persisted_faces
        else:
            listed = await self.client.list_large_face_list_faces(list_id)
        self.progress.faces += len(listed)
        self.progress.faces_read += len(listed)
        return tuple(self._remember(f) for f in listed)

    async def person_faces(
        self,
        kind: CollectionKind,
        group_id: str,
        person_id: str,
        face_ids: Sequence[str],
        model: str | None = None,
    ) -> tuple[LiveFace, ...]:
        """`model`: the recognition model a directory person's faces are enrolled in."""
        self.progress.faces += len(face_ids)
        found: dict[str, LiveFace] = {}
        missing: list[str] = []
        # Cache hits are answered here, without a task each: a warm plan of thousands of faces
        # would otherwise spend most of its time scheduling coroutines that never wait.
        for face_id in face_ids:
            hit, user_data = self.cache.get(face_id) if self.cache is not None else (False, None)
            if not hit:
                missing.append(face_id)
                continue
            assert self.cache is not None
            log.debug("face %s: userData from the local cache", face_id)
            self.progress.cache_hits += 1
            self.progress.faces_read += 1
            self.cached_reads.append(_CachedRead(kind, group_id, person_id, face_id, user_data, model))
            found[face_id] = _live_face(face_id, user_data, self.cache.written(face_id), model)

        async def read(face_id: str) -> LiveFace:
            log.debug("face %s: not cached, reading it", face_id)
            face = await self.get_face(kind, group_id, face_id, person_id, model)
            self.progress.faces_read += 1
            return self._remember(face, model)

        if missing:
            read_faces = await asyncio.gather(*(read(face_id) for face_id in missing))
            found.update(zip(missing, read_faces, strict=True))
        return tuple(found[face_id] for face_id in face_ids)

    async def faces_of(
        self, kind: CollectionKind, collection_id: str, person_id: str | None
    ) -> tuple[LiveFace, ...]:
        """The faces of one person (PG/LPG) or of a face list, as the service holds them now."""
        if not kind.has_persons:
            return await self.list_faces(kind, collection_id)
        assert person_id is not None
        person = await self.client.get_person(kind, collection_id, person_id)
        return await self.person_faces(kind, collection_id, person_id, person.persisted_face_ids)


async def read_live_state(
    client: FaceClient,
    desired: DesiredState,
    *,
    targets: Collection[Address] = (),
    cache: FaceCache | None = None,
    verify_sample: int | None = DEFAULT_VERIFY_SAMPLE,
    rng: random.Random | None = None,
    progress: ReadProgress | None = None,
    only_targeted_kinds: bool = False,
    known_trained: Collection[Address] = (),
    report_unmanaged: bool = True,
) -> LiveState:
    """`verify_sample`: how many cached faces to check against the service (0: none; None: all).
    `only_targeted_kinds`: list only the kinds of the targeted collections (the others are not
    reported as unmanaged); `known_trained`: collections whose training is known to have
    succeeded (not read again); `report_unmanaged=False`: list only the kinds the configuration
    declares (apply: collections it does not manage are none of its business, unless it prunes)."""
    narrow = only_targeted_kinds and bool(targets)
    order = list(CollectionKind).index
    if narrow:
        kinds = sorted({t.collection_kind for t in targets if t.collection_kind.classic}, key=order)
    elif not report_unmanaged and not desired.prune:
        kinds = sorted({c.kind for c in desired.collections if c.kind.classic}, key=order)
    else:
        kinds = list(CLASSIC_KINDS)
    listings = await asyncio.gather(*(client.list_collections(kind) for kind in kinds))
    listed: dict[tuple[CollectionKind, str], CollectionInfo] = {
        (kind, info.id): info
        for kind, infos in zip(kinds, listings, strict=True)
        for info in infos
        if not is_lock_collection(kind, info.id)
    }
    declared = {(c.kind, c.id): c for c in desired.collections}
    wanted = [
        (declared[key], info)
        for key, info in listed.items()
        if key in declared and selects(targets, *key)
    ]
    reader = FaceReader(client, cache, progress)
    reader.progress.collections += len(wanted)
    # A collection about to be deleted needs only counts for the plan, not face fingerprints.
    trained = set(known_trained)
    # The directory and its groups are read only when a narrowed read targets them.
    directory_kinds = not narrow or any(not t.collection_kind.classic for t in targets)
    classic, (directory, unmanaged) = await asyncio.gather(
        asyncio.gather(
            *(_read(reader, d.kind, info, d.present, Address(d.kind, d.id) in trained) for d, info in wanted)
        ),
        read_directory_state(reader, desired, targets) if directory_kinds else _nothing(),
    )
    collections = [*classic, *directory]
    verified, warnings = await _verify_cached(reader, collections, verify_sample, rng or random.Random())
    others = (
        tuple(
            LiveSummary(kind, cid, info.name)
            for (kind, cid), info in sorted(listed.items())
            if (kind, cid) not in declared
        )
        + unmanaged
    )
    if cache is not None and not targets:
        cache.retain(
            {
                f.persisted_face_id
                for c in collections
                for f in (*c.faces, *(pf for p in c.persons for pf in p.faces))
            }
        )
    return LiveState(collections=tuple(collections), others=others, warnings=warnings, verified=verified)


async def _nothing() -> tuple[list[LiveCollection], tuple[LiveSummary, ...]]:
    return [], ()


async def _verify_cached(
    reader: FaceReader, collections: list[LiveCollection], sample: int | None, rng: random.Random
) -> tuple[int, tuple[PlanWarning, ...]]:
    """Check a random sample of the cached faces against the service; when one differs, check
    them all. Replaces what differed in `collections`; returns how many were checked and warnings."""
    pending = sorted(reader.cached_reads, key=lambda r: r.face_id)
    if (sample is not None and sample <= 0) or not pending:
        return 0, ()
    chosen = pending if sample is None else rng.sample(pending, min(sample, len(pending)))
    fresh = await _reread(reader, chosen)
    differing = _differing(fresh, chosen)
    checked = len(chosen)
    if differing:
        rest = [r for r in pending if r not in set(chosen)]
        more = await _reread(reader, rest)
        differing |= _differing(more, rest)
        fresh += more
        checked += len(rest)
    if not differing:
        return checked, ()
    replacements = {f.persisted_face_id: f for f in fresh if f.persisted_face_id in differing}
    for index, collection in enumerate(collections):
        collections[index] = dataclasses.replace(
            collection,
            persons=tuple(
                dataclasses.replace(p, faces=tuple(replacements.get(f.persisted_face_id, f) for f in p.faces))
                for p in collection.persons
            ),
        )
    return checked, (
        PlanWarning(
            "cache_corrected",
            f"{len(differing)} of the {checked} cached faces checked differed from the service (their "
            "userData was changed outside facesync): every cached face was read again and the cache "
            "corrected",
        ),
    )


def _differing(fresh: Sequence[LiveFace], reads: Sequence[_CachedRead]) -> set[str]:
    return {f.persisted_face_id for f, r in zip(fresh, reads, strict=True) if f.user_data != r.user_data}


async def _reread(reader: FaceReader, reads: Sequence[_CachedRead]) -> list[LiveFace]:
    async def one(read: _CachedRead) -> LiveFace:
        face = await reader.get_face(read.kind, read.group_id, read.face_id, read.person_id, read.model)
        return reader._remember(face, read.model)

    return list(await asyncio.gather(*(one(r) for r in reads)))


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
    return await _read(FaceReader(client, cache), kind, info, full)


async def _read(
    reader: FaceReader, kind: CollectionKind, info: CollectionInfo, full: bool, trained: bool = False
) -> LiveCollection:
    client = reader.client
    progress = reader.progress
    persons: tuple[LivePerson, ...] = ()
    faces: tuple[LiveFace, ...] = ()
    if kind.has_persons:
        listed = await client.list_persons(kind, info.id)

        async def person(p: Person) -> LivePerson:
            if full:
                found = await reader.person_faces(kind, info.id, p.person_id, p.persisted_face_ids)
            else:
                found = tuple(LiveFace(face_id, None, None) for face_id in p.persisted_face_ids)
            progress.persons_read += 1
            return LivePerson(p.person_id, p.name, p.user_data or None, found)

        persons = tuple(await asyncio.gather(*(person(p) for p in listed)))
    else:
        faces = await reader.list_faces(kind, info.id)
    if trained:
        training: LiveTraining | None = LiveTraining(TrainingStatus.SUCCEEDED)
    else:
        training = await read_training(client, kind, info.id) if kind.trainable and full else None
    progress.collections_read += 1
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


async def read_training(client: FaceClient, kind: CollectionKind, collection_id: str) -> LiveTraining:
    result = await client.get_training(kind, collection_id)
    if result is None:
        return LiveTraining(TrainingStatus.NOT_TRAINED)
    return LiveTraining(status=TrainingStatus.parse(result.status), message=result.message)
