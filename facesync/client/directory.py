"""The PersonDirectory and DynamicPersonGroup calls (preview APIs), and their long-running operations.

Writes answer 202 with an `Operation-Location` header; `wait` polls `GET /operations/{id}` with
exponential backoff on the client's clock and sleep, up to a timeout. Only the operation id is
taken from the header: the status is read at this client's own endpoint, so the key never goes
to a host the service names. Retries follow the client's rules: creating a person or adding a
face is never replayed blindly (`uncertain`), deletes absorb a replay's 404.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar
from urllib.parse import urlsplit

import httpx
from pydantic import BaseModel, Field

from facesync.client.errors import FaceAPIError, FaceClientError, UnexpectedResponse
from facesync.client.models import CollectionInfo, PersistedFace, Person, _Response
from facesync.model import CollectionKind, TargetFace

M = TypeVar("M", bound=BaseModel)

_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
POLL_INITIAL = 0.25
"""The first wait before asking: directory operations take a fraction of a second."""
POLL_MAX = 5.0
DEFAULT_OPERATION_TIMEOUT = 600.0
_PENDING = frozenset({"notstarted", "nonstarted", "running"})
GROUPS = CollectionKind.DYNAMIC_PERSON_GROUP
# v1.0-preview spells the faces segment `persistedFaces` (digest §11).
_FACES_SEGMENT = {"v1.0-preview": "persistedFaces"}


class OperationFailed(FaceClientError):
    """The service ran the operation and it failed; `message` is the service's (untrusted) text."""

    def __init__(self, what: str, operation_id: str, message: str | None) -> None:
        self.what = what
        self.operation_id = operation_id
        self.message = message
        super().__init__(
            f"{what}: operation {operation_id} failed: {(message or 'the service gave no reason')[:300]}"
        )


class OperationTimeout(FaceClientError):
    """The operation had not finished when the wait ran out."""

    def __init__(self, what: str, operation_id: str, status: str, timeout: float) -> None:
        self.what = what
        self.operation_id = operation_id
        super().__init__(
            f"{what}: operation {operation_id} still {status} after {timeout:g}s; "
            "run apply again to wait for it"
        )


class OperationStatus(_Response):
    status: str
    message: str | None = None


class _FaceIds(_Response):
    persisted_face_ids: list[str] = Field(default_factory=list, alias="persistedFaceIds")


class _PersonIds(_Response):
    person_ids: list[str] = Field(default_factory=list, alias="personIds")


@dataclass(frozen=True, slots=True)
class Created:
    """A 202 that created something: its id, and the operation that reports on it."""

    id: str
    operation_id: str


def operation_id(op: str, method: str, path: str, response: Answer) -> str:
    """The operation id at the end of `Operation-Location` (an absolute URL, or a path)."""
    location: str | None = response.headers.get("operation-location")
    if not location:
        raise UnexpectedResponse(op, method, path, "HTTP 202 without an Operation-Location header")
    tail = urlsplit(location.strip()).path.rstrip("/").rsplit("/", 1)[-1]
    if not _UUID.match(tail):
        shown = location[:120]
        raise UnexpectedResponse(
            op, method, path, f"Operation-Location {shown!r} does not end in an operation id"
        )
    return tail.lower()


class Answer(Protocol):
    """What the directory reads of an answer (the client's `Reply`): its status and headers."""

    @property
    def status_code(self) -> int: ...

    @property
    def headers(self) -> httpx.Headers: ...


class Calls(Protocol):
    """What the directory's calls are sent through: `FaceClient`'s limiter, retries and checks."""

    api_version: str
    clock: Callable[[], float]
    sleep: Callable[[float], Awaitable[None]]

    async def _send(
        self,
        op: str,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        content: bytes | None = None,
        idempotent: bool,
        ok_after_uncertain: frozenset[int] = frozenset(),
    ) -> Answer | None: ...

    async def _object(self, op: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]: ...

    async def _list(
        self, op: str, path: str, id_field: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    async def _paged(
        self, op: str, path: str, id_field: str, extra: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]: ...

    def _model(self, model: type[M], raw: Any, op: str, method: str, path: str) -> M: ...

    # `response` is what `_send` returned: the client's own answer type.
    def _created_id(self, op: str, method: str, path: str, response: Any, field: str) -> str: ...

    def _face_params(
        self, user_data: str | None, target_face: TargetFace | None, detection_model: str | None
    ) -> dict[str, str]: ...


class DirectoryClient:
    """`FaceClient.directory`: the directory's calls, sent through that client (its limiter,
    retries and errors)."""

    def __init__(self, client: Calls) -> None:
        self._client = client

    @property
    def _faces_segment(self) -> str:
        return _FACES_SEGMENT.get(self._client.api_version, "persistedfaces")

    def _faces_path(self, person_id: str, model: str) -> str:
        return f"/persons/{person_id}/recognitionModels/{model}/{self._faces_segment}"

    async def _write(
        self,
        op: str,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json_body: Any = None,
        params: dict[str, str] | None = None,
        content: bytes | None = None,
        ok_after_uncertain: frozenset[int] = frozenset(),
    ) -> Answer | None:
        return await self._client._send(
            op,
            method,
            path,
            params=params,
            json_body=json_body,
            content=content,
            idempotent=idempotent,
            ok_after_uncertain=ok_after_uncertain,
        )

    def _accepted(self, op: str, method: str, path: str, response: Answer | None) -> str | None:
        """The operation of a 202; None for a 200 (nothing runs) or a replay the client absorbed."""
        if response is None or response.status_code != 202:
            return None
        return operation_id(op, method, path, response)

    # -- persons --------------------------------------------------------------------------------

    async def list_persons(self) -> list[Person]:
        """Every directory person (paged); their faces are listed per model with `list_faces`."""
        op, path = "PersonDirectory.GetPersons", "/persons"
        raw = await self._client._paged(op, path, "personId")
        return [self._client._model(Person, r, op, "GET", path) for r in raw]

    async def any_person(self) -> bool:
        """Whether the directory holds anyone (one call, however large it is)."""
        op, path = "PersonDirectory.GetPersons", "/persons"
        return bool(await self._client._list(op, path, "personId", {"top": 1}))

    async def create_person(self, *, name: str, user_data: str | None) -> Created:
        body: dict[str, Any] = {"name": name}
        if user_data is not None:
            body["userData"] = user_data
        op, path = "PersonDirectory.CreatePerson", "/persons"
        response = await self._write(op, "POST", path, json_body=body, idempotent=False)
        assert response is not None
        person_id = self._client._created_id(op, "POST", path, response, "personId")
        operation = self._accepted(op, "POST", path, response)
        if operation is None:
            raise UnexpectedResponse(op, "POST", path, f"expected HTTP 202, got {response.status_code}")
        return Created(person_id, operation)

    async def update_person(self, person_id: str, *, name: str | None, user_data: str | None) -> None:
        body = {k: v for k, v in (("name", name), ("userData", user_data)) if v is not None}
        await self._write(
            "PersonDirectory.UpdatePerson", "PATCH", f"/persons/{person_id}", json_body=body, idempotent=True
        )

    async def delete_person(self, person_id: str) -> str | None:
        op, path = "PersonDirectory.DeletePerson", f"/persons/{person_id}"
        response = await self._write(op, "DELETE", path, idempotent=True, ok_after_uncertain=frozenset({404}))
        return self._accepted(op, "DELETE", path, response)

    # -- faces ----------------------------------------------------------------------------------

    async def list_faces(self, person_id: str, model: str) -> list[str] | None:
        """The person's persistedFaceIds enrolled in `model`; None when the service does not
        support `model` in the directory (400 BadArgument), which then holds no face of it."""
        op, path = "PersonDirectory.GetPersonFaces", self._faces_path(person_id, model)
        try:
            raw = await self._client._object(op, path)
        except FaceAPIError as exc:
            if exc.status == 400 and exc.code == "BadArgument":
                return None
            raise
        return self._client._model(_FaceIds, raw, op, "GET", path).persisted_face_ids

    async def get_face(self, person_id: str, model: str, face_id: str) -> PersistedFace:
        op, path = "PersonDirectory.GetPersonFace", f"{self._faces_path(person_id, model)}/{face_id}"
        return self._client._model(PersistedFace, await self._client._object(op, path), op, "GET", path)

    async def add_face(
        self,
        person_id: str,
        model: str,
        *,
        image: bytes | None = None,
        url: str | None = None,
        user_data: str | None = None,
        target_face: TargetFace | None = None,
        detection_model: str | None = None,
    ) -> Created:
        """Never replayed on an uncertain failure: the caller looks for the face first."""
        if (image is None) == (url is None):
            raise ValueError("add_face needs exactly one of image or url")
        op, path = "PersonDirectory.AddPersonFace", self._faces_path(person_id, model)
        response = await self._write(
            op,
            "POST",
            path,
            params=self._client._face_params(user_data, target_face, detection_model),
            content=image,
            json_body={"url": url} if url is not None else None,
            idempotent=False,
        )
        assert response is not None
        face_id = self._client._created_id(op, "POST", path, response, "persistedFaceId")
        operation = self._accepted(op, "POST", path, response)
        if operation is None:
            raise UnexpectedResponse(op, "POST", path, f"expected HTTP 202, got {response.status_code}")
        return Created(face_id, operation)

    async def update_face(self, person_id: str, model: str, face_id: str, *, user_data: str) -> None:
        path = f"{self._faces_path(person_id, model)}/{face_id}"
        await self._write(
            "PersonDirectory.UpdatePersonFace",
            "PATCH",
            path,
            json_body={"userData": user_data},
            idempotent=True,
        )

    async def delete_face(self, person_id: str, model: str, face_id: str) -> str | None:
        op, path = "PersonDirectory.DeletePersonFace", f"{self._faces_path(person_id, model)}/{face_id}"
        response = await self._write(op, "DELETE", path, idempotent=True, ok_after_uncertain=frozenset({404}))
        return self._accepted(op, "DELETE", path, response)

    # -- dynamic person groups ------------------------------------------------------------------

    async def list_groups(self) -> list[CollectionInfo]:
        op, path = "DynamicPersonGroup.List", f"/{GROUPS.path_segment}"
        raw = await self._client._paged(op, path, GROUPS.id_field)
        return [
            self._client._model(CollectionInfo, {**r, "id": r[GROUPS.id_field]}, op, "GET", path) for r in raw
        ]

    async def group_members(self, group_id: str) -> list[str]:
        """The personIds of the group's members (paged like a list, in an object)."""
        op, path = "DynamicPersonGroup.ListPersons", f"/{GROUPS.path_segment}/{group_id}/persons"
        ids: list[str] = []
        start = ""
        while True:
            params: dict[str, Any] = {"top": 1000}
            if start:
                params["start"] = start
            page = self._client._model(
                _PersonIds, await self._client._object(op, path, params), op, "GET", path
            )
            ids.extend(page.person_ids)
            if len(page.person_ids) < 1000:
                return ids
            start = page.person_ids[-1]

    async def create_group(
        self, group_id: str, *, name: str, user_data: str | None, add: Sequence[str]
    ) -> str | None:
        """The operation adding `add` (None when the group is created without members)."""
        body: dict[str, Any] = {"name": name}
        if user_data is not None:
            body["userData"] = user_data
        if add:
            body["addPersonIds"] = list(add)
        op, path = "DynamicPersonGroup.Create", f"/{GROUPS.path_segment}/{group_id}"
        # A replayed create answers 409 *Exists: after an uncertain attempt that is our own create.
        response = await self._write(
            op, "PUT", path, json_body=body, idempotent=True, ok_after_uncertain=frozenset({409})
        )
        return self._accepted(op, "PUT", path, response)

    async def update_group(
        self,
        group_id: str,
        *,
        name: str | None = None,
        user_data: str | None = None,
        add: Sequence[str] = (),
        remove: Sequence[str] = (),
    ) -> str | None:
        """Fields at once; the operation changing the members (None when none change)."""
        body: dict[str, Any] = {k: v for k, v in (("name", name), ("userData", user_data)) if v is not None}
        if add:
            body["addPersonIds"] = list(add)
        if remove:
            body["removePersonIds"] = list(remove)
        op, path = "DynamicPersonGroup.Update", f"/{GROUPS.path_segment}/{group_id}"
        # Adding a member twice or removing one twice changes nothing: a replay is harmless.
        response = await self._write(op, "PATCH", path, json_body=body, idempotent=True)
        return self._accepted(op, "PATCH", path, response)

    async def delete_group(self, group_id: str) -> str | None:
        op, path = "DynamicPersonGroup.Delete", f"/{GROUPS.path_segment}/{group_id}"
        response = await self._write(op, "DELETE", path, idempotent=True, ok_after_uncertain=frozenset({404}))
        return self._accepted(op, "DELETE", path, response)

    # -- operations -----------------------------------------------------------------------------

    async def get_operation(self, operation: str) -> OperationStatus | None:
        """The operation's status; None when the service no longer knows it (404: expired)."""
        op, path = "PersonDirectory.GetOperationStatus", f"/operations/{operation}"
        try:
            raw = await self._client._object(op, path)
        except FaceAPIError as exc:
            if exc.status == 404:
                return None
            raise
        return self._client._model(OperationStatus, raw, op, "GET", path)

    async def wait(self, operation: str, *, what: str, timeout: float = DEFAULT_OPERATION_TIMEOUT) -> None:
        """Until the operation succeeded: `OperationFailed`, or `OperationTimeout` after `timeout`
        seconds of the client's clock. An operation the service no longer knows has long ended."""
        clock, sleep = self._client.clock, self._client.sleep
        deadline = clock() + timeout
        delay = POLL_INITIAL
        while True:
            await sleep(delay)
            status = await self.get_operation(operation)
            if status is None:
                return
            value = status.status.strip().lower()
            if value == "succeeded":
                return
            if value == "failed":
                raise OperationFailed(what, operation, status.message)
            if value not in _PENDING:
                raise UnexpectedResponse(
                    "PersonDirectory.GetOperationStatus",
                    "GET",
                    f"/operations/{operation}",
                    f"unknown operation status {status.status[:40]!r}",
                )
            if clock() + delay > deadline:
                raise OperationTimeout(what, operation, value, timeout)
            delay = min(POLL_MAX, delay * 2)
