"""Fixtures for the emulator's functional tests."""

from __future__ import annotations

import http.server
import sys
import threading
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from imagegen import face_image

from facesync.emulator import EmulatorSettings, create_app

PREFIXES = ["/face/v1.0", "/face/v1.0-preview", "/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"]
NEW_STYLE = {"/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"}
OCTET = {"Content-Type": "application/octet-stream"}


@pytest.fixture
def settings() -> EmulatorSettings:
    return EmulatorSettings(train_seconds=0.05, seed=1)


@pytest.fixture
def app(settings: EmulatorSettings):
    app = create_app(settings)
    yield app
    app.state.emulator.close()


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(app)
    yield client


def png(seed: int = 0, **kwargs) -> bytes:
    return face_image(seed, **kwargs)


def make_person(client, prefix: str = "/face/v1.0", kind: str = "persongroups", gid: str = "g"):
    assert client.put(f"{prefix}/{kind}/{gid}", json={"name": "G"}).status_code == 200
    r = client.post(f"{prefix}/{kind}/{gid}/persons", json={"name": "P"})
    assert r.status_code == 200, r.text
    return r.json()["personId"]


def assert_error(response, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    if message is not None:
        assert body["error"]["message"] == message, body


class _Handler(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        if data is None:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="session")
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A tiny HTTP server on 127.0.0.1: put bytes in the dict under a path, fetch base + path."""
    files: ClassVar[dict[str, bytes]] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()
