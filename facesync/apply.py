"""Plan → calls: ordered, concurrent, and finished by running it again (DESIGN.md §5).

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
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from facesync.cache import FaceCache
from facesync.client import FaceAPIError, FaceClient
from facesync.fingerprint import decode_face_user_data, encode_face_user_data, image_digest
from facesync.journal import TrainingJournal
from facesync.model import CollectionKind, DesiredFace, TrainingStatus
from facesync.plan import Action, Change, Plan

_UNCERTAIN_ATTEMPTS = 4


@dataclass(frozen=True)
class ApplyOptions:
    fail_fast: bool = False
    wait_for_training: bool = True
    train_timeout: float = 1800.0
    poll_initial: float = 0.2
    poll_max: float = 5.0


@dataclass(frozen=True)
class ApplyEvent:
    """Progress, for the CLI: `change` (status done|failed|skipped) or `training` (status ...)."""

    type: str
    status: str
    address: str
    change: Change | None = None
    message: str | None = None


@dataclass
class ApplyResult:
    done: list[Change] = field(default_factory=list)
    failed: list[tuple[Change, str]] = field(default_factory=list)
    skipped: list[Change] = field(default_factory=list)
    trained: list[str] = field(default_factory=list)
    training_failed: list[tuple[str, str]] = field(default_factory=list)
    training_started: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed and not self.training_failed


class ApplyError(Exception):
    pass


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
        self.journal = journal
        self.on_event = on_event
        self.result = ApplyResult()
        self.stopped = False

    # -- bookkeeping ----------------------------------------------------------------------------

    def _emit(
        self, type_: str, status: str, address: str, change: Change | None = None, message: str | None = None
    ) -> None:
        self.on_event(ApplyEvent(type_, status, address, change, message))

    def skip(self, changes: Iterable[Change], why: str) -> None:
        for change in changes:
            self.result.skipped.append(change)
            self._emit("change", "skipped", change.address, change, why)

    async def step(self, change: Change, action: Callable[[], Awaitable[object]]) -> bool:
        """Run one change; record the outcome. False when it failed or was skipped."""
        if self.stopped:
            self.skip([change], "stopped after an earlier failure (--fail-fast)")
            return False
        try:
            await action()
        except (FaceAPIError, ApplyError, OSError) as exc:
            self.result.failed.append((change, str(exc)))
            self._emit("change", "failed", change.address, change, str(exc))
            if self.options.fail_fast:
                self.stopped = True
            return False
        self.result.done.append(change)
        self._emit("change", "done", change.address, change)
        return True

    def touch(self, kind: CollectionKind, collection_id: str) -> None:
        if self.journal is not None and kind.trainable:
            self.journal.mark(kind, collection_id)

    # -- collections ----------------------------------------------------------------------------

    async def collection(self, changes: list[Change]) -> None:
        head = next(
            (c for c in changes if c.kind not in ("person", "face") and c.action is not Action.TRAIN), None
        )
        train = next((c for c in changes if c.action is Action.TRAIN), None)
        inner = [c for c in changes if c.kind in ("person", "face")]
        kind, cid = changes[0].collection_kind, changes[0].collection_id
        if head is not None and head.action is Action.DELETE:
            ok = await self.step(head, lambda: self._delete_collection(kind, cid))
            if ok and self.journal is not None:
                self.journal.clear(kind, cid)
            return
        if head is not None:
            ok = await self.step(head, lambda: self._write_collection(head))
            if not ok:
                self.skip(
                    [*inner, *([train] if train else [])], f"{head.address} was not {head.action.value}d"
                )
                return
        if kind.has_persons:
            await self._persons(inner)
        else:
            await self._list_faces(inner)
        # The plan trains every collection whose contents change (and that has faces to train):
        # train it even when some of its changes failed, so what did land is usable.
        if train is not None:
            await self.train(kind, cid, train)

    async def _write_collection(self, change: Change) -> None:
        kind, cid = change.collection_kind, change.collection_id
        after = change.after or {}
        self.touch(kind, cid)
        if change.action is Action.UPDATE:
            # An empty string is how the service clears userData; None would leave it as it is.
            await self.client.update_collection(
                kind, cid, name=after.get("name"), user_data=after.get("userData") or ""
            )
            return
        if change.action is Action.REPLACE:
            await self._delete_collection(kind, cid)
        await self.client.create_collection(
            kind,
            cid,
            name=after["name"],
            user_data=after.get("userData"),
            recognition_model=after["recognitionModel"],
        )

    async def _delete_collection(self, kind: CollectionKind, cid: str) -> None:
        try:
            await self.client.delete_collection(kind, cid)
        except FaceAPIError as exc:
            # The service refuses to delete a collection while it trains: wait, then delete.
            if not (exc.code or "").endswith("TrainingNotFinished"):
                raise
            await self._wait_training(kind, cid)
            await self.client.delete_collection(kind, cid)

    # -- persons and faces ----------------------------------------------------------------------

    async def _persons(self, changes: list[Change]) -> None:
        by_person: dict[str, list[Change]] = defaultdict(list)
        person_deletes: list[Change] = []
        for change in changes:
            if change.kind == "person" and change.action is Action.DELETE:
                person_deletes.append(change)
            else:
                by_person[change.person_name or ""].append(change)
        await asyncio.gather(*(self._person(name, group) for name, group in by_person.items()))
        await asyncio.gather(*(self.step(c, lambda c=c: self._delete_person(c)) for c in person_deletes))

    async def _delete_person(self, change: Change) -> None:
        assert change.person_id is not None
        self.touch(change.collection_kind, change.collection_id)
        await self.client.delete_person(change.collection_kind, change.collection_id, change.person_id)

    async def _person(self, name: str, changes: list[Change]) -> None:
        person_change = next((c for c in changes if c.kind == "person"), None)
        faces = [c for c in changes if c.kind == "face"]
        person_id = faces[0].person_id if faces else None
        if person_change is not None:
            person_id = person_change.person_id
            holder: dict[str, str] = {}

            async def write() -> None:
                if person_change.action is Action.CREATE:
                    holder["id"] = await self._create_person(person_change)
                else:
                    assert person_change.person_id is not None
                    after = person_change.after or {}
                    await self.client.update_person(
                        person_change.collection_kind,
                        person_change.collection_id,
                        person_change.person_id,
                        name=after.get("name"),
                        user_data=after.get("userData") or "",
                    )

            created = await self.step(person_change, write)
            if not created and person_change.action is Action.CREATE:
                self.skip(faces, f"{person_change.address} was not created")
                return
            person_id = holder.get("id", person_id)
        # Adds before deletes: a person never drops to zero faces halfway through.
        for change in sorted(faces, key=lambda c: c.action is Action.DELETE):
            await self.step(change, lambda change=change: self._face(change, person_id))

    async def _create_person(self, change: Change) -> str:
        kind, gid = change.collection_kind, change.collection_id
        after = change.after or {}
        self.touch(kind, gid)
        last: FaceAPIError | None = None
        for _ in range(_UNCERTAIN_ATTEMPTS):
            try:
                return await self.client.create_person(
                    kind, gid, name=after["name"], user_data=after.get("userData")
                )
            except FaceAPIError as exc:
                if not exc.uncertain:
                    raise
                last = exc
            # The create may have happened: no live person had this name at plan time, so one
            # that has it now is ours.
            found = sorted(
                p.person_id for p in await self.client.list_persons(kind, gid) if p.name == after["name"]
            )
            if found:
                return found[0]
        assert last is not None
        raise last

    async def _list_faces(self, changes: list[Change]) -> None:
        adds = [c for c in changes if c.action in (Action.CREATE, Action.UPDATE, Action.REPLACE)]
        deletes = [c for c in changes if c.action is Action.DELETE]
        await asyncio.gather(*(self.step(c, lambda c=c: self._face(c, None)) for c in adds))
        await asyncio.gather(*(self.step(c, lambda c=c: self._face(c, None)) for c in deletes))

    async def _face(self, change: Change, person_id: str | None) -> None:
        kind, cid = change.collection_kind, change.collection_id
        if kind.has_persons and person_id is None:
            raise ApplyError(f"{change.address}: the person does not exist on the service")
        self.touch(kind, cid)
        if change.action is Action.DELETE or change.action is Action.REPLACE:
            assert change.persisted_face_id is not None
            await self.client.delete_face(kind, cid, change.persisted_face_id, person_id=person_id)
            if self.cache is not None:
                self.cache.forget(change.persisted_face_id)
            if change.action is Action.DELETE:
                return
        assert change.face is not None and change.face.fingerprint is not None
        user_data = encode_face_user_data(change.face.fingerprint, change.face.user_data)
        if change.action is Action.UPDATE:
            assert change.persisted_face_id is not None
            await self.client.update_face(
                kind, cid, change.persisted_face_id, user_data=user_data, person_id=person_id
            )
            if self.cache is not None:
                self.cache.put(change.persisted_face_id, user_data)
            return
        await self._add_face(kind, cid, person_id, change.face, user_data)

    async def _add_face(
        self, kind: CollectionKind, cid: str, person_id: str | None, face: DesiredFace, user_data: str
    ) -> None:
        image = _read_image(face) if face.image_path else None
        last: FaceAPIError | None = None
        for _ in range(_UNCERTAIN_ATTEMPTS):
            try:
                face_id = await self.client.add_face(
                    kind,
                    cid,
                    person_id,
                    image=image,
                    url=face.url if image is None else None,
                    user_data=user_data,
                    target_face=face.target_face,
                    detection_model=face.detection_model,
                )
            except FaceAPIError as exc:
                if not exc.uncertain:
                    raise
                last = exc
                found = await self._find_face(kind, cid, person_id, face.fingerprint)
                if found is None:
                    continue
                face_id = found
            if self.cache is not None:
                self.cache.put(face_id, user_data)
            return
        assert last is not None
        raise last

    async def _find_face(
        self, kind: CollectionKind, cid: str, person_id: str | None, fingerprint: str | None
    ) -> str | None:
        """Look for a face by fingerprint after an add whose outcome is unknown."""
        if kind is CollectionKind.FACE_LIST:
            listed = (await self.client.get_face_list(cid)).persisted_faces
        elif kind is CollectionKind.LARGE_FACE_LIST:
            listed = await self.client.list_large_face_list_faces(cid)
        else:
            assert person_id is not None
            person = await self.client.get_person(kind, cid, person_id)
            listed = []
            for face_id in person.persisted_face_ids:
                hit, user_data = self.cache.get(face_id) if self.cache is not None else (False, None)
                if not hit:
                    user_data = (
                        await self.client.get_face(kind, cid, face_id, person_id=person_id)
                    ).user_data
                if decode_face_user_data(user_data)[0] == fingerprint:
                    return face_id
            return None
        for face in listed:
            if decode_face_user_data(face.user_data)[0] == fingerprint:
                return face.persisted_face_id
        return None

    # -- training -------------------------------------------------------------------------------

    async def train(self, kind: CollectionKind, cid: str, change: Change | None) -> None:
        address = f"{kind.value}.{cid}"
        if self.stopped:
            if change is not None:
                self.skip([change], "stopped after an earlier failure (--fail-fast)")
            return
        try:
            try:
                await self.client.train(kind, cid)
            except FaceAPIError as exc:
                if not (exc.code or "").endswith("TrainingNotFinished"):
                    raise
                # A run that started before our writes would not include them: wait, then train.
                await self._wait_training(kind, cid)
                await self.client.train(kind, cid)
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
            if change is not None:
                self.result.done.append(change)
            self._emit("training", "succeeded", address, change)
        else:
            text = f"training failed: {message or 'the service gave no reason'}"
            self.result.training_failed.append((address, text))
            self._emit("training", "failed", address, change, text)

    async def _wait_training(self, kind: CollectionKind, cid: str) -> tuple[TrainingStatus, str | None]:
        deadline = time.monotonic() + self.options.train_timeout
        delay = self.options.poll_initial
        while True:
            result = await self.client.get_training(kind, cid)
            if result is None:
                return TrainingStatus.NOT_TRAINED, None
            status = TrainingStatus.parse(result.status)
            if status in (TrainingStatus.SUCCEEDED, TrainingStatus.FAILED):
                return status, result.message
            if time.monotonic() + delay > deadline:
                raise ApplyError(
                    f"{kind.value}.{cid}: training still {status.value} after "
                    f"{self.options.train_timeout:g}s (--train-timeout); run apply again to wait for it"
                )
            await asyncio.sleep(delay)
            delay = min(self.options.poll_max, delay * 1.5)


def _read_image(face: DesiredFace) -> bytes:
    assert face.image_path is not None
    data = Path(face.image_path).read_bytes()
    if face.image_sha256 and image_digest(data) != face.image_sha256:
        raise ApplyError(f"{face.image_path} changed since the plan was made; plan again")
    return data


def group_by_collection(changes: Iterable[Change]) -> list[list[Change]]:
    groups: dict[tuple[CollectionKind, str], list[Change]] = {}
    for change in changes:
        groups.setdefault((change.collection_kind, change.collection_id), []).append(change)
    return list(groups.values())


async def apply_plan(
    client: FaceClient,
    plan: Plan,
    *,
    options: ApplyOptions | None = None,
    cache: FaceCache | None = None,
    journal: TrainingJournal | None = None,
    on_event: Callable[[ApplyEvent], None] = lambda event: None,
) -> ApplyResult:
    executor = _Executor(client, options or ApplyOptions(), cache, journal, on_event)
    try:
        await asyncio.gather(*(executor.collection(group) for group in group_by_collection(plan.changes)))
    finally:
        if cache is not None:
            cache.save()
    return executor.result
