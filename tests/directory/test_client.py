"""The directory client treats what the service says as untrusted: an Operation-Location naming
another host is never called (the key stays at our endpoint), and a missing header, an unknown
status or a failed operation is one line, never a traceback."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from facesync.client import Endpoint, FaceClient, UnexpectedResponse
from facesync.client.directory import OperationFailed, OperationTimeout
from facesync.emulator.testing import FakeClock

OP = "0f8fad5b-d9cb-469f-a165-70867728950e"
PERSON = "25985303-c537-4467-b41d-bdb45cd95ca1"


def _client(handler, clock: FakeClock) -> FaceClient:
    return FaceClient(
        Endpoint("https://mine.cognitiveservices.azure.com", "secret-key"),
        api_version="v1.2-preview.1",
        rate_limit=None,
        transport=httpx.MockTransport(handler),
        clock=clock,
        sleep=clock.sleep,
    )


def _service(statuses: list[str], location: str | None, seen: list[httpx.Request], message: str = ""):
    """A service that accepts a person and reports `statuses` on its operation, one per poll."""

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "POST":
            headers = {"operation-location": location} if location is not None else {}
            return httpx.Response(202, json={"personId": PERSON}, headers=headers)
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        body = {"operationId": OP, "status": status, "createdTime": "2026-01-01T00:00:00Z"}
        if message:
            body["message"] = message
        return httpx.Response(200, json=body)

    return handle


async def _create_and_wait(client: FaceClient, timeout: float = 600) -> str:
    async with client:
        created = await client.directory.create_person(name="Dad", user_data=None)
        await client.directory.wait(created.operation_id, what="create Dad", timeout=timeout)
        return created.id


def test_an_operation_elsewhere_is_polled_at_our_own_endpoint_only():
    seen: list[httpx.Request] = []
    clock = FakeClock()
    evil = f"https://collector.example/steal/operations/{OP}"
    client = _client(_service(["notStarted", "running", "succeeded"], evil, seen), clock)
    assert asyncio.run(_create_and_wait(client)) == PERSON
    assert {r.url.host for r in seen} == {"mine.cognitiveservices.azure.com"}
    assert [r.url.path for r in seen[1:]] == [f"/face/v1.2-preview.1/operations/{OP}"] * 3
    # Backoff on the client's clock: 0.25 s, then 0.5 s, then 1 s.
    assert clock.now - FakeClock().now == pytest.approx(1.75)


@pytest.mark.parametrize(
    ("location", "problem"),
    [
        (None, "HTTP 202 without an Operation-Location header"),
        ("https://x/operations/not-an-id", "does not end in an operation id"),
    ],
)
def test_an_unusable_operation_location_is_one_clear_error(location: str | None, problem: str):
    client = _client(_service(["succeeded"], location, []), FakeClock())
    with pytest.raises(UnexpectedResponse, match=problem):
        asyncio.run(_create_and_wait(client))


def test_a_failed_operation_says_what_failed_with_the_services_words_bounded():
    long = "x" * 5000
    client = _client(_service(["failed"], f"/operations/{OP}", [], message=long), FakeClock())
    with pytest.raises(OperationFailed) as caught:
        asyncio.run(_create_and_wait(client))
    text = str(caught.value)
    assert text.startswith(f"create Dad: operation {OP} failed: xxx") and len(text) < 400


def test_an_unknown_status_and_a_timeout_are_errors_not_hangs():
    client = _client(_service(["paused"], f"/operations/{OP}", []), FakeClock())
    with pytest.raises(UnexpectedResponse, match="unknown operation status 'paused'"):
        asyncio.run(_create_and_wait(client))
    clock = FakeClock()
    client = _client(_service(["running"], f"/operations/{OP}", []), clock)
    with pytest.raises(OperationTimeout, match="still running after 30s; run apply again"):
        asyncio.run(_create_and_wait(client, timeout=30))
    assert clock.now - FakeClock().now <= 30 + 5  # bounded: at most one poll interval past it


def test_an_expired_operation_has_long_ended():
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(
                202, json={"personId": PERSON}, headers={"operation-location": f"/operations/{OP}"}
            )
        body = {"error": {"code": "OperationNotFound", "message": "Operation is not found."}}
        return httpx.Response(404, content=json.dumps(body), headers={"content-type": "application/json"})

    assert asyncio.run(_create_and_wait(_client(handle, FakeClock()))) == PERSON
