"""Hostile request bodies: deep JSON nesting and oversized JSON or image bodies are refused with
400 without buffering them whole (docs/emulator.md, "Body limits")."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator

import anyio
import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import asgi_client, serve
from tests.emulator.emulator_helpers import OCTET, assert_error, make_person

JSON = {"Content-Type": "application/json"}
MB = 1024 * 1024
CHUNK = 64 * 1024


def deep(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


@pytest.mark.parametrize(
    "body",
    [deep(100_000), b'{"name": "n", "userData": ' + deep(100_000) + b"}", b"{" * 100_000],
    ids=["array", "inside-an-object", "unclosed"],
)
def test_deeply_nested_json_is_400_json_parsing_error(client, body):
    r = client.put("/face/v1.0/persongroups/g", content=body, headers=JSON)
    assert_error(r, 400, "BadArgument", "JSON parsing error.")
    assert client.get("/face/v1.0/persongroups").json() == []


def test_brackets_inside_strings_do_not_count_as_nesting(client):
    user_data = "[" * 5_000 + "{" * 5_000
    r = client.put("/face/v1.0/persongroups/g", json={"name": "n", "userData": user_data})
    assert r.status_code == 200, r.text
    assert client.get("/face/v1.0/persongroups/g").json()["userData"] == user_data


def test_moderate_nesting_is_parsed_and_then_judged_on_its_content(client):
    r = client.put("/face/v1.0/persongroups/g", content=b'{"name": ' + deep(20) + b"}", headers=JSON)
    assert_error(r, 400, "BadArgument", "Request body is invalid.")


def test_deeply_nested_settings_patch_is_400(client):
    r = client.patch("/_emulator/settings", content=b'{"limits": ' + deep(100_000) + b"}", headers=JSON)
    assert_error(r, 400, "BadArgument")


def test_json_body_just_under_the_cap_is_accepted(client):
    name_padding = " " * (MB - 100)  # JSON whitespace: a legal body of almost 1 MiB
    body = b'{"name": "n"' + name_padding.encode() + b"}"
    assert client.put("/face/v1.0/persongroups/g", content=body, headers=JSON).status_code == 200


class CountingBody:
    """A request body produced on demand, counting what the server actually pulled."""

    def __init__(self, total: int, first: bytes = b"") -> None:
        self.total = total
        self.first = first
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        sent = 0
        if self.first:
            self.pulled += len(self.first)
            sent += len(self.first)
            yield self.first
        while sent < self.total:
            chunk = b" " * min(CHUNK, self.total - sent)
            sent += len(chunk)
            self.pulled += len(chunk)
            yield chunk


def test_oversized_json_body_is_refused_after_reading_only_the_cap():
    app = create_app(EmulatorSettings())
    body = CountingBody(50 * MB, first=b'{"name": "n"')

    async def main() -> None:
        async with asgi_client(app) as client:
            r = await client.put("/face/v1.0/persongroups/g", content=body, headers=JSON)
            assert_error(r, 400, "BadArgument", "Request body is too large.")

    anyio.run(main)
    assert body.pulled <= MB + CHUNK + len(body.first)


def test_oversized_image_body_is_refused_after_reading_only_the_image_cap():
    app = create_app(EmulatorSettings())

    async def main() -> CountingBody:
        async with asgi_client(app) as client:
            await client.put("/face/v1.0/largefacelists/l", json={"name": "n"})
            body = CountingBody(50 * MB)
            r = await client.post("/face/v1.0/largefacelists/l/persistedfaces", content=body, headers=OCTET)
            assert_error(r, 400, "InvalidImageSize", "Image size is too big.")
            return body

    body = anyio.run(main)
    assert body.pulled <= 6 * MB + CHUNK


def test_declared_300_mb_json_body_is_answered_before_it_arrives():
    """Over real HTTP: the client announces 300 MB, sends 2 MB and waits; the answer must come
    without the rest (before the fix the server waited for all of it and the read timed out)."""
    with serve(EmulatorSettings()) as base:
        host, port = base.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(
                b"PUT /face/v1.0/persongroups/g HTTP/1.1\r\n"
                b"Host: emulator\r\nContent-Type: application/json\r\n"
                b"Content-Length: 314572800\r\n\r\n" + b'{"name": "n"' + b" " * (2 * MB)
            )
            reply = b""
            while b"\r\n\r\n" not in reply:
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
    assert reply.startswith(b"HTTP/1.1 400 "), reply[:200]


def test_person_create_with_oversized_body_leaves_no_person(client):
    make_person(client)
    body = b'{"name": "n"' + b" " * (MB + 1) + b"}"
    r = client.post("/face/v1.0/persongroups/g/persons", content=body, headers=JSON)
    assert_error(r, 400, "BadArgument", "Request body is too large.")
    assert len(client.get("/face/v1.0/persongroups/g/persons").json()) == 1
