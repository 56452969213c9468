"""The Starlette app: routing, validation and the request pipeline.

Pipeline for every API request: count it, then auth -> rate limit -> latency -> fault ->
operation -> lost response.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from facesync.emulator import detection, errors
from facesync.emulator.auth import authorize
from facesync.emulator.bodies import JSON_BODY_MAX, loads_bounded, read_capped
from facesync.emulator.errors import KINDS, ApiError, bad_argument
from facesync.emulator.faults import LOST_RESPONSE, FaultRng, TokenBucket
from facesync.emulator.fetch import URL_TIMEOUT, fetch_image
from facesync.emulator.recognition import Recognition
from facesync.emulator.settings import EmulatorSettings
from facesync.emulator.store import TRAINABLE, Store

log = logging.getLogger("facesync.emulator")

# version -> "new style" (camelCase notStarted, x-ms-error-code header)
VERSIONS: dict[str, bool] = {
    "v1.0": False,
    "v1.0-preview": False,
    "v1.1-preview.1": True,
    "v1.2-preview.1": True,
    "v1.2": True,
}
SEGMENTS = {"persongroups": "pg", "largepersongroups": "lpg", "facelists": "fl", "largefacelists": "lfl"}
SEGMENT_OF = {v: k for k, v in SEGMENTS.items()}
OP_PREFIX = {"pg": "PersonGroup", "lpg": "LargePersonGroup", "fl": "FaceList", "lfl": "LargeFaceList"}
GROUPS = ("pg", "lpg")
RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03", "recognition_04")
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")
ID_RE = re.compile(r"^[a-z0-9\-_]{1,64}$")
NAME_MAX = 128
USER_DATA_MAX = 16384
FACE_USER_DATA_MAX = 1024
TOP_MAX = 1000
START_MAX = 64
JSON_TYPE = "application/json; charset=utf-8"


@dataclass
class Call:
    request: Request
    version: str
    kind: str
    cid: str
    pid: str = ""
    fid: str = ""

    @property
    def new_style(self) -> bool:
        return VERSIONS[self.version]

    def query(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.request.query_params.multi_items():
            if key.lower() == name:
                return value
        return None


Handler = Callable[["Emulator", Call], Awaitable[Response]]
Clock = Callable[[], float]


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
            if operation.endswith("_AddFace"):
                suffix = "FromUrl" if _media_type(request) == "application/json" else "FromStream"
                operation += suffix
            elif operation == "Face_Detect":
                operation += "WithUrl" if _media_type(request) == "application/json" else "WithStream"
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
        route: tuple[str, Handler, dict[str, str]] | None,
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


# ---- responses ---------------------------------------------------------------------------


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"apim-request-id": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    return headers


def json_response(payload: Any, status: int = 200) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(body, status_code=status, headers=_headers({"Content-Type": JSON_TYPE}))


def empty_response(status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(b"", status_code=status, headers=_headers(headers))


def error_response(exc: ApiError, new_style: bool) -> Response:
    if exc.raw_body is not None:
        body, content_type = exc.raw_body, "application/json"
    elif exc.status == 429:
        # Byte-for-byte like the recording (note the space after "message":).
        body = ('{"error":{"code":"429","message": ' + json.dumps(exc.message) + "}}").encode()
        content_type = "application/json"
    else:
        body = json.dumps(
            {"error": {"code": exc.code, "message": exc.message}},
            separators=(",", ":"),
            ensure_ascii=False,
        ).encode()
        content_type = JSON_TYPE
    headers = {"Content-Type": content_type, **exc.headers}
    if new_style:
        headers["x-ms-error-code"] = exc.code
    return Response(body, status_code=exc.status, headers=_headers(headers))


# ---- routing -----------------------------------------------------------------------------


def _raw_path(request: Request) -> str:
    """The path as sent, still percent-encoded, so that `%2F` inside an id is not a separator.

    Servers that give no `raw_path` leave only the decoded path to route on.
    """
    raw = request.scope.get("raw_path")
    if not isinstance(raw, bytes):
        return str(request.scope["path"])
    return raw.split(b"?", 1)[0].decode("utf-8", "replace")


def _resolve(path: str, method: str) -> tuple[str | None, tuple[str, Handler, dict[str, str]] | None]:
    """(version, (operationId, handler, params)) for a raw (percent-encoded) Face path; None parts
    when unknown. Split first, then decode each segment."""
    parts = [unquote(p) for p in path.split("/") if p]
    if len(parts) < 3 or parts[0].lower() != "face":
        return None, None
    version = parts[1].lower()
    if version not in VERSIONS:
        return None, None
    rest = parts[2:]
    kind = SEGMENTS.get(rest[0].lower())
    if kind is None:
        if len(rest) == 1 and method == "POST":
            # Imported here: the handlers import this module.
            from facesync.emulator.recognition.handlers import ROUTES

            found = ROUTES.get(rest[0].lower())
            if found is not None:
                return version, (found[0], found[1], {"kind": "", "cid": ""})
        return version, None
    pre = OP_PREFIX[kind]
    n = len(rest)
    segs = [p.lower() for p in rest]
    op: str | None = None
    handler: Handler | None = None
    params: dict[str, str] = {"kind": kind, "cid": rest[1] if n > 1 else ""}
    if n == 1:
        if method == "GET":
            op, handler = f"{pre}_List", h_list_collections
    elif n == 2:
        op, handler = {
            "PUT": (f"{pre}_Create", h_create_collection),
            "GET": (f"{pre}_Get", h_get_collection),
            "PATCH": (f"{pre}_Update", h_update_collection),
            "DELETE": (f"{pre}_Delete", h_delete_collection),
        }.get(method, (None, None))
    elif n == 3:
        seg = segs[2]
        if seg == "train" and kind in TRAINABLE and method == "POST":
            op, handler = f"{pre}_Train", h_train
        elif seg == "training" and kind in TRAINABLE and method == "GET":
            op, handler = f"{pre}_GetTrainingStatus", h_training
        elif seg == "persons" and kind in GROUPS:
            op, handler = {
                "POST": (f"{pre}Person_Create", h_create_person),
                "GET": (f"{pre}Person_List", h_list_persons),
            }.get(method, (None, None))
        elif seg == "persistedfaces" and kind not in GROUPS:
            if method == "POST":
                op, handler = f"{pre}_AddFace", h_add_face
            elif method == "GET" and kind == "lfl":
                op, handler = f"{pre}_ListFaces", h_list_faces
    elif n == 4:
        seg = segs[2]
        if seg == "persons" and kind in GROUPS:
            params["pid"] = segs[3]
            op, handler = {
                "GET": (f"{pre}Person_Get", h_get_person),
                "PATCH": (f"{pre}Person_Update", h_update_person),
                "DELETE": (f"{pre}Person_Delete", h_delete_person),
            }.get(method, (None, None))
        elif seg == "persistedfaces" and kind not in GROUPS:
            params["fid"] = segs[3]
            if method == "DELETE":
                op, handler = f"{pre}_DeleteFace", h_delete_face
            elif kind == "lfl":
                op, handler = {
                    "GET": (f"{pre}_GetFace", h_get_face),
                    "PATCH": (f"{pre}_UpdateFace", h_update_face),
                }.get(method, (None, None))
    elif n in (5, 6) and kind in GROUPS and segs[2] == "persons" and segs[4] == "persistedfaces":
        params["pid"] = segs[3]
        if n == 5 and method == "POST":
            op, handler = f"{pre}Person_AddFace", h_add_face
        elif n == 6:
            params["fid"] = segs[5]
            op, handler = {
                "GET": (f"{pre}Person_GetFace", h_get_face),
                "PATCH": (f"{pre}Person_UpdateFace", h_update_face),
                "DELETE": (f"{pre}Person_DeleteFace", h_delete_face),
            }.get(method, (None, None))
    if op is None or handler is None:
        return version, None
    return version, (op, handler, params)


# ---- validation helpers ------------------------------------------------------------------


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_body(request: Request) -> Any:
    """The parsed JSON body; 400 when it is over JSON_BODY_MAX, too deep or malformed."""
    raw = await read_capped(request.stream(), JSON_BODY_MAX)
    if len(raw) > JSON_BODY_MAX:
        raise bad_argument("Request body is too large.")
    try:
        return loads_bounded(raw)
    except ValueError:
        raise bad_argument("JSON parsing error.") from None


async def _json_object(request: Request) -> dict[str, Any]:
    data = await _json_body(request)
    if not isinstance(data, dict):
        raise bad_argument("Request body is invalid.")
    return data


def _name(value: Any, required: bool) -> str | None:
    if value is None:
        if required:
            raise bad_argument("'name' is empty.")
        return None
    if not isinstance(value, str):
        raise bad_argument("Request body is invalid.")
    if not value.strip():
        raise bad_argument("'name' is empty.")
    if len(value) > NAME_MAX:
        raise bad_argument("'name' is too long.")
    return value


def _user_data(value: Any, limit: int = USER_DATA_MAX) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_argument("Request body is invalid.")
    if len(value) > limit:
        raise bad_argument("'userData' is too long.")
    return value


def _check_id(call: Call) -> None:
    """Malformed collection ids answer 404 *NotFound outside create."""
    if not ID_RE.match(call.cid):
        raise errors.invalid_id(call.kind)


def _return_model(call: Call) -> bool:
    value = call.query("returnRecognitionModel")
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise bad_argument("'returnRecognitionModel' is invalid.")


def _paging(call: Call) -> tuple[str, int]:
    start = call.query("start") or ""
    if len(start) > START_MAX:
        raise bad_argument("'start' is too long.")
    raw = call.query("top")
    if raw is None:
        return start, TOP_MAX
    try:
        top = int(raw)
    except ValueError:
        raise bad_argument("'top' is invalid.") from None
    if not 1 <= top <= TOP_MAX:
        raise bad_argument("'top' is invalid.")
    return start, top


async def _fetch(url: Any, timeout: float = URL_TIMEOUT) -> bytes:
    return await fetch_image(url, timeout)


# ---- handlers ----------------------------------------------------------------------------


async def h_create_collection(emu: Emulator, call: Call) -> Response:
    if not ID_RE.match(call.cid):
        label = KINDS[call.kind][1]
        raise bad_argument(
            f"{label} ID is invalid. Valid format should be a string composed by numbers, "
            "English letters in lower case, '-', '_', and no longer than 64 characters."
        )
    body = await _json_object(call.request)
    name = _name(body.get("name"), required=True)
    user_data = _user_data(body.get("userData"))
    model = body.get("recognitionModel")
    if model is None:
        model = "recognition_01"
    if model not in RECOGNITION_MODELS:
        raise bad_argument("'recognitionModel' is invalid.")
    assert name is not None
    emu.store.create_collection(call.kind, call.cid, name, user_data, model)
    return empty_response()


async def h_get_collection(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    with_model = _return_model(call)
    return json_response(emu.store.get_collection(call.kind, call.cid, with_model))


async def h_list_collections(emu: Emulator, call: Call) -> Response:
    with_model = _return_model(call)
    if call.kind == "fl":  # GET /facelists does not page
        return json_response(emu.store.list_collections("fl", "", None, with_model))
    start, top = _paging(call)
    return json_response(emu.store.list_collections(call.kind, start, top, with_model))


async def _update_fields(call: Call) -> dict[str, str | None]:
    body = await _json_object(call.request)
    name = _name(body.get("name"), required=False)
    user_data = _user_data(body.get("userData"))
    if name is None and user_data is None:
        raise bad_argument("Both 'name' and 'userData' are empty.")
    fields: dict[str, str | None] = {}
    if name is not None:
        fields["name"] = name
    if user_data is not None:
        fields["user_data"] = user_data
    return fields


async def h_update_collection(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    fields = await _update_fields(call)
    emu.store.update_collection(call.kind, call.cid, fields)
    return empty_response()


async def h_delete_collection(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_collection(call.kind, call.cid, emu.clock())
    return empty_response()


async def h_train(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    emu.recognition.train(call.kind, call.cid, emu.settings.train_seconds)
    url = call.request.url
    location = f"{url.scheme}://{url.netloc}/face/{call.version}/{SEGMENT_OF[call.kind]}/{call.cid}/training"
    return empty_response(
        202,
        {"Operation-Location": location, "Access-Control-Expose-Headers": "Operation-Location"},
    )


async def h_training(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.training_status(call.kind, call.cid, emu.clock(), call.new_style))


async def h_create_person(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    body = await _json_object(call.request)
    name = _name(body.get("name"), required=True)
    user_data = _user_data(body.get("userData"))
    assert name is not None
    pid = emu.store.create_person(call.kind, call.cid, name, user_data)
    return json_response({"personId": pid})


async def h_list_persons(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    start, top = _paging(call)
    return json_response(emu.store.list_persons(call.kind, call.cid, start, top))


async def h_get_person(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.get_person(call.kind, call.cid, call.pid))


async def h_update_person(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    fields = await _update_fields(call)
    emu.store.update_person(call.kind, call.cid, call.pid, fields)
    return empty_response()


async def h_delete_person(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_person(call.kind, call.cid, call.pid)
    return empty_response()


async def h_add_face(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    user_data = call.query("userData")
    if user_data is not None and len(user_data) > FACE_USER_DATA_MAX:
        raise bad_argument("'userData' is too long.")
    model = call.query("detectionModel")
    if model is not None and model not in DETECTION_MODELS:
        raise bad_argument("'detectionModel' is invalid.")
    target = detection.parse_target_face(call.query("targetFace"))
    emu.store.check_face_target(call.kind, call.cid, call.pid)
    media = _media_type(call.request)
    if media == "application/json":
        body = await _json_object(call.request)
        data = await _fetch(body.get("url"), emu.settings.url_timeout_seconds)
    elif media == "application/octet-stream":
        data = await read_capped(call.request.stream(), detection.MAX_BYTES)
    else:
        raise bad_argument(
            "Invalid Content-Type: use application/json with an image URL or "
            "application/octet-stream with the image bytes."
        )
    face = await emu.recognition.face_for_add(data, target)
    fid = emu.store.add_face(call.kind, call.cid, call.pid, user_data, face.rect)
    emu.recognition.remember_face(call.kind, call.cid, call.pid, fid, face)
    return json_response({"persistedFaceId": fid})


async def h_get_face(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.get_face(call.kind, call.cid, call.pid, call.fid))


async def h_list_faces(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    start, top = _paging(call)
    return json_response(emu.store.list_faces(call.kind, call.cid, start, top))


async def h_update_face(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    body = await _json_object(call.request)
    user_data = _user_data(body.get("userData"), FACE_USER_DATA_MAX)
    emu.store.update_face(call.kind, call.cid, call.pid, call.fid, user_data)
    return empty_response()


async def h_delete_face(emu: Emulator, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_face(call.kind, call.cid, call.pid, call.fid)
    return empty_response()


# ---- the app -----------------------------------------------------------------------------


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator


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
            changes = await _json_body(request)
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
            Route("/_emulator/stats", stats_endpoint, methods=["GET"]),
            Route("/_emulator/reset", reset_endpoint, methods=["POST"]),
            Route("/_emulator/settings", settings_endpoint, methods=["GET", "PATCH"]),
            Route("/{path:path}", api, methods=ALL_METHODS),
        ]
    )
    app.state.emulator = emulator
    return app
