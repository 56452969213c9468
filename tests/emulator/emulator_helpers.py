"""Helpers shared by the emulator's functional tests."""

from __future__ import annotations

from typing import Any

from facesync.emulator.testing import FakeClock
from tests.imagegen import face_image

PREFIXES = ["/face/v1.0", "/face/v1.0-preview", "/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"]
NEW_STYLE = {"/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"}
OCTET = {"Content-Type": "application/octet-stream"}
DONE = ("succeeded", "failed")


def png(seed: int = 0, **kwargs: Any) -> bytes:
    return face_image(seed, **kwargs)


def make_person(client: Any, prefix: str = "/face/v1.0", kind: str = "persongroups", gid: str = "g") -> str:
    assert client.put(f"{prefix}/{kind}/{gid}", json={"name": "G"}).status_code == 200
    r = client.post(f"{prefix}/{kind}/{gid}/persons", json={"name": "P"})
    assert r.status_code == 200, r.text
    return str(r.json()["personId"])


def assert_error(response: Any, status: int, code: str, message: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["error"]["code"] == code, body
    if message is not None:
        assert body["error"]["message"] == message, body


def poll_training(
    client: Any, url: str, clock: FakeClock, step: float = 0.25, max_polls: int = 100
) -> tuple[dict[str, Any], list[str]]:
    """GET `url` until training ends, advancing the fake clock by `step` after each poll.

    Returns the final body and the statuses seen, each once in the order seen.
    """
    seen: list[str] = []
    for _ in range(max_polls):
        r = client.get(url)
        assert r.status_code == 200, r.text
        body = r.json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in DONE:
            return body, seen
        clock.advance(step)
    raise AssertionError(f"training did not finish after {max_polls} polls: {seen}")
