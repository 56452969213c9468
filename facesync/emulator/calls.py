"""What every HTTP handler of the emulator gets and gives.

A handler is `async (services, call) -> Response`: `call` is the routed request (version, path
parameters, query), `services` the emulator's state (settings, clock, store, recognition,
directory). Handlers live in `facesync.emulator.handlers` (collections, recognition, directory)
and import only this layer and the state's own modules; the app imports the handler modules and
registers their routes, never the other way round.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response

from facesync.emulator import detection
from facesync.emulator.bodies import JSON_BODY_MAX, loads_bounded, read_capped
from facesync.emulator.directory.store import Directory
from facesync.emulator.errors import ApiError, bad_argument
from facesync.emulator.fetch import URL_TIMEOUT, fetch_image
from facesync.emulator.recognition import Recognition
from facesync.emulator.settings import EmulatorSettings
from facesync.emulator.store import Store

# version -> "new style" (camelCase notStarted, x-ms-error-code header)
VERSIONS: dict[str, bool] = {
    "v1.0": False,
    "v1.0-preview": False,
    "v1.1-preview.1": True,
    "v1.2-preview.1": True,
    "v1.2": True,
}
RECOGNITION_MODELS = ("recognition_01", "recognition_02", "recognition_03", "recognition_04")
DETECTION_MODELS = ("detection_01", "detection_02", "detection_03")
ID_RE = re.compile(r"^[a-z0-9\-_]{1,64}$")
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
NAME_MAX = 128
USER_DATA_MAX = 16384
FACE_USER_DATA_MAX = 1024
TOP_MAX = 1000
START_MAX = 64
JSON_TYPE = "application/json; charset=utf-8"
WRONG_CONTENT_TYPE = (
    "Invalid Content-Type: use application/json with an image URL or "
    "application/octet-stream with the image bytes."
)

Clock = Callable[[], float]


@dataclass
class Call:
    """A routed request: the API version and the path parameters its route names."""

    request: Request
    version: str
    kind: str
    cid: str
    pid: str = ""
    fid: str = ""
    model: str = ""  # the recognition model segment of a PersonDirectory face path

    @property
    def new_style(self) -> bool:
        return VERSIONS[self.version]

    @property
    def base_url(self) -> str:
        """The absolute URL of this call's version prefix, e.g. http://host:port/face/v1.2."""
        url = self.request.url
        return f"{url.scheme}://{url.netloc}/face/{self.version}"

    def query(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.request.query_params.multi_items():
            if key.lower() == name:
                return value
        return None


class Services(Protocol):
    """The emulator's state as handlers see it (the Emulator in app.py provides it)."""

    settings: EmulatorSettings
    clock: Clock
    store: Store
    recognition: Recognition
    directory: Directory


Handler = Callable[[Services, Call], Awaitable[Response]]
# (v1.0 operationId, handler, path parameters for Call)
Route = tuple[str, Handler, dict[str, str]]


# ---- responses ---------------------------------------------------------------------------


def _headers(extra: dict[str, str] | None = None) -> dict[str, str]:
    headers = {"apim-request-id": str(uuid.uuid4())}
    if extra:
        headers.update(extra)
    return headers


def json_response(payload: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    extra = {"Content-Type": JSON_TYPE, **(headers or {})}
    return Response(body, status_code=status, headers=_headers(extra))


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


# ---- request bodies and parameters -------------------------------------------------------


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def json_body(request: Request) -> Any:
    """The parsed JSON body; 400 when it is over JSON_BODY_MAX, too deep or malformed."""
    raw = await read_capped(request.stream(), JSON_BODY_MAX)
    if len(raw) > JSON_BODY_MAX:
        raise bad_argument("Request body is too large.")
    try:
        return loads_bounded(raw)
    except ValueError:
        raise bad_argument("JSON parsing error.") from None


async def json_object(request: Request) -> dict[str, Any]:
    data = await json_body(request)
    if not isinstance(data, dict):
        raise bad_argument("Request body is invalid.")
    return data


def name_field(value: Any, required: bool) -> str | None:
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


def user_data_field(value: Any, limit: int = USER_DATA_MAX) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_argument("Request body is invalid.")
    if len(value) > limit:
        raise bad_argument("'userData' is too long.")
    return value


def name_and_user_data(body: dict[str, Any], others: bool = False) -> dict[str, str | None]:
    """The name/userData columns a PATCH body sets; 400 when it has neither (and, with `others`
    false, nothing else to do)."""
    name = name_field(body.get("name"), required=False)
    user_data = user_data_field(body.get("userData"))
    if name is None and user_data is None and not others:
        raise bad_argument("Both 'name' and 'userData' are empty.")
    fields: dict[str, str | None] = {}
    if name is not None:
        fields["name"] = name
    if user_data is not None:
        fields["user_data"] = user_data
    return fields


def return_model(call: Call) -> bool:
    value = call.query("returnRecognitionModel")
    if value is None or value.lower() == "false":
        return False
    if value.lower() == "true":
        return True
    raise bad_argument("'returnRecognitionModel' is invalid.")


def paging(call: Call) -> tuple[str, int]:
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


def add_face_options(call: Call) -> tuple[str | None, detection.Rect | None]:
    """(face userData, targetFace) of an add-face call; 400 on a bad query parameter."""
    user_data = call.query("userData")
    if user_data is not None and len(user_data) > FACE_USER_DATA_MAX:
        raise bad_argument("'userData' is too long.")
    model = call.query("detectionModel")
    if model is not None and model not in DETECTION_MODELS:
        raise bad_argument("'detectionModel' is invalid.")
    return user_data, detection.parse_target_face(call.query("targetFace"))


async def read_image(call: Call, url_timeout: float = URL_TIMEOUT) -> bytes:
    """The image of an add-face or detect call: JSON `{"url"}` (downloaded within `url_timeout`
    seconds, the whole download) or octet-stream bytes."""
    media = media_type(call.request)
    if media == "application/json":
        body = await json_object(call.request)
        return await fetch_image(body.get("url"), url_timeout)
    if media == "application/octet-stream":
        return await read_capped(call.request.stream(), detection.MAX_BYTES)
    raise bad_argument(WRONG_CONTENT_TYPE)
