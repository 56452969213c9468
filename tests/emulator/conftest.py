"""Fixtures for the emulator's functional tests: an app on a fake clock, a client, an image server."""

from __future__ import annotations

import http.server
import threading
import warnings
from collections.abc import Iterator
from typing import ClassVar

import pytest
from starlette.applications import Starlette

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient


@pytest.fixture
def clock() -> FakeClock:
    """The app's only source of time: training and rate windows move only on `clock.advance()`."""
    return FakeClock()


@pytest.fixture
def settings() -> EmulatorSettings:
    # A whole second makes the training schedule readable: notstarted for 0.1 s, done after ~1 s.
    return EmulatorSettings(train_seconds=1.0, seed=1)


@pytest.fixture
def app(settings: EmulatorSettings, clock: FakeClock) -> Iterator[Starlette]:
    app = create_app(settings, clock=clock)
    yield app
    app.state.emulator.close()


@pytest.fixture
def client(app: Starlette) -> Iterator[TestClient]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        client = TestClient(app)
    yield client


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

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="session")
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """A tiny HTTP server on 127.0.0.1: put bytes in the dict under a path, fetch base + path."""
    files: dict[str, bytes] = {}
    handler = type("Handler", (_Handler,), {"files": files})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    # shutdown() waits for the next poll: 0.05 s instead of the default 0.5 s.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()
