"""The directory's and its groups' changes → calls (run by `facesync.apply` beside the collections).

Order, so that nothing answers less at any moment than before or after the run:

1. directory persons created or updated, and every face added or updated (persons in parallel,
   one person's calls in order);
2. then faces deleted — a model upgrade's old faces go only once every new face is in;
3. then the groups: created with their members, fields and members changed in one call each,
   or deleted;
4. then directory persons deleted (no group refers to them any more).

Every write is a long-running operation (202): its id is journaled (`OperationJournal`) before
apply waits for it, and cleared when it ended, so a killed run's next plan waits for what it left
running. A create-person or add-face whose answer was lost is not sent again blindly: apply looks
for the person by name, or for the face by its fingerprint in that model, first.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from facesync.address import ResourceKind
from facesync.cache import FaceCache
from facesync.client import FaceClient, FaceClientError
from facesync.client.directory import DEFAULT_OPERATION_TIMEOUT, OperationTimeout
from facesync.config.images import ImageChanged, read_planned_image
from facesync.directory.journal import OperationJournal
from facesync.fingerprint import decode_face_user_data, encode_face_user_data
from facesync.model import CollectionKind, DesiredCollection, DesiredFace, DesiredPerson
from facesync.plan import Action, Change

log = logging.getLogger(__name__)

PD = CollectionKind.PERSON_DIRECTORY


class DirectoryApplyError(Exception):
    """A directory change that cannot be carried out (the message says why)."""


class Executing(Protocol):
    """What the core's executor offers a room: the client, the face cache, and its bookkeeping."""

    client: FaceClient
    cache: FaceCache | None

    def skip(self, changes: Iterable[Change], why: str) -> None: ...

    async def step(self, change: Change, action: Coroutine[Any, Any, object]) -> bool: ...

    async def _uncertain_create(
        self, what: str, create: Callable[[], Awaitable[str]], look: Callable[[], Awaitable[str | None]]
    ) -> str: ...


@dataclass
class DirectoryApply:
    executor: Executing
    operations: OperationJournal | None = None
    timeout: float = DEFAULT_OPERATION_TIMEOUT
    """How long one operation may take before apply stops waiting (it stays journaled)."""

    def __post_init__(self) -> None:
        self.client = self.executor.client
        self.person_ids: dict[str, str] = {}
        """Directory persons created in this run, by name."""

    async def run(self, changes: Sequence[Change]) -> None:
        directory = [c for c in changes if c.address.collection_kind is PD]
        groups: dict[str, list[Change]] = defaultdict(list)
        for change in changes:
            if change.address.collection_kind is CollectionKind.DYNAMIC_PERSON_GROUP:
                groups[change.address.collection_id].append(change)
        person_deletes = [c for c in directory if c.kind is ResourceKind.PERSON and c.action is Action.DELETE]
        face_deletes = [c for c in directory if c.kind is ResourceKind.FACE and c.action is Action.DELETE]
        by_person: dict[str, list[Change]] = defaultdict(list)
        for change in directory:
            if change not in person_deletes and change not in face_deletes:
                by_person[change.address.person or ""].append(change)
        await asyncio.gather(*(self._person(group) for group in by_person.values()))
        await asyncio.gather(*(self.executor.step(c, self._delete_face(c)) for c in face_deletes))
        await asyncio.gather(*(self._group(group) for group in groups.values()))
        await asyncio.gather(*(self.executor.step(c, self._delete_person(c)) for c in person_deletes))

    # -- operations -----------------------------------------------------------------------------

    async def _await(self, operation: str | None, what: str) -> None:
        """Journal the operation, wait for it to end, forget it; failures as `DirectoryApplyError`."""
        if operation is None:
            return
        if self.operations is not None:
            self.operations.started(operation, what)
        try:
            await self.client.directory.wait(operation, what=what, timeout=self.timeout)
        except FaceClientError as exc:
            # A timed-out operation may still succeed: it stays journaled for the next run to await.
            if self.operations is not None and not isinstance(exc, OperationTimeout):
                self.operations.finished(operation)
            raise DirectoryApplyError(str(exc)) from None
        if self.operations is not None:
            self.operations.finished(operation)

    # -- persons and faces ----------------------------------------------------------------------

    async def _person(self, changes: list[Change]) -> None:
        person_change = next((c for c in changes if c.kind is ResourceKind.PERSON), None)
        faces = [c for c in changes if c.kind is ResourceKind.FACE]
        person_id = faces[0].person_id if faces else None
        if person_change is not None:
            created: list[str] = []
            ok = await self.executor.step(person_change, self._write_person(person_change, created))
            if not ok and person_change.action is Action.CREATE:
                self.executor.skip(faces, f"{person_change.address} was not created")
                return
            person_id = created[0] if created else person_change.person_id
        for change in faces:
            await self.executor.step(change, self._face(change, person_id))

    async def _write_person(self, change: Change, created: list[str]) -> None:
        desired = change.desired
        assert isinstance(desired, DesiredPerson)
        if change.action is not Action.CREATE:
            assert change.person_id is not None
            await self.client.directory.update_person(
                change.person_id, name=desired.name, user_data=desired.user_data or ""
            )
            return
        what = f"create {change.address}"

        async def create() -> str:
            result = await self.client.directory.create_person(name=desired.name, user_data=desired.user_data)
            await self._await(result.operation_id, what)
            return result.id

        async def look() -> str | None:
            # No live person had this name at plan time, so one that has it now is ours.
            found = sorted(
                p.person_id for p in await self.client.directory.list_persons() if p.name == desired.name
            )
            return found[0] if found else None

        person_id = await self.executor._uncertain_create(str(change.address), create, look)
        self.person_ids[desired.name] = person_id
        created.append(person_id)

    async def _delete_person(self, change: Change) -> None:
        assert change.person_id is not None
        operation = await self.client.directory.delete_person(change.person_id)
        await self._await(operation, f"delete {change.address}")

    async def _face(self, change: Change, person_id: str | None) -> None:
        model = change.address.model
        assert model is not None
        if person_id is None:
            raise DirectoryApplyError(f"{change.address}: the person does not exist on the service")
        face = change.desired
        assert isinstance(face, DesiredFace) and face.fingerprint is not None
        user_data = encode_face_user_data(face.fingerprint, face.user_data)
        if change.action is Action.UPDATE:
            face_id = change.persisted_face_id
            assert face_id is not None
            await self.client.directory.update_face(person_id, model, face_id, user_data=user_data)
        else:
            face_id = await self._add_face(change, person_id, model, face, user_data)
        if self.executor.cache is not None:
            self.executor.cache.put(face_id, user_data, written=True)

    async def _add_face(
        self, change: Change, person_id: str, model: str, face: DesiredFace, user_data: str
    ) -> str:
        image = read_planned_image(face) if face.image_path else None
        what = f"add {change.address}"

        async def create() -> str:
            result = await self.client.directory.add_face(
                person_id,
                model,
                image=image,
                url=face.url if image is None else None,
                user_data=user_data,
                target_face=face.target_face,
                detection_model=face.detection_model,
            )
            await self._await(result.operation_id, what)
            return result.id

        async def look() -> str | None:
            for face_id in await self.client.directory.list_faces(person_id, model) or []:
                found = await self.client.directory.get_face(person_id, model, face_id)
                if decode_face_user_data(found.user_data)[0] == face.fingerprint:
                    return face_id
            return None

        return await self.executor._uncertain_create(str(change.address), create, look)

    async def _delete_face(self, change: Change) -> None:
        model, person_id, face_id = change.address.model, change.person_id, change.persisted_face_id
        assert model is not None and person_id is not None and face_id is not None
        operation = await self.client.directory.delete_face(person_id, model, face_id)
        await self._await(operation, f"delete {change.address}")
        if self.executor.cache is not None:
            self.executor.cache.forget(face_id)

    # -- groups ---------------------------------------------------------------------------------

    async def _group(self, changes: list[Change]) -> None:
        head = next((c for c in changes if c.kind.is_collection), None)
        members = [c for c in changes if c.kind is ResourceKind.MEMBER]
        gid = changes[0].address.collection_id
        if head is not None and head.action is Action.DELETE:
            await self.executor.step(head, self._delete_group(head))
            return
        adds: list[tuple[Change, str]] = []
        removes: list[tuple[Change, str]] = []
        for change in members:
            person_id = change.person_id
            if change.action is Action.CREATE and person_id is None:
                # The plan creates its person first, in this run.
                person_id = self.person_ids.get(change.address.person or "")
            if person_id is None:
                await self.executor.step(change, _fail(f"{change.address}: its person was not created"))
                continue
            (adds if change.action is Action.CREATE else removes).append((change, person_id))
        if head is None and not adds and not removes:
            return
        desired = head.desired if head is not None else None
        what = f"{head.action.value if head is not None else 'update'} dynamicPersonGroup.{gid}"

        async def call() -> None:
            add = [pid for _, pid in adds]
            remove = [pid for _, pid in removes]
            if head is not None and head.action is Action.CREATE:
                assert isinstance(desired, DesiredCollection)
                operation = await self.client.directory.create_group(
                    gid, name=desired.name, user_data=desired.user_data, add=add
                )
            else:
                fields: dict[str, str | None] = {}
                if isinstance(desired, DesiredCollection):
                    fields = {"name": desired.name, "user_data": desired.user_data or ""}
                operation = await self.client.directory.update_group(gid, **fields, add=add, remove=remove)
            await self._await(operation, what)

        # One call carries the group's fields and every member change; each change shares its outcome.
        batch = [*([head] if head is not None else []), *(c for c, _ in (*adds, *removes))]
        failure: list[str] = []
        ok = await self.executor.step(batch[0], _recording(call(), failure))
        for change in batch[1:]:
            if ok:
                await self.executor.step(change, _done())
            elif failure:
                await self.executor.step(change, _fail(failure[0]))
            else:
                self.executor.skip([change], "stopped after an earlier failure (--fail-fast)")

    async def _delete_group(self, change: Change) -> None:
        operation = await self.client.directory.delete_group(change.address.collection_id)
        await self._await(operation, f"delete {change.address}")


async def _recording(action: Coroutine[Any, Any, None], failure: list[str]) -> None:
    """Run `action`, keeping why it failed for the changes that share its outcome."""
    try:
        await action
    except (FaceClientError, DirectoryApplyError, ImageChanged, OSError) as exc:
        failure.append(str(exc))
        raise


async def _fail(message: str) -> None:
    raise DirectoryApplyError(message)


async def _done() -> None:
    return None
