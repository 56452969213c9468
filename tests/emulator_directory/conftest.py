"""Fixtures of the PersonDirectory tests: the emulator on a fake clock, reached in-process
(`asgi`) and over a local port (`http`), through one small client of the directory's REST API."""

from __future__ import annotations

import http.server
import threading
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

import httpx
import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock, serve
from tests.imagegen import face_image

PREVIEWS = ("v1.0-preview", "v1.1-preview.1", "v1.2-preview.1")
OCTET = {"Content-Type": "application/octet-stream"}
START = 1_800_000_000.0
# A whole second per operation makes the schedule readable: notStarted for 0.1 s, done at 1 s.
OPERATION_SECONDS = 1.0


def settings() -> EmulatorSettings:
    return EmulatorSettings(train_seconds=1.0, operation_seconds=OPERATION_SECONDS)


class Directory:
    """A thin client of the PersonDirectory REST API; methods return httpx responses unless
    their name says what they return."""

    def __init__(self, http: Any, clock: FakeClock, version: str = "v1.2-preview.1") -> None:
        self.http = http
        self.clock = clock
        self.version = version

    @property
    def prefix(self) -> str:
        return f"/face/{self.version}"

    def at(self, version: str) -> Directory:
        """The same emulator spoken to through another API version."""
        return Directory(self.http, self.clock, version)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.request(method, self.prefix + path, **kwargs)
        return response

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    # -- operations ---------------------------------------------------------------------------

    def operation(self, response: httpx.Response) -> dict[str, Any]:
        """The status body of the operation a 202 answer points to."""
        location = response.headers["operation-location"]
        r = self.http.get(location)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body

    def finish(self, response: httpx.Response) -> dict[str, Any]:
        """Move the clock past the operation of a 202 answer and return its final status."""
        assert response.status_code == 202, response.text
        self.clock.advance(OPERATION_SECONDS)
        body = self.operation(response)
        assert body["status"] in ("succeeded", "failed"), body
        return body

    # -- persons and faces ----------------------------------------------------------------------

    def create_person(self, name: str = "P", **fields: Any) -> httpx.Response:
        return self.post("/persons", json={"name": name, **fields})

    def person(self, name: str = "P", *images: bytes, model: str = "recognition_04") -> str:
        """A new directory person with `images` enrolled for `model`, every operation done."""
        r = self.create_person(name)
        assert r.status_code == 202, r.text
        pid: str = r.json()["personId"]
        for image in images:
            self.add_face(pid, image, model=model)
        self.clock.advance(OPERATION_SECONDS)
        return pid

    def faces_path(self, pid: str, model: str = "recognition_04") -> str:
        return f"/persons/{pid}/recognitionModels/{model}/persistedfaces"

    def add_face_response(
        self, pid: str, image: bytes, model: str = "recognition_04", **params: Any
    ) -> httpx.Response:
        return self.post(self.faces_path(pid, model), content=image, headers=OCTET, params=params)

    def add_face(self, pid: str, image: bytes, model: str = "recognition_04", **params: Any) -> str:
        r = self.add_face_response(pid, image, model, **params)
        assert r.status_code == 202, r.text
        fid: str = r.json()["persistedFaceId"]
        return fid

    def face_ids(self, pid: str, model: str = "recognition_04") -> list[str]:
        r = self.get(self.faces_path(pid, model))
        assert r.status_code == 200, r.text
        ids: list[str] = r.json()["persistedFaceIds"]
        return ids

    # -- groups ---------------------------------------------------------------------------------

    def group(self, gid: str, *members: str, name: str = "G") -> None:
        """A new dynamic person group with `members`, its operation done."""
        body: dict[str, Any] = {"name": name}
        if members:
            body["addPersonIds"] = list(members)
        r = self.put(f"/dynamicpersongroups/{gid}", json=body)
        assert r.status_code == (202 if members else 200), r.text
        if members:
            assert self.finish(r)["status"] == "succeeded"

    def members(self, gid: str) -> list[str]:
        r = self.get(f"/dynamicpersongroups/{gid}/persons")
        assert r.status_code == 200, r.text
        ids: list[str] = r.json()["personIds"]
        return ids

    # -- recognition ----------------------------------------------------------------------------

    def face_id(self, image: bytes, model: str = "recognition_04") -> str:
        r = self.post("/detect", content=image, headers=OCTET, params={"recognitionModel": model})
        assert r.status_code == 200, r.text
        (face,) = r.json()
        fid: str = face["faceId"]
        return fid

    def identify(self, face_id: str, **scope: Any) -> httpx.Response:
        return self.post("/identify", json={"faceIds": [face_id], **scope})

    def candidates(self, face_id: str, **scope: Any) -> list[str]:
        r = self.identify(face_id, **scope)
        assert r.status_code == 200, r.text
        return [c["personId"] for c in r.json()[0]["candidates"]]

    def settings(self, **changes: Any) -> None:
        r = self.http.patch("/_emulator/settings", json=changes)
        assert r.status_code == 200, r.text

    def stats(self) -> dict[str, Any]:
        body: dict[str, Any] = self.http.get("/_emulator/stats").json()
        return body


def error(r: httpx.Response, status: int, code: str, message: str | None = None) -> dict[str, Any]:
    """Assert an error answer in the service's envelope; returns the body."""
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    if message is not None:
        assert body["error"]["message"] == message, body
    return body


def image(seed: int, identity: str | None = None, **kwargs: Any) -> bytes:
    return face_image(seed, identity=identity, **kwargs)


@pytest.fixture(scope="session")
def http_clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="session")
def http_base(http_clock: FakeClock) -> Iterator[str]:
    """One emulator on a local port for the whole session; each test resets it."""
    app = create_app(settings(), clock=http_clock, recognition="deterministic")
    with serve(app) as base:
        yield base
    app.state.emulator.close()


@pytest.fixture(params=["asgi", "http"])
def directory(request: pytest.FixtureRequest) -> Iterator[Directory]:
    """The directory API of a clean emulator on a fake clock: in-process or over a local port."""
    if request.param == "asgi":
        clock = FakeClock(START)
        app = create_app(settings(), clock=clock, recognition="deterministic")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
        with TestClient(app) as client:
            yield Directory(client, clock)
        app.state.emulator.close()
        return
    clock = request.getfixturevalue("http_clock")
    base = request.getfixturevalue("http_base")
    with httpx.Client(base_url=base, timeout=30) as client:
        assert client.post("/_emulator/reset").status_code == 200
        clock.set(START)
        knobs = client.get("/_emulator/settings").json()
        knobs.pop("key")
        yield Directory(client, clock)
        # Settings survive a reset: put back whatever a test changed.
        assert client.patch("/_emulator/settings", json=knobs).status_code == 200


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="session")
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(base URL, path -> bytes) of a file server on 127.0.0.1, for add-face from a URL."""
    files: dict[str, bytes] = {}
    handler = type("Files", (_Files,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
