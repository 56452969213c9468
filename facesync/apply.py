"""Plan → calls: ordered, concurrent, and finished by running it again (docs/plan-and-apply.md).

Each collection is a pipeline of its own (collections are independent): create, replace or update
the collection → create/update persons and add their faces (one person's calls in order, persons in
parallel) → delete faces → delete persons → delete the collection → train and wait. A failed step
skips what depends on it; independent branches finish (or stop with fail_fast).

Writes that may have happened although they failed (a timeout or a lost response on create-person
or add-face) are never replayed blindly: apply looks for the person by name or the face by its
fingerprint first, so a retry cannot make a twin.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from facesync.address import Address, ResourceKind
from facesync.cache import FaceCache
from facesync.client import FaceAPIError, FaceClient
from facesync.client.directory import DEFAULT_OPERATION_TIMEOUT
from facesync.config.images import ImageChanged, read_planned_image
from facesync.directory.apply import DirectoryApply, DirectoryApplyError
from facesync.directory.journal import OperationJournal
from facesync.fingerprint import encode_face_user_data
from facesync.journal import TrainingJournal
from facesync.live import FaceReader
from facesync.livestate import TrainingStatus
from facesync.model import CollectionKind, DesiredCollection, DesiredFace, DesiredPerson
from facesync.plan import Action, Change, Plan

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplyOptions:
    fail_fast: bool = False
    wait_for_training: bool = True
    train_timeout: float = 1800.0
    poll_initial: float = 0.2
    poll_max: float = 5.0
    operation_timeout: float = DEFAULT_OPERATION_TIMEOUT
    """How long one directory operation (202) may run before apply stops waiting for it."""
    clock: Callable[[], float] = time.monotonic
    """Measures --train-timeout; tests pass a fake with `sleep`."""
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep


EventType = Literal["change", "training"]


@dataclass(frozen=True)
class ApplyEvent:
    """Progress, for the CLI: `change` (status done|failed|skipped) or `training` (status
    started|succeeded|failed|skipped)."""

    type: EventType
    status: str
    address: Address
    change: Change | None = None
    message: str | None = None


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    trained: list[Address] = field(default_factory=list)
    training_failed: list[tuple[Address, str]] = field(default_factory=list)
    training_started: list[Address] = field(default_factory=list)
    superseded: bool = False
    """Nothing was done: by the time this run held the lock, another had made the same changes."""
    unconverged: list[Change] = field(default_factory=list)
    """What still differed from the configuration when the run ended (another writer, a lost
    write): the run did not reach the configured state."""

    @property
    def ok(self) -> bool:
        return not self.failed and not self.training_failed and not self.unconverged


class ApplyError(Exception):
    pass


def _training_busy(exc: FaceAPIError) -> bool:
    return (exc.code or "").endswith("TrainingNotFinished")


class _Executor:
    def __init__(
        self,
        client: FaceClient,
        options: ApplyOptions,
        cache: FaceCache | None,
        journal: TrainingJournal | None,
        on_event: Callable[[ApplyEvent], None],
    ) -> None:
        self.client = client
        self.options = options
        self.cache = cache
        self.faces = FaceReader(client, cache)
        self.journal = journal
        self.on_event = on_event
        self.result = ApplyResult()
        self.stopped = False

    # -- bookkeeping ----------------------------------------------------------------------------

    def _emit(
        self,
        type_: EventType,
        status: str,
        address: Address,
        change: Change | None = None,
        message: str | None = None,
    ) -> None:
        self.on_event(ApplyEvent(type_, status, address, change, message))

    def skip(self, changes: Iterable[Change], why: str) -> None:
        for change in changes:
            self.result.skipped.append(change)
            self._emit("change", "skipped", change.address, change, why)

    async def step(self, change: Change, action: Coroutine[Any, Any, object]) -> bool:
        """Run one change; record the outcome. False when it failed or was skipped."""
        if self.stopped:
            action.close()
            self.skip([change], "stopped after an earlier failure (--fail-fast)")
            return False
        try:
            await action
        except (FaceAPIError, ApplyError, DirectoryApplyError, ImageChanged, OSError) as exc:
            self.result.failed.append((change, str(exc)))
            self._emit("change", "failed", change.address, change, str(exc))
            if self.options.fail_fast:
                self.stopped = True
            return False
        self.result.done.append(change)
        self._emit("change", "done", change.address, change)
        return True

    def touch(self, address: Address) -> None:
        """Record, before a write that training depends on, that the collection needs training."""
        if self.journal is not None and address.collection_kind.trainable:
            self.journal.mark(address.collection_kind, address.collection_id)

    async def _uncertain_create(
        self, what: str, create: Callable[[], Awaitable[str]], look: Callable[[], Awaitable[str | None]]
    ) -> str:
        """Run a create the client does not replay; after an uncertain failure, look for what it
        may have created before trying again."""
        last: FaceAPIError | None = None
        # The same budget the client gives a call it may replay: a 5xx streak is no likelier here.
        for _ in range(self.client.retry.max_attempts):
            try:
                return await create()
            except FaceAPIError as exc:
                if not exc.uncertain:
                    raise
                last = exc
            found = await look()
            if found is not None:
                log.info("%s: the uncertain create had happened (found %s)", what, found)
                return found
            log.info("%s: the uncertain create had not happened; trying again", what)
        assert last is not None
        raise last

    async def _when_not_training(
        self, kind: CollectionKind, cid: str, call: Callable[[], Awaitable[None]]
    ) -> None:
        """The service refuses some calls while the collection trains: wait for it, then call again."""
        try:
            await call()
        except FaceAPIError as exc:
            if not _training_busy(exc):
                raise
            log.info("%s.%s is training; waiting for it before trying again", kind.value, cid)
            await self._wait_training(kind, cid)
            await call()

    # -- collections ----------------------------------------------------------------------------

    async def collection(self, changes: list[Change]) -> None:
        head = next(
            (c for c in changes if c.kind.is_collection and c.action is not Action.TRAIN), None
        )
        train = next((c for c in changes if c.action is Action.TRAIN), None)
        inner = [c for c in changes if not c.kind.is_collection]
        address = changes[0].address.collection
        kind, cid = address.collection_kind, address.collection_id
        if head is not None and head.action is Action.DELETE:
            if await self.step(head, self._delete_collection(kind, cid)) and self.journal is not None:
                self.journal.clear(kind, cid)
            return
        if head is not None and not await self.step(head, self._write_collection(head)):
            self.skip([*inner, *([train] if train else [])], f"{head.address} was not {head.action.value}d")
            return
        if kind.has_persons:
            await self._persons(inner)
        else:
            await self._list_faces(inner)
        # The plan trains every collection whose contents change (and that has faces to train):
        # train it even when some of its changes failed, so what did land is usable.
        if train is not None:
            await self.train(address, train)

    async def _write_collection(self, change: Change) -> None:
        kind, cid = change.address.collection_kind, change.address.collection_id
        desired = change.desired
        assert isinstance(desired, DesiredCollection)
        if change.action is Action.UPDATE:
            # A name or userData change leaves what training learnt as it is: no journal entry.
            # An empty string is how the service clears userData; None would leave it as it is.
            await self.client.update_collection(
                kind, cid, name=desired.name, user_data=desired.user_data or ""
            )
            return
        self.touch(change.address)
        if change.action is Action.REPLACE:
            await self._delete_collection(kind, cid)
        await self.client.create_collection(
            kind,
            cid,
            name=desired.name,
            user_data=desired.user_data,
            recognition_model=desired.recognition_model,
        )

    async def _delete_collection(self, kind: CollectionKind, cid: str) -> None:
        await self._when_not_training(kind, cid, lambda: self.client.delete_collection(kind, cid))

    # -- persons and faces ----------------------------------------------------------------------

    async def _persons(self, changes: list[Change]) -> None:
        by_person: dict[str, list[Change]] = defaultdict(list)
        person_deletes: list[Change] = []
        for change in changes:
            if change.kind is ResourceKind.PERSON and change.action is Action.DELETE:
                person_deletes.append(change)
            else:
                by_person[change.address.person or ""].append(change)
        await asyncio.gather(*(self._person(group) for group in by_person.values()))
        await asyncio.gather(*(self.step(c, self._delete_person(c)) for c in person_deletes))

    async def _delete_person(self, change: Change) -> None:
        assert change.person_id is not None
        self.touch(change.address)
        await self.client.delete_person(
            change.address.collection_kind, change.address.collection_id, change.person_id
        )

    async def _person(self, changes: list[Change]) -> None:
        person_change = next((c for c in changes if c.kind is ResourceKind.PERSON), None)
        faces = [c for c in changes if c.kind is ResourceKind.FACE]
        person_id = faces[0].person_id if faces else None
        if person_change is not None:
            created: list[str] = []
            ok = await self.step(person_change, self._write_person(person_change, created))
            if not ok and person_change.action is Action.CREATE:
                self.skip(faces, f"{person_change.address} was not created")
                return
            person_id = created[0] if created else person_change.person_id
        # Adds before deletes: a person never drops to zero faces halfway through.
        for change in sorted(faces, key=lambda c: c.action is Action.DELETE):
            await self.step(change, self._face(change, person_id))

    async def _write_person(self, change: Change, created: list[str]) -> None:
        kind, gid = change.address.collection_kind, change.address.collection_id
        desired = change.desired
        assert isinstance(desired, DesiredPerson)
        if change.action is not Action.CREATE:
            assert change.person_id is not None
            await self.client.update_person(
                kind, gid, change.person_id, name=desired.name, user_data=desired.user_data or ""
            )
            return
        self.touch(change.address)

        async def look() -> str | None:
            # No live person had this name at plan time, so one that has it now is ours.
            found = sorted(
                p.person_id for p in await self.client.list_persons(kind, gid) if p.name == desired.name
            )
            return found[0] if found else None

        created.append(
            await self._uncertain_create(
                str(change.address),
                lambda: self.client.create_person(kind, gid, name=desired.name, user_data=desired.user_data),
                look,
            )
        )

    async def _list_faces(self, changes: list[Change]) -> None:
        adds = [c for c in changes if c.action is not Action.DELETE]
        deletes = [c for c in changes if c.action is Action.DELETE]
        await asyncio.gather(*(self.step(c, self._face(c, None)) for c in adds))
        await asyncio.gather(*(self.step(c, self._face(c, None)) for c in deletes))

    async def _face(self, change: Change, person_id: str | None) -> None:
        kind, cid = change.address.collection_kind, change.address.collection_id
        if not change.appliable:
            raise ApplyError(f"{change.address}: {change.explanation}")
        if kind.has_persons and person_id is None:
            raise ApplyError(f"{change.address}: the person does not exist on the service")
        if change.action is not Action.UPDATE:  # a new note changes nothing training learns
            self.touch(change.address)
        if change.action.destroys:
            face_id = change.persisted_face_id
            assert face_id is not None
            await self.client.delete_face(kind, cid, face_id, person_id=person_id)
            if self.cache is not None:
                self.cache.forget(face_id)
            if change.action is Action.DELETE:
                return
        face = change.desired
        assert isinstance(face, DesiredFace) and face.fingerprint is not None
        user_data = encode_face_user_data(face.fingerprint, face.user_data)
        if change.action is Action.UPDATE:
            face_id = change.persisted_face_id
            assert face_id is not None
            await self.client.update_face(kind, cid, face_id, user_data=user_data, person_id=person_id)
        else:
            face_id = await self._add_face(change.address, person_id, face, user_data)
        if self.cache is not None:
            self.cache.put(face_id, user_data, written=True)

    async def _add_face(
        self, address: Address, person_id: str | None, face: DesiredFace, user_data: str
    ) -> str:
        kind, cid = address.collection_kind, address.collection_id
        image = read_planned_image(face) if face.image_path else None

        async def look() -> str | None:
            live = await self.faces.faces_of(kind, cid, person_id)
            return next((f.persisted_face_id for f in live if f.fingerprint == face.fingerprint), None)

        return await self._uncertain_create(
            str(address),
            lambda: self.client.add_face(
                kind,
                cid,
                person_id,
                image=image,
                url=face.url if image is None else None,
                user_data=user_data,
                target_face=face.target_face,
                detection_model=face.detection_model,
            ),
            look,
        )

    # -- training -------------------------------------------------------------------------------

    async def train(self, address: Address, change: Change) -> None:
        kind, cid = address.collection_kind, address.collection_id
        if self.stopped:
            self.skip([change], "stopped after an earlier failure (--fail-fast)")
            return
        try:
            # A run that started before our writes would not include them: wait, then train.
            await self._when_not_training(kind, cid, lambda: self.client.train(kind, cid))
            self._emit("training", "started", address, change)
            if not self.options.wait_for_training:
                self.result.training_started.append(address)
                return
            status, message = await self._wait_training(kind, cid)
        except (FaceAPIError, ApplyError) as exc:
            self.result.training_failed.append((address, str(exc)))
            self._emit("training", "failed", address, change, str(exc))
            return
        if status is TrainingStatus.SUCCEEDED:
            self.result.trained.append(address)
            if self.journal is not None:
                self.journal.clear(kind, cid)
            self.result.done.append(change)
            self._emit("training", "succeeded", address, change)
        else:
            text = f"training failed: {message or 'the service gave no reason'}"
            self.result.training_failed.append((address, text))
            self._emit("training", "failed", address, change, text)

    async def _wait_training(self, kind: CollectionKind, cid: str) -> tuple[TrainingStatus, str | None]:
        clock = self.options.clock
        deadline = clock() + self.options.train_timeout
        delay = self.options.poll_initial
        while True:
            result = await self.client.get_training(kind, cid)
            if result is None:
                return TrainingStatus.NOT_TRAINED, None
            status = TrainingStatus.parse(result.status)
            log.debug("%s.%s: training %s", kind.value, cid, status.value)
            if status in (TrainingStatus.SUCCEEDED, TrainingStatus.FAILED):
                return status, result.message
            if clock() + delay > deadline:
                raise ApplyError(
                    f"{kind.value}.{cid}: training still {status.value} after "
                    f"{self.options.train_timeout:g}s (--train-timeout); run apply again to wait for it"
                )
            await self.options.sleep(delay)
            delay = min(self.options.poll_max, delay * 1.5)


def group_by_collection(changes: Iterable[Change]) -> list[list[Change]]:
    groups: dict[Address, list[Change]] = {}
    for change in changes:
        groups.setdefault(change.address.collection, []).append(change)
    return list(groups.values())


async def apply_plan(
    client: FaceClient,
    plan: Plan,
    *,
    options: ApplyOptions | None = None,
    cache: FaceCache | None = None,
    journal: TrainingJournal | None = None,
    operations: OperationJournal | None = None,
    on_event: Callable[[ApplyEvent], None] = lambda event: None,
) -> ApplyResult:
    """`operations`: where the directory's running operations are journaled (see
    facesync.directory.journal)."""
    options = options or ApplyOptions()
    executor = _Executor(client, options, cache, journal, on_event)
    classic = [c for c in plan.changes if c.address.collection_kind.classic]
    directory = [c for c in plan.changes if not c.address.collection_kind.classic]
    rooms = DirectoryApply(executor, operations, options.operation_timeout)
    try:
        await asyncio.gather(
            *(executor.collection(group) for group in group_by_collection(classic)),
            rooms.run(directory),
        )
    finally:
        if cache is not None:
            cache.save()
    return executor.result
