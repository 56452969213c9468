"""Fixtures for the recognition tests: emulators on real local ports, a fake clock, a Face client."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.recognition.engines import real_available
from facesync.emulator.testing import FakeClock, serve

DATA = Path(__file__).parents[1] / "data" / "faces"
OCTET = {"Content-Type": "application/octet-stream"}
START = 1_700_000_000.0


class Face:
    """A thin client of the Face REST API over real HTTP; returns httpx responses."""

    def __init__(self, http: httpx.Client, clock: FakeClock, prefix: str = "/face/v1.2") -> None:
        self.http = http
        self.clock = clock
        self.prefix = prefix

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.post(self.prefix + path, **kwargs)

    def detect(self, image: bytes, **params: Any) -> httpx.Response:
        query = {k: str(v).lower() if isinstance(v, bool) else v for k, v in params.items()}
        return self.post("/detect", content=image, headers=OCTET, params=query)

    def face_ids(self, image: bytes, model: str = "recognition_04", **params: Any) -> list[str]:
        r = self.detect(image, recognitionModel=model, **params)
        assert r.status_code == 200, r.text
        return [f["faceId"] for f in r.json()]

    def face_id(self, image: bytes, model: str = "recognition_04", **params: Any) -> str:
        (fid,) = self.face_ids(image, model, **params)
        return fid

    def collection(self, segment: str, cid: str, model: str = "recognition_04") -> None:
        r = self.http.put(f"{self.prefix}/{segment}/{cid}", json={"name": cid, "recognitionModel": model})
        assert r.status_code == 200, r.text

    def person(self, segment: str, gid: str, name: str, *images: bytes) -> str:
        r = self.post(f"/{segment}/{gid}/persons", json={"name": name})
        assert r.status_code == 200, r.text
        pid: str = r.json()["personId"]
        for image in images:
            self.add_face(f"/{segment}/{gid}/persons/{pid}", image)
        return pid

    def add_face(self, owner: str, image: bytes, **params: Any) -> str:
        r = self.post(f"{owner}/persistedfaces", content=image, headers=OCTET, params=params)
        assert r.status_code == 200, r.text
        fid: str = r.json()["persistedFaceId"]
        return fid

    def train(self, segment: str, cid: str, finish: bool = True) -> None:
        r = self.post(f"/{segment}/{cid}/train")
        assert r.status_code == 202, r.text
        if finish:
            self.clock.advance(60)
            status = self.http.get(f"{self.prefix}/{segment}/{cid}/training").json()["status"]
            assert status in ("succeeded", "failed")


@pytest.fixture(scope="session")
def clock() -> FakeClock:
    return FakeClock(START)


@pytest.fixture(scope="session")
def base_url(clock: FakeClock) -> Iterator[str]:
    app = create_app(EmulatorSettings(train_seconds=1.0), clock=clock, recognition="deterministic")
    with serve(app) as url:
        yield url
    app.state.emulator.close()


@pytest.fixture
def face(base_url: str, clock: FakeClock) -> Iterator[Face]:
    """A clean deterministic emulator (reset between tests) and its clock back at START."""
    with httpx.Client(base_url=base_url, timeout=30) as http:
        assert http.post("/_emulator/reset").status_code == 200
        clock.set(START)
        yield Face(http, clock)


@pytest.fixture(scope="session")
def real_url(clock: FakeClock) -> Iterator[str]:
    if not real_available():
        pytest.skip("the real engine needs: pip install 'facesync[recognition]'")
    app = create_app(EmulatorSettings(train_seconds=1.0), clock=clock, recognition="real")
    with serve(app) as url:
        yield url
    app.state.emulator.close()


@pytest.fixture
def real(real_url: str, clock: FakeClock) -> Iterator[Face]:
    with httpx.Client(base_url=real_url, timeout=60) as http:
        assert http.post("/_emulator/reset").status_code == 200
        clock.set(START)
        yield Face(http, clock)


@pytest.fixture(scope="session")
def photo() -> Any:
    """name -> bytes of a real photo under tests/data/faces."""
    return lambda name: (DATA / name).read_bytes()


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


@pytest.fixture
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """(base URL, path -> bytes) of a local file server for detect-from-URL."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    _Files.files = {}
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", _Files.files
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
