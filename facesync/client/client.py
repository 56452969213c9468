"""The async Face client: every collection operation facesync needs, under one rate limiter.

Retries follow what each call can bear: a 429 is always safe to retry (the service did nothing);
a 5xx or a timeout is retried only where a replay cannot duplicate anything. Creating a person
or adding a face is never replayed blindly: the error says `uncertain` and the caller looks first.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import logging
import random
import re
import socket
import ssl
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from facesync.client.endpoint import Endpoint, build_transport
from facesync.client.errors import EndpointError, FaceAPIError, ServiceUnreachable, UnexpectedResponse
from facesync.client.models import (
    CollectionInfo,
    DetectedFace,
    FaceListDetail,
    GroupResult,
    IdentifyResult,
    PersistedFace,
    Person,
    SimilarFace,
    TrainingResult,
    VerifyResult,
)
from facesync.client.ratelimit import TokenBucket
from facesync.model import CollectionKind, TargetFace

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

PAGE_SIZE = 1000
_RETRY_AFTER_TEXT = re.compile(r"(?:try again in|retry after)\s+(\d+(?:\.\d+)?)\s*second", re.IGNORECASE)
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})

WriteGuard = Callable[[str, str, str], None]
"""Called with (operation, method, path) before each attempt of a request that writes; raising
stops the request unsent. The apply lock installs one to fence writes by its lease."""
_UNCHECKED: WriteGuard = lambda op, method, path: None  # noqa: E731
_priority_guard: contextvars.ContextVar[WriteGuard | None] = contextvars.ContextVar(
    "facesync_priority_guard", default=None
)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    connect_attempts: int = 3
    """A host that does not accept a connection is tried this often, then the run stops: an
    unreachable endpoint fails in seconds, not after the full backoff."""
    connect_timeout: float = 3.5

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


DEFAULT_RETRY = RetryPolicy()
"""What every client uses unless given a policy (tests shorten its waits)."""


def retry_after_seconds(response: httpx.Response, message: str | None) -> float | None:
    """The wait the service asked for: `Retry-After` header, else the number in the message text."""
    header = response.headers.get("retry-after")
    if header:
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
    if message:
        match = _RETRY_AFTER_TEXT.search(message)
        if match:
            return float(match.group(1))
    return None


def _error_fields(response: httpx.Response) -> tuple[str | None, str]:
    """Face error envelope, tolerant of the older gateway shape with `statusCode` for `code`."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None, response.text[:200] or response.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, str(body)[:200]
    code = error.get("code", error.get("statusCode"))
    return (str(code) if code is not None else None), str(error.get("message") or "")


class FaceClient:
    """One client per run. Use as `async with FaceClient(endpoint) as client:`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_version: str = "v1.0",
        rate_limit: float | None = 10.0,
        parallelism: int = 8,
        timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        transport: httpx.AsyncBaseTransport | None = None,
        write_guard: WriteGuard | None = None,
    ) -> None:
        """`transport` replaces the network (e.g. `httpx.ASGITransport` to an emulator app in the
        same process); `sleep` and `clock` drive retries and the rate limiter (tests pass fakes).
        `write_guard` (also settable later) checks every attempt of every write: creates, updates,
        add-face, deletes, train; never a GET or a recognition call (detect, identify, ...)."""
        if transport is None:
            base_url, transport = build_transport(endpoint)
        else:
            base_url = endpoint.url
        headers = {"User-Agent": "facesync"}
        if endpoint.key:
            headers["Ocp-Apim-Subscription-Key"] = endpoint.key
        self._http = httpx.AsyncClient(
            base_url=f"{base_url}/face/{api_version}",
            transport=transport,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=(retry or DEFAULT_RETRY).connect_timeout),
        )
        self.endpoint = endpoint
        self.api_version = api_version
        self._limiter = TokenBucket(rate_limit, clock=clock, sleep=sleep) if rate_limit else None
        self._slots = asyncio.Semaphore(parallelism)
        self._retry = retry or DEFAULT_RETRY
        self._sleep = sleep
        self.calls: Counter[str] = Counter()
        """Requests sent, by operation (retries included): benchmarks and tests read it."""
        self.write_guard = write_guard

    @contextlib.contextmanager
    def priority(self, guard: WriteGuard | None = None) -> Iterator[None]:
        """Requests made inside (in this task) skip the queues of the rate limiter and of the
        parallel slots, and their writes are checked by `guard` (None: not at all) instead of
        `write_guard`: for the apply lock's own calls (two per renewal), which must not wait
        behind thousands of queued writes, nor be refused by the guard they keep satisfied."""
        token = _priority_guard.set(guard or _UNCHECKED)
        try:
            yield
        finally:
            _priority_guard.reset(token)

    async def __aenter__(self) -> FaceClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def retry(self) -> RetryPolicy:
        return self._retry

    @property
    def total_calls(self) -> int:
        return sum(self.calls.values())

    # -- transport ------------------------------------------------------------------------------

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
        writes: bool | None = None,
    ) -> httpx.Response | None:
        """Send with rate limiting and retries; None when `ok_after_uncertain` absorbed a replay.
        `writes` (default: any method but GET) puts each attempt under the write guard."""
        headers = {}
        priority = _priority_guard.get()
        guard = priority if priority is not None else self.write_guard
        if not (method != "GET" if writes is None else writes):
            guard = None
        slots: contextlib.AbstractAsyncContextManager[object] = (
            contextlib.nullcontext() if priority is not None else self._slots
        )
        if content is not None:
            headers["Content-Type"] = "application/octet-stream"
        uncertain_before = False
        attempt = connect_failures = 0
        while True:
            attempt += 1
            last_try = attempt >= self._retry.max_attempts
            if self._limiter is not None and priority is None:
                await self._limiter.acquire()
            try:
                async with slots:
                    if guard is not None:
                        # Checked last, after every wait: the lease must hold when the write leaves.
                        guard(op, method, path)
                    self.calls[op] += 1
                    query = f" {params}" if params else ""
                    log.debug("%s %s%s (%s, attempt %d)", method, path, query, op, attempt)
                    response = await self._http.request(
                        method, path, params=params, json=json_body, content=content, headers=headers
                    )
            except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                raise EndpointError(f"endpoint {self.endpoint.url}: {exc}") from None
            except httpx.TransportError as exc:
                if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                    connect_failures += 1
                    if connect_failures >= self._retry.connect_attempts:
                        cause = _connect_cause(exc, self._retry.connect_timeout)
                        raise ServiceUnreachable(self.endpoint.display, cause, connect_failures) from None
                # A request that may have reached the service is uncertain unless replay is harmless.
                if (idempotent or not _may_have_been_sent(exc)) and not last_try:
                    uncertain_before = uncertain_before or _may_have_been_sent(exc)
                    wait = self._retry.backoff(attempt)
                    log.info("%s %s: %s; retry %d in %.1fs", method, path, type(exc).__name__, attempt, wait)
                    await self._sleep(wait)
                    continue
                raise FaceAPIError(
                    status=None,
                    code=None,
                    message=f"{type(exc).__name__}: the service did not answer",
                    method=method,
                    path=path,
                    uncertain=_may_have_been_sent(exc) and not idempotent,
                ) from None
            if 300 <= response.status_code < 400:
                # Redirects are not followed: the key must not travel to wherever they point.
                location = response.headers.get("location") or "nowhere (no Location header)"
                raise UnexpectedResponse(
                    op, method, path, f"HTTP {response.status_code} redirect to {location}; use that endpoint"
                )
            if response.status_code < 400:
                return response
            code, message = _error_fields(response)
            request_id = response.headers.get("apim-request-id")
            if uncertain_before and response.status_code in ok_after_uncertain:
                return None
            if response.status_code == 429 and not last_try:
                asked = retry_after_seconds(response, message)
                wait = asked if asked is not None else self._retry.backoff(attempt)
                log.info("%s %s: 429 rate limited; waiting %.1fs as the service asks", method, path, wait)
                if self._limiter is not None:
                    self._limiter.penalise(wait)
                await self._sleep(wait)
                continue
            retry_5xx = response.status_code in _RETRYABLE_5XX
            conflict = code == "ConcurrentOperationConflict"
            if ((retry_5xx and idempotent) or conflict) and not last_try:
                uncertain_before = uncertain_before or retry_5xx
                wait = self._retry.backoff(attempt)
                log.info(
                    "%s %s: HTTP %d %s; retry %d in %.1fs",
                    *(method, path, response.status_code, code, attempt, wait),
                )
                await self._sleep(wait)
                continue
            raise FaceAPIError(
                status=response.status_code,
                code=code,
                message=message,
                method=method,
                path=path,
                request_id=request_id,
                uncertain=retry_5xx and not idempotent,
            )

    @staticmethod
    def _decode(op: str, method: str, path: str, response: httpx.Response) -> Any:
        content_type = response.headers.get("content-type", "")
        if "json" not in content_type.lower():
            raise UnexpectedResponse(
                op,
                method,
                path,
                f"expected JSON, got HTTP {response.status_code} {content_type or 'with no content type'} "
                "(is this the Face endpoint, not a proxy or a login page?)",
            )
        try:
            return response.json()
        except ValueError as exc:
            raise UnexpectedResponse(op, method, path, f"the body is not valid JSON: {exc}") from None

    async def _json(self, op: str, path: str, params: dict[str, Any] | None = None) -> Any:
        response = await self._send(op, "GET", path, params=params, idempotent=True)
        assert response is not None
        return self._decode(op, "GET", path, response)

    async def _object(self, op: str, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        raw = await self._json(op, path, params)
        if not isinstance(raw, dict):
            raise UnexpectedResponse(op, "GET", path, f"expected a JSON object, got {_shape(raw)}")
        return raw

    async def _list(
        self, op: str, path: str, id_field: str, params: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """A JSON list of objects that each carry `id_field`; anything else is an error, never empty."""
        raw = await self._json(op, path, params)
        if not isinstance(raw, list):
            raise UnexpectedResponse(op, "GET", path, f"expected a JSON list, got {_shape(raw)}")
        for index, item in enumerate(raw):
            if not isinstance(item, dict) or not isinstance(item.get(id_field), str):
                problem = f"item {index} is {_shape(item)}, not an object with a string {id_field!r}"
                raise UnexpectedResponse(op, "GET", path, problem)
        return raw

    @staticmethod
    def _models(model: type[M], raw: Any, op: str, method: str, path: str) -> list[M]:
        """A JSON list of `model`; anything else (an object, `{}`) is an error, never empty."""
        if not isinstance(raw, list):
            raise UnexpectedResponse(op, method, path, f"expected a JSON list, got {_shape(raw)}")
        return [FaceClient._model(model, item, op, method, path) for item in raw]

    @staticmethod
    def _model(model: type[M], raw: Any, op: str, method: str, path: str) -> M:
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "the body"
            raise UnexpectedResponse(
                op, method, path, f"unexpected response shape: {where}: {first['msg']}"
            ) from None

    def _created_id(self, op: str, method: str, path: str, response: httpx.Response, field: str) -> str:
        raw = self._decode(op, method, path, response)
        if not isinstance(raw, dict) or not isinstance(raw.get(field), str):
            problem = f"expected an object with a string {field!r}, got {_shape(raw)}"
            raise UnexpectedResponse(op, method, path, problem)
        return str(raw[field])

    async def _paged(
        self, op: str, path: str, id_field: str, extra: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        """Every item of a start/top list: pages of PAGE_SIZE until a short page."""
        items: list[dict[str, Any]] = []
        start = ""
        while True:
            params = {"top": PAGE_SIZE, **(extra or {})}
            if start:
                params["start"] = start
            page = await self._list(op, path, id_field, params)
            items.extend(page)
            if len(page) < PAGE_SIZE:
                return items
            start = page[-1][id_field]

    @staticmethod
    def _face_params(
        user_data: str | None, target_face: TargetFace | None, detection_model: str | None
    ) -> dict[str, str]:
        params: dict[str, str] = {}
        if user_data:
            params["userData"] = user_data
        if target_face:
            params["targetFace"] = ",".join(str(v) for v in target_face)
        if detection_model:
            params["detectionModel"] = detection_model
        return params

    # -- collections ----------------------------------------------------------------------------

    @staticmethod
    def _collection_info(kind: CollectionKind, raw: dict[str, Any]) -> dict[str, Any]:
        return {**raw, "id": raw[kind.id_field]}

    async def list_collections(self, kind: CollectionKind) -> list[CollectionInfo]:
        op, path = f"{kind.label}.List", f"/{kind.path_segment}"
        params = {"returnRecognitionModel": "true"}
        if kind is CollectionKind.FACE_LIST:
            raw = await self._list(op, path, kind.id_field, params)
        else:
            raw = await self._paged(op, path, kind.id_field, params)
        return [self._model(CollectionInfo, self._collection_info(kind, r), op, "GET", path) for r in raw]

    async def _get_collection_raw(self, op: str, kind: CollectionKind, collection_id: str) -> dict[str, Any]:
        path = f"/{kind.path_segment}/{collection_id}"
        raw = await self._object(op, path, {"returnRecognitionModel": "true"})
        if not isinstance(raw.get(kind.id_field), str):
            raise UnexpectedResponse(op, "GET", path, f"expected an object with a string {kind.id_field!r}")
        return self._collection_info(kind, raw)

    async def get_collection(self, kind: CollectionKind, collection_id: str) -> CollectionInfo:
        op = f"{kind.label}.Get"
        raw = await self._get_collection_raw(op, kind, collection_id)
        return self._model(CollectionInfo, raw, op, "GET", f"/{kind.path_segment}/{collection_id}")

    async def get_face_list(self, face_list_id: str) -> FaceListDetail:
        kind = CollectionKind.FACE_LIST
        raw = await self._get_collection_raw("FaceList.Get", kind, face_list_id)
        return self._model(FaceListDetail, raw, "FaceList.Get", "GET", f"/{kind.path_segment}/{face_list_id}")

    async def create_collection(
        self,
        kind: CollectionKind,
        collection_id: str,
        *,
        name: str,
        user_data: str | None,
        recognition_model: str,
    ) -> None:
        body: dict[str, Any] = {"name": name, "recognitionModel": recognition_model}
        if user_data is not None:
            body["userData"] = user_data
        # A replayed create answers 409 *Exists: after an uncertain attempt that is our own create.
        await self._send(
            f"{kind.label}.Create",
            "PUT",
            f"/{kind.path_segment}/{collection_id}",
            json_body=body,
            idempotent=True,
            ok_after_uncertain=frozenset({409}),
        )

    async def _update_fields(self, op: str, path: str, name: str | None, user_data: str | None) -> None:
        """PATCH name and/or userData (a field left None stays as it is on the service)."""
        body = {k: v for k, v in (("name", name), ("userData", user_data)) if v is not None}
        await self._send(op, "PATCH", path, json_body=body, idempotent=True)

    async def update_collection(
        self, kind: CollectionKind, collection_id: str, *, name: str | None, user_data: str | None
    ) -> None:
        path = f"/{kind.path_segment}/{collection_id}"
        await self._update_fields(f"{kind.label}.Update", path, name, user_data)

    async def delete_collection(self, kind: CollectionKind, collection_id: str) -> None:
        await self._send(
            f"{kind.label}.Delete",
            "DELETE",
            f"/{kind.path_segment}/{collection_id}",
            idempotent=True,
            ok_after_uncertain=frozenset({404}),
        )

    async def train(self, kind: CollectionKind, collection_id: str) -> None:
        # A replayed train finds the first one running (409 *TrainingNotFinished): that is success.
        await self._send(
            f"{kind.label}.Train",
            "POST",
            f"/{kind.path_segment}/{collection_id}/train",
            idempotent=True,
            ok_after_uncertain=frozenset({409}),
        )

    async def get_training(self, kind: CollectionKind, collection_id: str) -> TrainingResult | None:
        """The training status, or None when the collection was never trained (404 *NotTrained)."""
        op, path = f"{kind.label}.GetTrainingStatus", f"/{kind.path_segment}/{collection_id}/training"
        try:
            raw = await self._object(op, path)
        except FaceAPIError as exc:
            if exc.status == 404 and (exc.code or "").endswith("NotTrained"):
                return None
            raise
        return self._model(TrainingResult, raw, op, "GET", path)

    # -- persons (PersonGroup, LargePersonGroup) ------------------------------------------------

    def _persons_path(self, kind: CollectionKind, group_id: str) -> str:
        return f"/{kind.path_segment}/{group_id}/persons"

    async def list_persons(self, kind: CollectionKind, group_id: str) -> list[Person]:
        op, path = f"{kind.label}Person.List", self._persons_path(kind, group_id)
        raw = await self._paged(op, path, "personId")
        return [self._model(Person, r, op, "GET", path) for r in raw]

    async def get_person(self, kind: CollectionKind, group_id: str, person_id: str) -> Person:
        op, path = f"{kind.label}Person.Get", f"{self._persons_path(kind, group_id)}/{person_id}"
        return self._model(Person, await self._object(op, path), op, "GET", path)

    async def create_person(
        self, kind: CollectionKind, group_id: str, *, name: str, user_data: str | None
    ) -> str:
        body: dict[str, Any] = {"name": name}
        if user_data is not None:
            body["userData"] = user_data
        op, path = f"{kind.label}Person.Create", self._persons_path(kind, group_id)
        response = await self._send(op, "POST", path, json_body=body, idempotent=False)
        assert response is not None
        return self._created_id(op, "POST", path, response, "personId")

    async def update_person(
        self, kind: CollectionKind, group_id: str, person_id: str, *, name: str | None, user_data: str | None
    ) -> None:
        path = f"{self._persons_path(kind, group_id)}/{person_id}"
        await self._update_fields(f"{kind.label}Person.Update", path, name, user_data)

    async def delete_person(self, kind: CollectionKind, group_id: str, person_id: str) -> None:
        await self._send(
            f"{kind.label}Person.Delete",
            "DELETE",
            f"{self._persons_path(kind, group_id)}/{person_id}",
            idempotent=True,
            ok_after_uncertain=frozenset({404}),
        )

    # -- faces ----------------------------------------------------------------------------------

    def _faces_path(self, kind: CollectionKind, collection_id: str, person_id: str | None) -> str:
        if kind.has_persons:
            if person_id is None:
                raise ValueError(f"a {kind.label} face needs a person id")
            return f"{self._persons_path(kind, collection_id)}/{person_id}/persistedfaces"
        return f"/{kind.path_segment}/{collection_id}/persistedfaces"

    async def add_face(
        self,
        kind: CollectionKind,
        collection_id: str,
        person_id: str | None = None,
        *,
        image: bytes | None = None,
        url: str | None = None,
        user_data: str | None = None,
        target_face: TargetFace | None = None,
        detection_model: str | None = None,
    ) -> str:
        """Add one face from image bytes or a URL; returns its persistedFaceId.

        Never replayed on an uncertain failure: the error says `uncertain`, and the caller looks
        for the face (by its fingerprint in userData) before adding it again.
        """
        if (image is None) == (url is None):
            raise ValueError("add_face needs exactly one of image or url")
        op, path = _face_op(kind, "AddFace"), self._faces_path(kind, collection_id, person_id)
        response = await self._send(
            op,
            "POST",
            path,
            params=self._face_params(user_data, target_face, detection_model),
            content=image,
            json_body={"url": url} if url is not None else None,
            idempotent=False,
        )
        assert response is not None
        return self._created_id(op, "POST", path, response, "persistedFaceId")

    async def get_face(
        self, kind: CollectionKind, collection_id: str, persisted_face_id: str, person_id: str | None = None
    ) -> PersistedFace:
        if kind is CollectionKind.FACE_LIST:
            raise ValueError("a FaceList has no get-face call; read its faces with get_face_list")
        op = _face_op(kind, "GetFace")
        path = f"{self._faces_path(kind, collection_id, person_id)}/{persisted_face_id}"
        return self._model(PersistedFace, await self._object(op, path), op, "GET", path)

    async def update_face(
        self,
        kind: CollectionKind,
        collection_id: str,
        persisted_face_id: str,
        *,
        user_data: str,
        person_id: str | None = None,
    ) -> None:
        if kind is CollectionKind.FACE_LIST:
            raise ValueError("a FaceList face cannot be updated; delete and add it again")
        await self._send(
            _face_op(kind, "UpdateFace"),
            "PATCH",
            f"{self._faces_path(kind, collection_id, person_id)}/{persisted_face_id}",
            json_body={"userData": user_data},
            idempotent=True,
        )

    async def delete_face(
        self, kind: CollectionKind, collection_id: str, persisted_face_id: str, person_id: str | None = None
    ) -> None:
        await self._send(
            _face_op(kind, "DeleteFace"),
            "DELETE",
            f"{self._faces_path(kind, collection_id, person_id)}/{persisted_face_id}",
            idempotent=True,
            ok_after_uncertain=frozenset({404}),
        )

    async def list_large_face_list_faces(self, large_face_list_id: str) -> list[PersistedFace]:
        kind = CollectionKind.LARGE_FACE_LIST
        op, path = "LargeFaceList.ListFaces", f"/{kind.path_segment}/{large_face_list_id}/persistedfaces"
        raw = await self._paged(op, path, "persistedFaceId")
        return [self._model(PersistedFace, r, op, "GET", path) for r in raw]

    # -- recognition ----------------------------------------------------------------------------
    # All read-only for the collections, so every one is safe to replay (a replayed detect only
    # mints faceIds that expire unused).

    async def _post_json(self, op: str, path: str, body: Any, params: dict[str, str] | None = None) -> Any:
        response = await self._send(
            op, "POST", path, params=params, json_body=body, idempotent=True, writes=False
        )
        assert response is not None
        return self._decode(op, "POST", path, response)

    async def detect(
        self,
        image: bytes,
        *,
        recognition_model: str,
        detection_model: str,
        return_face_id: bool = True,
        face_id_ttl: int | None = None,
        attributes: Sequence[str] = (),
    ) -> list[DetectedFace]:
        """Faces in `image`, largest first. `face_id_ttl` (60-86400 s) bounds how long the
        faceIds stay usable; the service's default is 24 hours."""
        params = {
            "returnFaceId": "true" if return_face_id else "false",
            "recognitionModel": recognition_model,
            "detectionModel": detection_model,
        }
        if face_id_ttl is not None:
            params["faceIdTimeToLive"] = str(face_id_ttl)
        if attributes:
            params["returnFaceAttributes"] = ",".join(attributes)
        response = await self._send(
            "Face.Detect", "POST", "/detect", params=params, content=image, idempotent=True, writes=False
        )
        assert response is not None
        raw = self._decode("Face.Detect", "POST", "/detect", response)
        return self._models(DetectedFace, raw, "Face.Detect", "POST", "/detect")

    async def identify(
        self,
        face_ids: Sequence[str],
        *,
        kind: CollectionKind,
        group_id: str,
        max_candidates: int = 1,
        confidence_threshold: float | None = None,
    ) -> list[IdentifyResult]:
        """Up to 10 faceIds against a trained PersonGroup or LargePersonGroup."""
        body: dict[str, Any] = {
            "faceIds": list(face_ids),
            kind.id_field: group_id,
            "maxNumOfCandidatesReturned": max_candidates,
        }
        if confidence_threshold is not None:
            body["confidenceThreshold"] = confidence_threshold
        raw = await self._post_json("Face.Identify", "/identify", body)
        return self._models(IdentifyResult, raw, "Face.Identify", "POST", "/identify")

    async def verify_faces(self, face_id1: str, face_id2: str) -> VerifyResult:
        raw = await self._post_json("Face.Verify", "/verify", {"faceId1": face_id1, "faceId2": face_id2})
        return self._model(VerifyResult, raw, "Face.Verify", "POST", "/verify")

    async def verify_person(
        self, face_id: str, *, kind: CollectionKind, group_id: str, person_id: str
    ) -> VerifyResult:
        body = {"faceId": face_id, "personId": person_id, kind.id_field: group_id}
        raw = await self._post_json("Face.Verify", "/verify", body)
        return self._model(VerifyResult, raw, "Face.Verify", "POST", "/verify")

    async def find_similar(
        self,
        face_id: str,
        *,
        face_ids: Sequence[str] | None = None,
        face_list: tuple[CollectionKind, str] | None = None,
        mode: str = "matchPerson",
        max_candidates: int = 20,
    ) -> list[SimilarFace]:
        """Faces like `face_id` among `face_ids` (faceIds from detect) or in a (Large)FaceList."""
        if (face_ids is None) == (face_list is None):
            raise ValueError("find_similar needs exactly one of face_ids or face_list")
        body: dict[str, Any] = {"faceId": face_id, "mode": mode, "maxNumOfCandidatesReturned": max_candidates}
        if face_ids is not None:
            body["faceIds"] = list(face_ids)
        else:
            assert face_list is not None
            body[face_list[0].id_field] = face_list[1]
        raw = await self._post_json("Face.FindSimilar", "/findsimilars", body)
        return self._models(SimilarFace, raw, "Face.FindSimilar", "POST", "/findsimilars")

    async def group(self, face_ids: Sequence[str]) -> GroupResult:
        """2 to 1000 faceIds into groups of the same person (and a messy group of the rest)."""
        raw = await self._post_json("Face.Group", "/group", {"faceIds": list(face_ids)})
        return self._model(GroupResult, raw, "Face.Group", "POST", "/group")


def _shape(value: Any) -> str:
    """What a JSON value is, for an error message (short: never a whole body)."""
    if isinstance(value, dict):
        return "an object" if value else "an empty object {}"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return f"{type(value).__name__} {json.dumps(value)[:40]}"


def _face_op(kind: CollectionKind, name: str) -> str:
    """Operation label for `calls`: faces belong to a person in groups, to the list otherwise."""
    return f"{kind.label}{'Person' if kind.has_persons else ''}.{name}"


def _connect_cause(exc: httpx.TransportError, timeout: float) -> str:
    """Why a connection failed, in words an operator can act on."""
    if isinstance(exc, httpx.ConnectTimeout):
        return f"no answer within {timeout:g} s (a firewall, or the wrong host or port?)"
    chain: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in chain:
        chain.append(current)
        current = current.__cause__ or current.__context__
    text = " ".join(str(e) for e in chain)
    if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in text or "CERTIFICATE" in text:
        return f"the TLS handshake failed ({chain[-1]})"
    if any(isinstance(e, socket.gaierror) for e in chain) or "name resolution" in text or "not known" in text:
        return "the host name does not resolve (DNS)"
    if any(isinstance(e, ConnectionRefusedError) for e in chain) or "refused" in text.lower():
        return "connection refused (nothing listens on that port)"
    return str(chain[-1]) or type(exc).__name__


def _may_have_been_sent(exc: httpx.TransportError) -> bool:
    """Whether the request could have reached the service (so a create may have happened)."""
    return not isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout)
