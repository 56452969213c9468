"""`{"url"}` images: one deadline for the whole download, and the size limit before the body."""

from __future__ import annotations

import contextlib
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from tests.emulator.emulator_helpers import assert_error, make_person, png

# A slow reply trickles this long, then sends the rest of a valid image: an emulator without a
# deadline waits it out and adds the face.
TRICKLE_FOR = 10.0
IMAGE = png(1)


class _SlowHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/huge.jpg":
            # Declares more than the service's 6 MB and then sends nothing.
            self.send_response(200)
            self.send_header("Content-Length", str(7 * 1024 * 1024))
            self.end_headers()
            self._stall()
            return
        # A byte every 50 ms: each read is quick, the whole download is not.
        self.send_response(200)
        self.send_header("Content-Length", str(len(IMAGE)))
        self.end_headers()
        sent = self._stall(trickle=IMAGE)
        with contextlib.suppress(OSError):
            self.wfile.write(IMAGE[sent:])

    def _stall(self, trickle: bytes = b"") -> int:
        """Wait TRICKLE_FOR seconds, sending `trickle` a byte at a time; the bytes sent."""
        deadline = time.monotonic() + TRICKLE_FOR
        sent = 0
        while time.monotonic() < deadline and sent < len(trickle):
            time.sleep(0.05)
            try:
                self.wfile.write(trickle[sent : sent + 1])
                self.wfile.flush()
            except OSError:
                return len(trickle)  # the emulator gave up and hung up
            sent += 1
        while time.monotonic() < deadline:
            time.sleep(0.05)
        return sent

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def slow_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _SlowHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def short_deadline(app):
    app.state.emulator.settings.url_timeout_seconds = 0.3


def test_add_face_from_a_trickling_server_ends_at_the_deadline(client, slow_server, short_deadline):
    pid = make_person(client)
    r = client.post(
        f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces", json={"url": f"{slow_server}/slow.jpg"}
    )
    assert_error(r, 400, "InvalidURL")
    assert "error downloading from target server" in r.json()["error"]["message"]


def test_detect_from_a_trickling_server_ends_at_the_deadline(client, slow_server, short_deadline):
    r = client.post("/face/v1.0/detect", json={"url": f"{slow_server}/slow.jpg"})
    assert_error(r, 400, "InvalidURL")


def test_an_image_declared_over_the_size_limit_is_refused_before_its_body(client, app, slow_server):
    # A deadline far beyond the headers' arrival, even on a busy machine: the body never comes,
    # so only a refusal on the declared length answers InvalidImageSize (and at once).
    app.state.emulator.settings.url_timeout_seconds = 30
    client.put("/face/v1.0/largefacelists/l", json={"name": "L"})
    r = client.post("/face/v1.0/largefacelists/l/persistedfaces", json={"url": f"{slow_server}/huge.jpg"})
    assert_error(r, 400, "InvalidImageSize", "Image size is too big.")
