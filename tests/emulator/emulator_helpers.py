"""Helpers shared by the emulator's functional tests (a uniquely named module, not conftest)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from imagegen import face_image

PREFIXES = ["/face/v1.0", "/face/v1.0-preview", "/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"]
NEW_STYLE = {"/face/v1.1-preview.1", "/face/v1.2-preview.1", "/face/v1.2"}
OCTET = {"Content-Type": "application/octet-stream"}


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
