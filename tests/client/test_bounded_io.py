"""Issue 17.4: whatever the service does, a request ends in bounded time and memory, with one
clear error naming the host and the limit. Time is a FakeClock the server advances: no test
waits for a deadline in real time."""

from __future__ import annotations

import asyncio
import gzip
import json
from pathlib import Path

import pytest

from facesync.client import Endpoint, FaceAPIError, FaceClient, RetryPolicy, UnexpectedResponse, limits
from facesync.client import client as client_module
from facesync.emulator.testing import FakeClock
from facesync.model import CollectionKind
from tests.client.hostile import Peer, hostile
from tests.hardening.test_errors import one_error_line
from tests.sync.sync_helpers import Workspace, write_staff

PG = CollectionKind.PERSON_GROUP
FAST = RetryPolicy(base_delay=0.01, max_delay=0.05)
GROUP = {"personGroupId": "staff", "name": "Staff", "recognitionModel": "recognition_04"}


def list_groups(url: str, clock: FakeClock | None = None, retry: RetryPolicy = FAST) -> BaseException | list:
    """The collections listed by a client on `clock`, or the error it raised."""
    clock = clock or FakeClock()

    async def go() -> list:
        async with FaceClient(
            Endpoint(url), rate_limit=None, retry=retry, clock=clock, sleep=clock.sleep
        ) as client:
            return await client.list_collections(PG)

    try:
        return asyncio.run(go())
    except (FaceAPIError, UnexpectedResponse) as exc:
        return exc


# -- size -----------------------------------------------------------------------------------------


async def endless_list(peer: Peer) -> None:
    """A list that never ends, in chunks (no Content-Length: the size is known only by reading)."""
    await peer.head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
    chunk = json.dumps(GROUP).encode() + b","
    piece = b"[" + chunk * (65536 // len(chunk))
    while not peer.stop.is_set():
        await peer.send(b"%x\r\n%s\r\n" % (len(piece), piece))
        piece = chunk * (65536 // len(chunk))


def test_an_endless_body_is_cut_at_the_list_limit_while_streaming(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "LIST_BODY_MAX", 1 << 20)
    with hostile(endless_list) as server:
        error = list_groups(server.url)
        sent = server.bytes_sent[0]
    assert isinstance(error, UnexpectedResponse), error
    assert f"{server.url}: the response body is larger than 1 MiB (decompressed)" in str(error)
    assert "no Face API answer comes near that" in str(error)
    # The client stopped reading at 1 MiB: what the server pushed beyond it is what the kernel's
    # socket buffers took (several MiB on loopback, more on a busy machine), never the endless rest.
    assert sent < 64 << 20


BOMB = gzip.compress(b"[" + b" " * (16 << 20) + b"]")
"""16 MiB of JSON in 16 KB."""


async def gzip_bomb(peer: Peer) -> None:
    await peer.json(200, BOMB, {"Content-Encoding": "gzip"})


def test_a_gzip_bomb_counts_its_decompressed_size(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "LIST_BODY_MAX", 1 << 20)
    with hostile(gzip_bomb) as server:
        error = list_groups(server.url)
    assert isinstance(error, UnexpectedResponse), error
    assert "larger than 1 MiB (decompressed)" in str(error)


def test_a_declared_length_over_the_limit_is_refused_before_reading(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "OBJECT_BODY_MAX", 1000)

    async def big_object(peer: Peer) -> None:
        await peer.head(200, {"Content-Type": "application/json", "Content-Length": str(10**9)})
        await peer.hang()

    with hostile(big_object) as server:
        clock = FakeClock()

        async def go() -> None:
            async with FaceClient(Endpoint(server.url), rate_limit=None, clock=clock, sleep=clock.sleep) as c:
                await c.get_collection(PG, "staff")

        with pytest.raises(UnexpectedResponse, match="larger than 1,000 bytes"):
            asyncio.run(go())


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[" * 200_000, "the JSON is nested deeper than 32 levels"),
        (b"[" + b"0," * 1_000_001 + b"0]", "the JSON holds more than 1,000,000 values"),
        (b"[" + b'"",' * 1_000_001 + b'""]', "the JSON holds more than 1,000,000 values"),
    ],
    ids=["200k-nested", "a-million-numbers", "a-million-strings"],
)
def test_json_over_a_limit_is_one_error_not_a_recursion_error(body: bytes, expected: str):
    async def answer(peer: Peer) -> None:
        await peer.json(200, body)

    with hostile(answer) as server:
        error = list_groups(server.url)
    assert isinstance(error, UnexpectedResponse), error
    assert f"{server.url}: {expected}" in str(error)


def test_nested_brackets_inside_strings_are_text_not_depth():
    deep_text = {**GROUP, "userData": "[" * 5000 + '\\"{' * 100}

    async def answer(peer: Peer) -> None:
        await peer.json(200, json.dumps([deep_text]).encode())

    with hostile(answer) as server:
        groups = list_groups(server.url)
    assert not isinstance(groups, BaseException), groups
    assert groups[0].user_data == deep_text["userData"]


def test_a_page_holding_more_items_than_asked_is_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)

    async def answer(peer: Peer) -> None:
        await peer.json(200, json.dumps([GROUP] * 3).encode())

    with hostile(answer) as server:
        error = list_groups(server.url)
    assert "3 items in a page of at most 2" in str(error)


def test_pages_that_never_move_on_are_refused(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)

    async def answer(peer: Peer) -> None:
        await peer.json(200, json.dumps([GROUP, GROUP]).encode())

    with hostile(answer) as server:
        error = list_groups(server.url)
        calls = len(server.requests)
    assert "the page after 'staff' starts over at 'staff'" in str(error)
    assert calls == 2


def test_an_error_body_is_read_only_up_to_its_limit():
    async def answer(peer: Peer) -> None:
        await peer.head(400, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        while not peer.stop.is_set():
            await peer.send(b"10000\r\n" + b"x" * 0x10000 + b"\r\n")

    with hostile(answer) as server:
        error = list_groups(server.url)
    assert isinstance(error, FaceAPIError) and error.status == 400
    assert "the response body is larger than 64 KiB" in error.message


def test_an_encoding_facesync_did_not_ask_for_is_refused():
    async def answer(peer: Peer) -> None:
        await peer.json(200, b"\x00" * 100, {"Content-Encoding": "br"})

    with hostile(answer) as server:
        error = list_groups(server.url)
        asked = server.requests[0].headers["accept-encoding"]
    assert asked == "gzip, deflate"
    assert "the response is encoded as 'br'; facesync asks for gzip, deflate only" in str(error)


def test_a_gzip_body_within_the_limit_is_read():
    async def answer(peer: Peer) -> None:
        await peer.json(200, gzip.compress(json.dumps([GROUP]).encode()), {"Content-Encoding": "gzip"})

    with hostile(answer) as server:
        groups = list_groups(server.url)
    assert [g.id for g in groups] == ["staff"]  # type: ignore[union-attr]


# -- waits the service asks for ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "message", "shown"),
    [
        ({"Retry-After": "99999999"}, "Slow down.", "99,999,999 s"),
        ({"Retry-After": "inf"}, "Slow down.", "forever (inf)"),
        ({}, "Rate limit is exceeded. Try again in 86400 seconds.", "86,400 s"),
    ],
    ids=["huge-header", "inf-header", "huge-message"],
)
def test_a_wait_over_the_cap_stops_at_once_naming_the_wait_and_the_limit(headers, message, shown):
    async def answer(peer: Peer) -> None:
        body = json.dumps({"error": {"code": "429", "message": message}}).encode()
        await peer.json(429, body, headers)

    clock = FakeClock()
    with hostile(answer) as server:
        error = list_groups(server.url, clock)
        calls = len(server.requests)
    assert isinstance(error, FaceAPIError) and error.status == 429, error
    assert f"{server.url} asks to wait {shown} before trying again; facesync waits at most 60 s" in str(error)
    assert calls == 1 and clock.now == FakeClock().now  # not one second was waited


def test_a_wait_within_the_cap_is_waited_on_the_clock():
    answers = iter([429, 200])

    async def answer(peer: Peer) -> None:
        if next(answers) == 429:
            await peer.json(429, b'{"error": {"code": "429", "message": "wait"}}', {"Retry-After": "60"})
        else:
            await peer.json(200, json.dumps([GROUP]).encode())

    clock = FakeClock()
    start = clock.now
    with hostile(answer) as server:
        groups = list_groups(server.url, clock)
    assert not isinstance(groups, BaseException), groups
    assert clock.now - start == pytest.approx(60, abs=1)


def test_retries_stop_at_the_request_deadline():
    async def busy(peer: Peer) -> None:
        await peer.json(503, b'{"error": {"code": "ServiceUnavailable", "message": "busy"}}')

    clock = FakeClock()
    start = clock.now
    with hostile(busy) as server:
        error = list_groups(server.url, clock, RetryPolicy(max_attempts=1000, base_delay=30, max_delay=30))
        calls = len(server.requests)
    assert isinstance(error, FaceAPIError) and error.status == 503
    limit = f"facesync's limit for one request to {server.url}, tries and waits included, is 600 s"
    assert limit in str(error)
    assert clock.now - start <= 600 and calls < 50


# -- time -------------------------------------------------------------------------------------


def silent(clock: FakeClock):
    async def answer(peer: Peer) -> None:
        clock.advance(31)  # the client's 30 s pass; the server says nothing
        await peer.hang()

    return answer


def test_a_silent_server_is_given_up_after_two_tries_of_30_s():
    clock = FakeClock()
    began = clock()
    with hostile(silent(clock)) as server:
        error = list_groups(server.url, clock)
        calls = len(server.requests)
    assert isinstance(error, FaceAPIError) and error.status is None, error
    assert f"{server.url} did not answer within 30 s, facesync's limit per try (tried 2 times)" in str(error)
    assert calls == 2
    # The two 30 s tries passed on the fake clock (the test's timeout guards the real one).
    assert clock() - began >= 60


def test_a_silent_server_leaves_a_create_uncertain_after_one_try():
    clock = FakeClock()
    with hostile(silent(clock)) as server:

        async def go() -> None:
            async with FaceClient(
                Endpoint(server.url), rate_limit=None, retry=FAST, clock=clock, sleep=clock.sleep
            ) as c:
                await c.create_person(PG, "staff", name="Alice", user_data=None)

        with pytest.raises(FaceAPIError) as caught:
            asyncio.run(go())
        calls = len(server.requests)
    assert caught.value.uncertain and calls == 1


def test_a_byte_a_second_body_cannot_extend_the_try():
    clock = FakeClock()

    async def trickle(peer: Peer) -> None:
        await peer.head(200, {"Content-Type": "application/json", "Content-Length": "100000"})
        while not peer.stop.is_set():
            await peer.send(b" ")
            clock.advance(1)
            await asyncio.sleep(0.001)

    with hostile(trickle) as server:
        error = list_groups(server.url, clock)
        calls = len(server.requests)
    assert isinstance(error, FaceAPIError), error
    text = str(error)
    assert f"{server.url} sent its answer too slowly" in text
    assert "facesync allows 30 s per try plus 1 s per 128 KiB moved (tried 2 times)" in text
    assert calls == 2


def test_headers_sent_a_byte_a_second_are_no_answer():
    clock = FakeClock()

    async def trickle_head(peer: Peer) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Pad: " + b"a" * 10_000:
            if peer.stop.is_set():
                return
            await peer.send(bytes([byte]))
            clock.advance(1)
            await asyncio.sleep(0.001)

    with hostile(trickle_head) as server:
        error = list_groups(server.url, clock)
    assert f"{server.url} did not answer within 30 s" in str(error)


def test_a_large_answer_at_a_fair_rate_is_not_cut():
    clock = FakeClock()
    body = json.dumps([GROUP] * 900).encode()  # ~75 KB, 1 s of fake time per 4 KB: 18 s in all

    async def steady(peer: Peer) -> None:
        await peer.head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))})
        for i in range(0, len(body), 4096):
            await peer.send(body[i : i + 4096])
            clock.advance(1)

    with hostile(steady) as server:
        groups = list_groups(server.url, clock)
    assert not isinstance(groups, BaseException), groups
    assert len(groups) == 900


# -- through the CLI: one line, exit 1 --------------------------------------------------------


def cli_plan(
    tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch, clock: FakeClock | None = None
) -> str:
    if clock is not None:
        monkeypatch.setattr(client_module, "DEFAULT_CLOCK", clock)
        monkeypatch.setattr(client_module, "DEFAULT_SLEEP", clock.sleep)
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    return one_error_line(ws.run("plan", "--rate-limit", "0"))


def test_the_limits_fit_the_largest_legitimate_answers():
    # 1,000 persons with a 128-character name, 16,384 characters of userData written as \uXXXX
    # and 248 face ids: the largest page a Face API can send, and it must pass.
    assert pytest.approx(103.8 * 2**20, rel=0.001) == limits.LARGEST_PAGE
    assert limits.LARGEST_PAGE < limits.LIST_BODY_MAX == 120 * 2**20
    assert limits.LARGEST_OBJECT < limits.OBJECT_BODY_MAX == 8 * 2**20


def test_the_docs_state_every_limit():
    from facesync.client.body import format_size

    docs = (Path(__file__).parents[2] / "docs" / "plan-and-apply.md").read_text()
    section = docs[docs.index("## Limits") : docs.index("## Secrets")]
    stated = [
        f"| {format_size(limits.LIST_BODY_MAX)}, decompressed |",
        f"| {format_size(limits.OBJECT_BODY_MAX)}, decompressed |",
        f"the first {format_size(limits.ERROR_BODY_MAX)} are read",
        f"| {limits.JSON_MAX_DEPTH} levels |",
        f"| {limits.JSON_MAX_VALUES:,} per answer |",
        f"| {limits.RETRY_AFTER_MAX:g} s |",
        f"| {limits.ATTEMPT_TIMEOUT:g} s, plus 1 s per {format_size(limits.MIN_TRANSFER_RATE)} sent",
        f"| {limits.TIMEOUT_ATTEMPTS} |",
        f"| {limits.REQUEST_DEADLINE:g} s, every try and wait included |",
        f"| {client_module.MAX_PAGES - 1:,} |",
    ]
    assert [s for s in stated if s not in section] == []


def test_cli_an_endless_body_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "LIST_BODY_MAX", 4 << 20)
    with hostile(endless_list) as server:
        line = cli_plan(tmp_path, server.url, monkeypatch)
    assert line.startswith("Error: PersonGroup.List (GET /persongroups): ")
    assert f"{server.url}: the response body is larger than 4 MiB (decompressed)" in line


def test_cli_a_gzip_bomb_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(limits, "LIST_BODY_MAX", 4 << 20)
    with hostile(gzip_bomb) as server:
        line = cli_plan(tmp_path, server.url, monkeypatch)
    assert "larger than 4 MiB (decompressed)" in line


def test_cli_deep_nesting_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    async def deep(peer: Peer) -> None:
        await peer.json(200, b"[" * 200_000)

    with hostile(deep) as server:
        line = cli_plan(tmp_path, server.url, monkeypatch)
    assert f"{server.url}: the JSON is nested deeper than 32 levels" in line


def test_cli_retry_after_forever_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    async def throttled(peer: Peer) -> None:
        await peer.json(429, b'{"error": {"code": "429", "message": "no"}}', {"Retry-After": "99999999"})

    with hostile(throttled) as server:
        line = cli_plan(tmp_path, server.url, monkeypatch, FakeClock())
    assert "asks to wait 99,999,999 s before trying again; facesync waits at most 60 s" in line


def test_cli_a_silent_server_is_one_line_after_two_tries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    clock = FakeClock()
    with hostile(silent(clock)) as server:
        line = cli_plan(tmp_path, server.url, monkeypatch, clock)
    assert f"{server.url} did not answer within 30 s, facesync's limit per try (tried 2 times)" in line
