"""Shared helpers of the emulator conformance suite.

* `ImageServer`: serves generated images on 127.0.0.1 so that add-face-from-URL calls have a real URL.
* `shape_mismatches`: compares a JSON response with a reference one by keys and value types.
* spec loading (`load_spec`, `resolve_schema`) for the official OpenAPI files.
"""

from __future__ import annotations

import functools
import itertools
import json
import threading
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock
from tests.imagegen import face_image

SPECS = Path("/work/shared/specs")
RECORDINGS = SPECS / "recordings"
REST_SPECS = SPECS / "azure-rest-api-specs" / "specification"
V10_SPEC = REST_SPECS / "cognitiveservices/data-plane/Face/stable/v1.0/Face.json"
V10_PREVIEW_SPEC = REST_SPECS / "cognitiveservices/data-plane/Face/preview/v1.0-preview/Face.json"
V12_SPEC = REST_SPECS / "ai/data-plane/Face/stable/v1.2/Face.json"
# SOURCES.md: the v1.2 examples the stable spec references are spread over these three folders.
V12_EXAMPLE_DIRS = (
    REST_SPECS / "ai/data-plane/Face/stable/v1.2/examples",
    REST_SPECS / "ai/Face/examples/v1.2",
    REST_SPECS / "ai/data-plane/Face/examples/v1.2",
)

KEY_HEADERS = {"Ocp-Apim-Subscription-Key": "conformance-key"}

# Collection kinds: path segment -> (path id parameter, response id field).
KINDS = {
    "persongroups": "personGroupId",
    "largepersongroups": "largePersonGroupId",
    "facelists": "faceListId",
    "largefacelists": "largeFaceListId",
}
GROUP_KINDS = ("persongroups", "largepersongroups")
TRAINABLE_KINDS = ("persongroups", "largepersongroups", "largefacelists")

_seeds = itertools.count(1000)

# Emulated seconds between two polls of a training status; with `train_seconds=1.0` a run is
# seen notstarted, then running, then done.
POLL_STEP = 0.25
MAX_POLLS = 100


def make_client(clock: FakeClock | None = None, **settings: Any) -> Any:
    """A TestClient on a fresh emulator (train_seconds 1.0 unless given) driven by `clock`."""
    with warnings.catch_warnings():
        # starlette >= 1.x deprecates httpx-based TestClient in favour of httpx2, not installed here.
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    settings.setdefault("train_seconds", 1.0)
    return TestClient(create_app(EmulatorSettings(**settings), clock=clock or FakeClock()))


def poll_until_trained(get_status: Any, clock: FakeClock) -> list[dict[str, Any]]:
    """Call `get_status()` (a training-status body) until it is done, advancing `clock` by
    POLL_STEP between calls; returns every body seen."""
    bodies: list[dict[str, Any]] = []
    for _ in range(MAX_POLLS):
        body = get_status()
        bodies.append(body)
        if body.get("status", "").lower() in ("succeeded", "failed"):
            return bodies
        clock.advance(POLL_STEP)
    raise AssertionError(f"training not finished after {MAX_POLLS} polls: {bodies[-1]}")


def next_seed() -> int:
    return next(_seeds)


def single_face_png(seed: int | None = None) -> bytes:
    """A small PNG holding exactly one face (centred-face content rule)."""
    return face_image(seed=next_seed() if seed is None else seed, size=(128, 128), fmt="PNG")


def target_face_png(rect: tuple[int, int, int, int], seed: int | None = None) -> bytes:
    """A PNG with exactly one face annotated at `rect`, large enough to hold it."""
    left, top, width, height = rect
    side = max(128, left + width + 16, top + height + 16)
    return face_image(
        seed=next_seed() if seed is None else seed, size=(side, side), fmt="PNG", faces=[rect]
    )


# --------------------------------------------------------------------------------------------
# Image server


class ImageServer:
    """Threaded HTTP server on 127.0.0.1:<free port>; `add(bytes)` returns a URL serving them."""

    def __init__(self) -> None:
        self._images: dict[str, tuple[bytes, str]] = {}
        self._lock = threading.Lock()
        images, lock = self._images, self._lock

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    item = images.get(self.path)
                if item is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data, ctype = item
                self.send_response(200)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        # shutdown() waits for the next poll: 0.05 s instead of the default 0.5 s.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def add(self, data: bytes, ctype: str = "image/png") -> str:
        ext = {"image/png": "png", "image/jpeg": "jpg", "image/gif": "gif"}.get(ctype, "bin")
        with self._lock:
            path = f"/img/{len(self._images)}.{ext}"
            self._images[path] = (data, ctype)
        return self.base_url + path


# --------------------------------------------------------------------------------------------
# Spec loading


@functools.cache
def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def load_spec(path: Path) -> dict[str, Any]:
    return load_json(path)


def resolve_ref(spec_path: Path, ref: str) -> tuple[Path, Any]:
    """Resolve a JSON reference (`#/a/b` or `../file.json#/a/b`) relative to `spec_path`."""
    file_part, _, pointer = ref.partition("#")
    target = (spec_path.parent / file_part).resolve() if file_part else spec_path
    node: Any = load_json(target)
    for part in pointer.strip("/").split("/"):
        if part:
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return target, node


def resolve_param(spec_path: Path, param: dict[str, Any]) -> dict[str, Any]:
    if "$ref" in param:
        return resolve_ref(spec_path, param["$ref"])[1]
    return param


def resolve_schema(spec_path: Path, schema: dict[str, Any] | None) -> dict[str, Any]:
    """A flattened schema: {"type", "properties": {name: schema}, "items": schema}.

    `$ref` and `allOf` are merged; nested schemas stay unresolved (resolved on demand).
    """
    if not schema:
        return {}
    if "$ref" in schema:
        spec_path, target = resolve_ref(spec_path, schema["$ref"])
        merged = resolve_schema(spec_path, target)
        extra = {k: v for k, v in schema.items() if k != "$ref"}
        return {**merged, **extra, "properties": merged.get("properties", {})}
    props: dict[str, Any] = {}
    for sub in schema.get("allOf", []):
        props.update(resolve_schema(spec_path, sub).get("properties", {}))
    for key, value in schema.get("properties", {}).items():
        props[key] = (spec_path, value)
    out = dict(schema)
    out["properties"] = props
    if "items" in schema and not isinstance(schema["items"], tuple):
        out["items"] = (spec_path, schema["items"])
    return out


def schema_child(node: Any) -> dict[str, Any]:
    """Resolve a child schema stored as (spec_path, schema) by `resolve_schema`."""
    if isinstance(node, tuple):
        return resolve_schema(*node)
    return node or {}


# --------------------------------------------------------------------------------------------
# Shape comparison


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def shape_mismatches(
    expected: Any,
    actual: Any,
    path: str = "$",
    schema: dict[str, Any] | None = None,
    allowed_extra: frozenset[str] = frozenset(),
) -> list[str]:
    """Differences in JSON keys and value types between a reference body and an actual one.

    * A key whose reference value is null is optional (the live service stopped emitting nulls
      after 2019; see recordings/README.md); any other reference key must be present.
    * A key the reference lacks is only accepted when the response schema (if given) declares it,
      or it is in `allowed_extra`.
    * Arrays: every actual item must have the shape of the reference's first item; a non-empty
      reference array needs a non-empty actual one.
    * Values are compared by JSON type only (ids, names and dates may differ).
    """
    out: list[str] = []
    et, at = json_type(expected), json_type(actual)
    if et == "null":
        return out
    if et != at:
        return [f"{path}: expected {et}, got {at} ({actual!r:.80})"]
    if et == "object":
        declared = set((schema or {}).get("properties", {}))
        for key, value in expected.items():
            if value is None:
                continue
            if key not in actual:
                out.append(f"{path}: missing key {key!r}")
        for key, value in actual.items():
            if key in expected:
                sub = schema_child((schema or {}).get("properties", {}).get(key))
                out += shape_mismatches(expected[key], value, f"{path}.{key}", sub, allowed_extra)
            elif key not in declared and key not in allowed_extra:
                out.append(f"{path}: unexpected key {key!r} (= {value!r:.60})")
    elif et == "array":
        if expected and not actual:
            out.append(f"{path}: expected a non-empty array, got []")
        if expected:
            sub = schema_child((schema or {}).get("items"))
            for i, item in enumerate(actual):
                out += shape_mismatches(expected[0], item, f"{path}[{i}]", sub, allowed_extra)
    return out


def key_set_mismatches(recorded: Any, actual: Any, path: str = "$") -> list[str]:
    """Recorded-traffic comparison: same key sets (null-valued recorded keys optional), same types."""
    return shape_mismatches(recorded, actual, path, schema=None)
