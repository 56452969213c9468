"""The async Face client: every collection operation facesync needs, under one rate limiter.

Retries follow what each call can bear: a 429 is always safe to retry (the service did nothing);
a 5xx or a timeout is retried only where a replay cannot duplicate anything. Creating a person
or adding a face is never replayed blindly: the error says `uncertain` and the caller looks first.

Whatever the service does, a request ends in bounded time and memory (facesync.client.limits):
bodies are read as they stream and cut at the largest answer a Face API can give, a try must
keep moving bytes or end, waits the service asks for are capped, and every request has a total
deadline. Deadlines are measured on the client's `clock`, which tests drive.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import email.utils
import json
import logging
import math
import random
import re
import socket
import ssl
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from facesync.client import limits
from facesync.client.auth import Auth, EntraAuth, KeyAuth
from facesync.client.body import (
    ACCEPT_ENCODING,
    BodyError,
    BodyOverLimit,
    BodyTooLarge,
    Inflater,
    format_size,
    parse_json,
)
from facesync.client.directory import DirectoryClient
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
from facesync.secrets import clean, scrub_bytes

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)
M = TypeVar("M", bound=BaseModel)

PAGE_SIZE = 1000
MAX_PAGES = 1_001
"""A paged list longer than this (a million items) is not a Face resource's: the service's
largest collections hold a million persons or faces."""
_RETRY_AFTER_TEXT = re.compile(
    r"(?:try again in|retry after)\s+(\d+(?:\.\d+)?(?:e\+?\d+)?|inf(?:inity)?)\s*second", re.IGNORECASE
)
_RETRYABLE_5XX = frozenset({500, 502, 503, 504})

WriteGuard = Callable[[str, str, str], None]
"""Called with (operation, method, path) before each attempt of a request that writes; raising
stops the request unsent. The apply lock installs one to fence writes by its lease."""
_UNCHECKED: WriteGuard = lambda op, method, path: None  # noqa: E731
_priority_guard: contextvars.ContextVar[WriteGuard | None] = contextvars.ContextVar(
    "facesync_priority_guard", default=None
)
WATCH_INTERVAL = 0.1
"""Real seconds between two looks at the client's clock while a try is in flight: how late a
deadline may be noticed when no byte arrives."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_delay: float = 0.5
    max_delay: float = 30.0
    connect_attempts: int = 3
    """A host that does not accept a connection is tried this often, then the run stops: an
    unreachable endpoint fails in seconds, not after the full backoff."""
    connect_timeout: float = 3.5
    timeout_attempts: int = limits.TIMEOUT_ATTEMPTS
    """Tries that get no answer in time before the request is given up."""
    request_deadline: float = limits.REQUEST_DEADLINE
    """Seconds one request may take on the client's clock, tries and waits included (the
    client's own rate limiter and parallelism queue do not count: they are not the service's)."""
    retry_after_max: float = limits.RETRY_AFTER_MAX

    def backoff(self, attempt: int) -> float:
        """Capped exponential backoff with full jitter (attempt counts from 1)."""
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return random.uniform(ceiling / 2, ceiling)


DEFAULT_RETRY = RetryPolicy()
"""What every client uses unless given a policy (tests shorten its waits)."""
DEFAULT_CLOCK: Callable[[], float] = time.monotonic
DEFAULT_SLEEP: Callable[[float], Awaitable[None]] = asyncio.sleep
"""What every client measures and waits with unless given its own (tests put a fake here to
drive the commands' deadlines)."""


class _HasHeaders(Protocol):
    @property
    def headers(self) -> httpx.Headers: ...


@dataclass(frozen=True)
class Reply:
    """One answer, its body read within its limit (and decompressed)."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    reason_phrase: str = ""
    body_problem: str | None = None
    """Why an error's body could not be read (too large, badly encoded): it is then empty."""

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


async def _raw_chunks(response: httpx.Response) -> AsyncIterator[bytes]:
    """The body as it arrives; a body an in-process transport handed over whole is one chunk."""
    if response.is_stream_consumed:
        yield response.content
        return
    async for chunk in response.aiter_raw():
        yield chunk


class _TooSlow(Exception):
    """One try ran out of time: nothing, or too little, came back."""

    def __init__(self, deadline: limits.TryDeadline, request_over: bool) -> None:
        self.deadline = deadline
        self.request_over = request_over


def _seconds(value: float) -> str:
    if math.isinf(value):
        return "forever (inf)"
    return f"{value:,.0f} s" if value >= 10 else f"{value:g} s"


def retry_after_seconds(response: _HasHeaders, message: str | None) -> float | None:
    """The wait the service asked for: `Retry-After` (seconds, or an HTTP date measured against
    the answer's own `Date`), else the number in the message text. NaN and garbage are no ask;
    infinity is an ask (that no one should obey)."""
    header = (response.headers.get("retry-after") or "").strip()
    if header:
        asked: float | None
        try:
            asked = float(header)
        except ValueError:
            asked = _retry_after_date(header, response.headers.get("date"))
        if asked is not None and not math.isnan(asked):
            return max(0.0, asked)
    if message:
        match = _RETRY_AFTER_TEXT.search(message)
        if match:
            return float(match.group(1))
    return None


def _retry_after_date(value: str, date: str | None) -> float | None:
    """An HTTP-date Retry-After, as seconds after the service's own `Date` (never our clock:
    the two machines' clocks need not agree)."""
    try:
        then = email.utils.parsedate_to_datetime(value)
        now = email.utils.parsedate_to_datetime(date) if date else None
    except (TypeError, ValueError, IndexError):
        return None
    if now is None or then.tzinfo is None or now.tzinfo is None:
        return None
    return (then - now).total_seconds()


def _error_fields(reply: Reply) -> tuple[str | None, str]:
    """Face error envelope, tolerant of the older gateway shape with `statusCode` for `code`."""
    if reply.body_problem:
        return None, f"({reply.body_problem})"
    try:
        body = parse_json(reply.body, max_depth=limits.JSON_MAX_DEPTH, max_values=limits.JSON_MAX_VALUES)
    except (BodyError, ValueError):
        return None, reply.text[:200] or reply.reason_phrase
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return None, str(body)[:200]
    code = error.get("code", error.get("statusCode"))
    return (str(code)[:100] if code is not None else None), str(error.get("message") or "")[:2000]


class FaceClient:
    """One client per run. Use as `async with FaceClient(endpoint) as client:`."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        api_version: str = "v1.0",
        rate_limit: float | None = 10.0,
        parallelism: int = 8,
        timeout: float = limits.ATTEMPT_TIMEOUT,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
        clock: Callable[[], float] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        credential: TokenCredential | None = None,
        write_guard: WriteGuard | None = None,
    ) -> None:
        """`transport` replaces the network (e.g. `httpx.ASGITransport` to an emulator app in the
        same process); `sleep` and `clock` drive retries, deadlines, token renewal and the rate
        limiter (tests pass fakes); `credential` replaces DefaultAzureCredential for `auth: entra`.
        `write_guard` (also settable later) checks every attempt of every write: creates, updates,
        add-face, deletes, train; never a GET or a recognition call (detect, identify, ...)."""
        clock = clock or DEFAULT_CLOCK
        sleep = sleep or DEFAULT_SLEEP
        self.endpoint = endpoint
        self.api_version = api_version
        self._retry = retry or DEFAULT_RETRY
        self._auth: Auth = (
            EntraAuth(endpoint.display, credential, clock=clock)
            if endpoint.auth == "entra"
            else KeyAuth(endpoint.key)
        )
        if transport is None:
            base_url, transport = build_transport(endpoint)
        else:
            base_url = endpoint.url
        self._http = httpx.AsyncClient(
            base_url=f"{base_url}/face/{api_version}",
            transport=transport,
            headers={"User-Agent": "facesync", "Accept-Encoding": ACCEPT_ENCODING},
            # httpx's own timeouts are a backstop in real time; the deadlines that count are
            # measured on `clock` (see _exchange).
            timeout=httpx.Timeout(timeout, connect=self._retry.connect_timeout),
        )
        self._timeout = timeout
        self._limiter = TokenBucket(rate_limit, clock=clock, sleep=sleep) if rate_limit else None
        self._slots = asyncio.Semaphore(parallelism)
        self._sleep = sleep
        self._clock = clock
        self.clock = clock
        """Measures waits (operations); tests pass a fake together with `sleep`."""
        self.sleep = sleep
        self.directory = DirectoryClient(self)
        """The PersonDirectory and DynamicPersonGroup calls (preview API versions)."""
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

    @property
    def auth(self) -> Auth:
        return self._auth

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
        max_body: int | None = None,
        writes: bool | None = None,
    ) -> Reply | None:
        """Send with rate limiting and retries; None when `ok_after_uncertain` absorbed a replay.
        A successful answer's body may hold `max_body` bytes (default: `limits.OBJECT_BODY_MAX`).
        `writes` (default: any method but GET) puts each attempt under the write guard."""
        host = self.endpoint.display
        max_body = limits.OBJECT_BODY_MAX if max_body is None else max_body
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
        uncertain_before = reauthenticated = False
        attempt = connect_failures = timeouts = 0
        spent = 0.0
        """Seconds of this request's own tries and waits, on the client's clock."""
        while True:
            attempt += 1
            last_try = attempt >= self._retry.max_attempts
            if self._limiter is not None and priority is None:
                await self._limiter.acquire()
            failure: str | None = None
            may_have_been_sent = True
            async with slots:
                auth = await self._auth.headers()
                if guard is not None:
                    # Checked last, after every wait: the lease must hold when the write leaves.
                    guard(op, method, path)
                self.calls[op] += 1
                query = f" {params}" if params else ""
                log.debug("%s %s%s (%s, attempt %d)", method, path, query, op, attempt)
                request = self._http.build_request(
                    method, path, params=params, json=json_body, content=content, headers={**headers, **auth}
                )
                started = self._clock()
                try:
                    reply = await self._exchange(request, max_body, started, spent)
                except _TooSlow as slow:
                    timeouts += 1
                    failure = self._too_slow(slow, timeouts)
                    if slow.request_over:
                        last_try = True
                except (httpx.InvalidURL, httpx.UnsupportedProtocol) as exc:
                    raise EndpointError(f"endpoint {self.endpoint.url}: {exc}") from None
                except BodyError as exc:
                    raise UnexpectedResponse(op, method, path, f"{host}: {exc}{_limit_note(exc)}") from None
                except httpx.TransportError as exc:
                    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
                        connect_failures += 1
                        if connect_failures >= self._retry.connect_attempts:
                            cause = _connect_cause(exc, self._retry.connect_timeout)
                            raise ServiceUnreachable(host, cause, connect_failures) from None
                    may_have_been_sent = _may_have_been_sent(exc)
                    if isinstance(exc, httpx.TimeoutException) and may_have_been_sent:
                        timeouts += 1
                        failure = self._no_answer(timeouts)
                    else:
                        failure = f"{type(exc).__name__}: the service did not answer"
                finally:
                    spent += self._clock() - started
            if failure is not None:
                # A request that may have reached the service is uncertain unless replay is harmless.
                pause = self._retry.backoff(attempt)
                retry = (
                    (idempotent or not may_have_been_sent)
                    and not last_try
                    and timeouts < self._retry.timeout_attempts
                    and spent + pause < self._retry.request_deadline
                )
                if retry:
                    uncertain_before = uncertain_before or may_have_been_sent
                    log.info("%s %s: %s; retry %d in %.1fs", method, path, failure, attempt, pause)
                    await self._sleep(pause)
                    spent += pause
                    continue
                raise FaceAPIError(
                    status=None,
                    code=None,
                    message=failure,
                    method=method,
                    path=path,
                    uncertain=may_have_been_sent and not idempotent,
                ) from None
            if 300 <= reply.status_code < 400:
                # Redirects are not followed: the key must not travel to wherever they point.
                location = reply.headers.get("location") or "nowhere (no Location header)"
                raise UnexpectedResponse(
                    op, method, path, f"HTTP {reply.status_code} redirect to {location}; use that endpoint"
                )
            if reply.status_code < 400:
                return reply
            code, message = _error_fields(reply)
            request_id = reply.headers.get("apim-request-id")
            if uncertain_before and reply.status_code in ok_after_uncertain:
                return None
            wait: float | None = None
            if reply.status_code == 401 and not reauthenticated and not last_try and self._auth.rejected():
                reauthenticated = True
                wait = 0.0  # a token the service no longer takes: fetch a fresh one, try once more
            elif reply.status_code == 429 and not last_try:
                asked = retry_after_seconds(reply, message)
                if asked is not None and asked > self._retry.retry_after_max:
                    message = (
                        f"{host} asks to wait {_seconds(asked)} before trying again; facesync waits "
                        f"at most {self._retry.retry_after_max:g} s (try again later). {message}"
                    )
                else:
                    wait = asked if asked is not None else self._retry.backoff(attempt)
                    log.info("%s %s: 429 rate limited; waiting %.1fs as the service asks", method, path, wait)
                    if self._limiter is not None:
                        self._limiter.penalise(wait)
            if code == "AuthenticationTypeDisabled" and self.endpoint.auth == "key":
                message += f" {host} takes Microsoft Entra ID tokens only: use --auth entra (or auth: entra)."
            retry_5xx = reply.status_code in _RETRYABLE_5XX
            conflict = code == "ConcurrentOperationConflict"
            if wait is None and ((retry_5xx and idempotent) or conflict) and not last_try:
                uncertain_before = uncertain_before or retry_5xx
                wait = self._retry.backoff(attempt)
                log.info(
                    "%s %s: HTTP %d %s; retry %d in %.1fs",
                    *(method, path, reply.status_code, clean(code or ""), attempt, wait),
                )
            if wait is not None:
                if spent + wait < self._retry.request_deadline:
                    await self._sleep(wait)
                    spent += wait
                    continue
                message = (
                    f"gave up after {spent:.0f} s: facesync's limit for one request to {host}, "
                    f"tries and waits included, is {self._retry.request_deadline:g} s. {message}"
                )
            raise FaceAPIError(
                status=reply.status_code,
                code=code,
                message=message,
                method=method,
                path=path,
                request_id=request_id,
                uncertain=retry_5xx and not idempotent,
            )

    def _no_answer(self, timeouts: int) -> str:
        return (
            f"{self.endpoint.display} did not answer within {self._timeout:g} s, "
            f"facesync's limit per try{_tries(timeouts)}"
        )

    def _too_slow(self, slow: _TooSlow, timeouts: int) -> str:
        host, deadline = self.endpoint.display, slow.deadline
        if slow.request_over:
            return (
                f"{host} took too long: facesync's limit for one request, tries and waits "
                f"included, is {self._retry.request_deadline:g} s"
            )
        if deadline.received == 0:
            return self._no_answer(timeouts)
        return (
            f"{host} sent its answer too slowly ({deadline.received:,} bytes in {deadline.elapsed:.0f} s): "
            f"facesync allows {self._timeout:g} s per try plus 1 s per "
            f"{format_size(limits.MIN_TRANSFER_RATE)} moved{_tries(timeouts)}"
        )

    async def _exchange(self, request: httpx.Request, max_body: int, started: float, spent: float) -> Reply:
        """One try, watched on the client's clock: ends by its deadline whatever the server does
        (nothing, a byte a second, a body without end)."""
        deadline = limits.TryDeadline(
            self._clock,
            started,
            self._timeout,
            limits.MIN_TRANSFER_RATE,
            request_end=started + self._retry.request_deadline - spent,
        )
        sent = request.headers.get("content-length", "")
        deadline.add(sent=int(sent) if sent.isdigit() else 0)
        task = asyncio.ensure_future(self._receive(request, max_body, deadline))
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=WATCH_INTERVAL)
                if done:
                    return task.result()
                if deadline.expired():
                    raise _TooSlow(deadline, request_over=deadline.end >= deadline.request_end)
        finally:
            if not task.done():
                task.cancel()
                # The try already failed; how its cancelled task ends is moot, unless this task
                # itself is being cancelled.
                with contextlib.suppress(Exception):
                    try:
                        await task
                    except asyncio.CancelledError:
                        current = asyncio.current_task()
                        if current is not None and current.cancelling():
                            raise

    async def _receive(self, request: httpx.Request, max_body: int, deadline: limits.TryDeadline) -> Reply:
        response = await self._http.send(request, stream=True)
        try:
            status, headers = response.status_code, response.headers
            if 300 <= status < 400:
                return Reply(status, headers, b"", response.reason_phrase)
            limit = max_body if status < 400 else limits.ERROR_BODY_MAX
            try:
                body = await self._read_body(response, limit, deadline)
            except BodyError as exc:
                if status < 400:
                    raise
                # An error's status still counts (a 429 is waited out); its unreadable body does not.
                return Reply(status, headers, b"", response.reason_phrase, body_problem=str(exc))
            return Reply(status, headers, body, response.reason_phrase)
        finally:
            await response.aclose()

    @staticmethod
    async def _read_body(response: httpx.Response, limit: int, deadline: limits.TryDeadline) -> bytes:
        """The decompressed body, streamed, cut short (`BodyTooLarge`) past `limit` bytes."""
        encoding = response.headers.get("content-encoding")
        declared = response.headers.get("content-length", "")
        if not encoding and declared.isdigit() and int(declared) > limit:
            raise BodyTooLarge(limit)
        inflater = Inflater(encoding)
        body = bytearray()
        async for chunk in _raw_chunks(response):
            deadline.add(received=len(chunk))
            if deadline.expired():
                raise _TooSlow(deadline, request_over=deadline.end >= deadline.request_end)
            inflater.feed_into(body, chunk, limit)
        inflater.finish()
        # Whatever the service echoes (a key in an error message, a token in a name) is masked
        # here, before any of it becomes data.
        return scrub_bytes(bytes(body))

    def _decode(self, op: str, method: str, path: str, reply: Reply) -> Any:
        content_type = reply.headers.get("content-type", "")
        if "json" not in content_type.lower():
            raise UnexpectedResponse(
                op,
                method,
                path,
                f"expected JSON, got HTTP {reply.status_code} {content_type or 'with no content type'} "
                "(is this the Face endpoint, not a proxy or a login page?)",
            )
        try:
            return parse_json(reply.body, max_depth=limits.JSON_MAX_DEPTH, max_values=limits.JSON_MAX_VALUES)
        except BodyError as exc:
            raise UnexpectedResponse(
                op, method, path, f"{self.endpoint.display}: {exc}{_limit_note(exc)}"
            ) from None
        except ValueError as exc:
            raise UnexpectedResponse(op, method, path, f"the body is not valid JSON: {exc}") from None

    async def _json(
        self,
        op: str,
        path: str,
        params: dict[str, Any] | None = None,
        *,
        max_body: int | None = None,
    ) -> Any:
        response = await self._send(op, "GET", path, params=params, idempotent=True, max_body=max_body)
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
        raw = await self._json(op, path, params, max_body=limits.LIST_BODY_MAX)
        if not isinstance(raw, list):
            raise UnexpectedResponse(op, "GET", path, f"expected a JSON list, got {_shape(raw)}")
        top = (params or {}).get("top")
        if isinstance(top, int) and len(raw) > top:
            raise UnexpectedResponse(op, "GET", path, f"{len(raw):,} items in a page of at most {top:,}")
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
                op, method, path, f"unexpected response shape: {where[:200]}: {first['msg']}"
            ) from None

    def _created_id(self, op: str, method: str, path: str, response: Reply, field: str) -> str:
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
        for _ in range(MAX_PAGES):
            params = {"top": PAGE_SIZE, **(extra or {})}
            if start:
                params["start"] = start
            page = await self._list(op, path, id_field, params)
            items.extend(page)
            if len(page) < PAGE_SIZE:
                return items
            last = page[-1][id_field]
            if last <= start:
                # Ids come sorted and `start` is exclusive: a page that does not move on never ends.
                raise UnexpectedResponse(op, "GET", path, f"the page after {start!r} starts over at {last!r}")
            start = last
        raise UnexpectedResponse(
            op, "GET", path, f"more than {MAX_PAGES - 1:,} pages: no Face collection is that large"
        )

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
    ) -> bool:
        """True when this request created the collection; False when a replay after an uncertain
        attempt answered 409 *Exists (most likely our own create, but not certainly)."""
        body: dict[str, Any] = {"name": name, "recognitionModel": recognition_model}
        if user_data is not None:
            body["userData"] = user_data
        # A replayed create answers 409 *Exists: after an uncertain attempt that is our own create.
        reply = await self._send(
            f"{kind.label}.Create",
            "PUT",
            f"/{kind.path_segment}/{collection_id}",
            json_body=body,
            idempotent=True,
            ok_after_uncertain=frozenset({409}),
        )
        return reply is not None

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
        """Up to 10 faceIds against a trained PersonGroup or LargePersonGroup, a
        DynamicPersonGroup, or the whole PersonDirectory (`personIds: ["*"]`)."""
        scope: dict[str, Any] = (
            {"personIds": ["*"]} if kind is CollectionKind.PERSON_DIRECTORY else {kind.id_field: group_id}
        )
        body: dict[str, Any] = {
            "faceIds": list(face_ids),
            **scope,
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
        body = {"faceId": face_id, "personId": person_id}
        if kind is not CollectionKind.PERSON_DIRECTORY:  # a directory person needs no group
            body[kind.id_field] = group_id
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


def _tries(count: int) -> str:
    return f" (tried {count} times)" if count > 1 else ""


def _limit_note(exc: BodyError) -> str:
    """After a limit's message: why facesync holds to it."""
    if isinstance(exc, BodyOverLimit):
        return "; no Face API answer comes near that, so facesync stops reading"
    return ""
