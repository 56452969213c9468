"""The Starlette app: the request pipeline, the route table and the control endpoints.

Pipeline for every API request: count it, then auth -> rate limit -> latency -> fault ->
operation -> lost response.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route as StarletteRoute

from facesync.emulator.auth import authorize
from facesync.emulator.calls import (
    VERSIONS,
    Call,
    Clock,
    Route,
    error_response,
    json_body,
    json_response,
    media_type,
)
from facesync.emulator.directory.store import Directory
from facesync.emulator.errors import ApiError
from facesync.emulator.faults import LOST_RESPONSE, FaultRng, TokenBucket
from facesync.emulator.handlers import collections as collection_handlers
from facesync.emulator.handlers import directory as directory_handlers
from facesync.emulator.handlers import recognition as recognition_handlers
from facesync.emulator.recognition import Recognition
from facesync.emulator.settings import EmulatorSettings
from facesync.emulator.store import Store

log = logging.getLogger("facesync.emulator")

__all__ = ["Clock", "Emulator", "create_app"]


class Emulator:
    """Holds the settings, the store, the knobs' state and the counters."""

    def __init__(
        self, settings: EmulatorSettings, clock: Clock | None = None, recognition: str | None = None
    ) -> None:
        self.settings = settings
        # Wall-clock seconds (time.time()); tests inject a fake so training, rate windows and
        # expiries never depend on how fast the machine is.
        self.clock: Clock = clock or time.time
        self.store = Store(settings.data, lambda name: self.settings.limit(name), self.clock)
        # recognition: auto | real | deterministic; None reads $FACESYNC_RECOGNITION.
        self.recognition = Recognition(self.store, self.clock, recognition, settings.recognition_workers)
        self.directory = Directory(self.store)
        self.bucket = TokenBucket()
        self.rng = FaultRng(settings.seed)
        self._stats_lock = threading.Lock()
        self._zero_stats()

    def _zero_stats(self) -> None:
        with self._stats_lock:
            self._total = 0
            self._mutating = 0
            self._operations: dict[str, int] = {}
            self._statuses: dict[str, int] = {}

    def stats(self) -> dict[str, Any]:
        with self._stats_lock:
            return {
                "total": self._total,
                "mutating": self._mutating,
                "operations": dict(self._operations),
                "statuses": dict(self._statuses),
                "recognition": self.recognition.engine.name,
                **self.recognition.stats(),
            }

    def reset(self) -> None:
        """Wipe all data and counters; reseed the fault RNG and refill the rate bucket."""
        self.store.wipe()
        self.recognition.wipe()
        self.directory.wipe()
        self._zero_stats()
        self.rng.reseed(self.settings.seed)
        self.bucket = TokenBucket()

    def close(self) -> None:
        self.recognition.close()
        self.store.close()

    def _count(self, method: str, operation: str | None) -> None:
        with self._stats_lock:
            self._total += 1
            if method != "GET":
                self._mutating += 1
            if operation:
                self._operations[operation] = self._operations.get(operation, 0) + 1

    def _count_status(self, status: int) -> None:
        with self._stats_lock:
            key = str(status)
            self._statuses[key] = self._statuses.get(key, 0) + 1

    def update_settings(self, changes: dict[str, Any]) -> None:
        old_seed = self.settings.seed
        self.settings.update(changes)
        if "seed" in changes and changes["seed"] != old_seed:
            self.rng.reseed(self.settings.seed)

    # ---- the pipeline ------------------------------------------------------------------

    async def handle(self, request: Request) -> Response:
        method = request.method.upper()
        version, route = _resolve(_raw_path(request), method)
        operation = None
        if route is not None:
            operation = route[0]
            if operation.endswith(("_AddFace", "_AddPersonFace")):
                suffix = "FromUrl" if media_type(request) == "application/json" else "FromStream"
                operation += suffix
            elif operation == "Face_Detect":
                operation += "WithUrl" if media_type(request) == "application/json" else "WithStream"
        self._count(method, operation)
        new_style = version is not None and VERSIONS[version]
        try:
            response = await self._run(request, method, version, route)
        except ApiError as exc:
            response = error_response(exc, new_style)
        except Exception:  # pragma: no cover - a bug; answer like the service would
            log.exception("emulator error on %s %s", method, request.url.path)
            response = error_response(ApiError(500, *LOST_RESPONSE[1:]), new_style)
        self._count_status(response.status_code)
        return response

    async def _run(
        self,
        request: Request,
        method: str,
        version: str | None,
        route: Route | None,
    ) -> Response:
        s = self.settings
        authorize(s, request.headers)
        wait = self.bucket.take(s.rate_limit, self.clock())
        if wait:
            raise ApiError(
                429,
                "429",
                f"Rate limit is exceeded. Try again in {wait} seconds.",
                {"Retry-After": str(wait)},
            )
        if s.latency_ms > 0:
            await asyncio.sleep(s.latency_ms / 1000)
        fault = self.rng.fault(s.fault_rate)
        if fault is not None:
            raise ApiError(*fault)
        if route is None or version is None:
            raise ApiError(404, "404", "Resource not found")
        _, handler, params = route
        call = Call(request=request, version=version, **params)
        response = await handler(self, call)
        if method != "GET" and response.status_code < 300 and self.rng.lost(s.lost_response_rate):
            raise ApiError(*LOST_RESPONSE)
        return response


# ---- routing -----------------------------------------------------------------------------


def _raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded, so that `%2F` inside an id is not a separator.

    Servers that give no `raw_path` leave only the decoded path to route on.
    """
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(request.scope["path"])
    return raw.split(b"?", 1)[0].decode("utf-8", "replace")


def _resolve(path: str, method: str) -> tuple[str | None, Route | None]:
    """(version, (operationId, handler, params)) for a raw (percent-encoded) Face path; None parts
    when unknown. Split first, then decode each segment."""
    parts = [unquote(p) for p in path.split("/") if p]
    if len(parts) < 3 or parts[0].lower() != "face":
        return None, None
    version = parts[1].lower()
    if version not in VERSIONS:
        return None, None
    rest = parts[2:]
    first = rest[0].lower()
    if first in collection_handlers.SEGMENTS:
        return version, collection_handlers.resolve(rest, method)
    if first in directory_handlers.ROOTS:
        if version not in directory_handlers.DIRECTORY_VERSIONS:
            return version, None
        return version, directory_handlers.resolve(rest, method)
    if len(rest) == 1 and method == "POST":
        found = recognition_handlers.ROUTES.get(first)
        if found is not None:
            return version, (found[0], found[1], {"kind": "", "cid": ""})
    return version, None


# ---- the app -----------------------------------------------------------------------------


def _emulator(request: Request) -> Emulator:
    emulator: Emulator = request.app.state.emulator
    return emulator


async def api(request: Request) -> Response:
    return await _emulator(request).handle(request)


def _control_denied(request: Request) -> Response | None:
    """The API's answer unless the request carries the emulator's key or token (when one is set).

    The control endpoints can switch auth off and wipe data, so they are guarded like the API;
    an emulator without a key or token keeps them open.
    """
    try:
        authorize(_emulator(request).settings, request.headers)
    except ApiError as exc:
        return error_response(exc, False)
    return None


async def stats_endpoint(request: Request) -> Response:
    if (denied := _control_denied(request)) is not None:
        return denied
    return json_response(_emulator(request).stats())


async def reset_endpoint(request: Request) -> Response:
    if (denied := _control_denied(request)) is not None:
        return denied
    _emulator(request).reset()
    return json_response({"reset": True})


async def settings_endpoint(request: Request) -> Response:
    if (denied := _control_denied(request)) is not None:
        return denied
    emu = _emulator(request)
    if request.method == "PATCH":
        try:
            changes = await json_body(request)
        except ApiError as exc:
            return error_response(exc, False)
        try:
            if not isinstance(changes, dict):
                raise ValueError("expected a JSON object")
            emu.update_settings(changes)
        except ValueError as exc:
            return error_response(ApiError(400, "BadArgument", str(exc)), False)
    return json_response(emu.settings.public())


ALL_METHODS = ["GET", "PUT", "POST", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def create_app(
    settings: EmulatorSettings | None = None, *, clock: Clock | None = None, recognition: str | None = None
) -> Starlette:
    """A Starlette app serving the Face API; `app.state.emulator` is the Emulator.

    `clock` (default `time.time`) is the emulator's only source of time. `recognition` picks the
    engine (auto | real | deterministic; default $FACESYNC_RECOGNITION, else deterministic).
    """
    emulator = Emulator(settings or EmulatorSettings(), clock, recognition)
    app = Starlette(
        routes=[
            StarletteRoute("/_emulator/stats", stats_endpoint, methods=["GET"]),
            StarletteRoute("/_emulator/reset", reset_endpoint, methods=["POST"]),
            StarletteRoute("/_emulator/settings", settings_endpoint, methods=["GET", "PATCH"]),
            StarletteRoute("/{path:path}", api, methods=ALL_METHODS),
        ]
    )
    app.state.emulator = emulator
    return app
