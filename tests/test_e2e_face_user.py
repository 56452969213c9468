"""End to end: what a Face API user does, over real HTTP against the emulator (`serve()`).

A photo-sized JPEG (1024x768) is enrolled in a PersonGroup / LargePersonGroup (2 persons, 2+
faces each: octet-stream, chunked upload and URL), the group is trained and polled through the
`Operation-Location` URL, persons are listed page by page, a face is read back, and everything is
deleted again, checking the 404s afterwards. A LargeFaceList variant does the same for faces.
Both `/face/v1.0` and `/face/v1.2` are exercised.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator

import httpx
import pytest

from facesync.emulator import EmulatorSettings
from facesync.emulator.testing import FakeClock, serve
from tests.emulator_conformance.conformance_harness import ImageServer
from tests.imagegen import face_image

VERSIONS = ("v1.0", "v1.2")
KEY = "e2e-key"
GROUPS = {
    "persongroups": "PersonGroup",
    "largepersongroups": "LargePersonGroup",
}


@pytest.fixture(scope="module")
def clock() -> FakeClock:
    """The emulator's time: a training run advances only while the test polls it."""
    return FakeClock()


@pytest.fixture(scope="module")
def emulator(clock: FakeClock) -> Iterator[str]:
    with serve(EmulatorSettings(train_seconds=1.0, key=KEY), clock=clock) as base_url:
        yield base_url


@pytest.fixture(scope="module")
def images() -> Iterator[ImageServer]:
    server = ImageServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def http(emulator: str) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=emulator, headers={"Ocp-Apim-Subscription-Key": KEY}, timeout=30
    ) as client:
        yield client


# Generating a photo-sized image takes a good tenth of a second; the emulator neither dedupes nor
# compares images, so a few distinct photos, reused, exercise exactly the same paths.
DISTINCT_PHOTOS = 4


def photo(seed: int) -> bytes:
    return _photo(seed % DISTINCT_PHOTOS)


@functools.cache
def _photo(seed: int) -> bytes:
    data = face_image(seed=seed, size=(1024, 768), fmt="JPEG")
    assert 1024 <= len(data) <= 6 * 1024 * 1024
    return data


def chunks(data: bytes, size: int = 16 * 1024) -> Iterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def ok_empty(r: httpx.Response) -> None:
    assert r.status_code == 200, r.text
    assert r.content == b""


def error_code(r: httpx.Response) -> str:
    body = r.json()
    assert set(body) == {"error"} and {"code", "message"} <= set(body["error"]), body
    return body["error"]["code"]


def wait_for_training(http: httpx.Client, location: str, version: str, clock: FakeClock) -> dict:
    """Poll like a client would, moving the emulator's clock a quarter second between polls."""
    spelling = "notstarted" if version == "v1.0" else "notStarted"
    seen = []
    for _ in range(100):
        r = http.get(location)
        assert r.status_code == 200, r.text
        status = r.json()
        if not seen or seen[-1] != status["status"]:
            seen.append(status["status"])
        if status["status"] in ("succeeded", "failed"):
            assert seen[:2] == [spelling, "running"], seen
            return status
        clock.advance(0.25)
    raise AssertionError(f"training not finished after 100 polls: {seen}")


def add_face(
    http: httpx.Client, url: str, how: str, seed: int, images: ImageServer, user_data: str | None
) -> str:
    params = {"detectionModel": "detection_03"}
    if user_data is not None:
        params["userData"] = user_data
    if how == "stream":
        r = http.post(
            url,
            params=params,
            content=photo(seed),
            headers={"Content-Type": "application/octet-stream"},
        )
    elif how == "chunked":
        r = http.post(
            url,
            params=params,
            content=chunks(photo(seed)),  # an iterator: sent with Transfer-Encoding: chunked
            headers={"Content-Type": "application/octet-stream"},
        )
        assert r.request.headers.get("transfer-encoding") == "chunked"
    else:
        r = http.post(url, params=params, json={"url": images.add(photo(seed), "image/jpeg")})
    assert r.status_code == 200, f"{how}: {r.text}"
    body = r.json()
    assert set(body) == {"persistedFaceId"}, body
    return body["persistedFaceId"]


@pytest.mark.parametrize("kind", list(GROUPS))
@pytest.mark.parametrize("version", VERSIONS)
def test_enrol_train_page_and_delete_a_group(
    http: httpx.Client, emulator: str, clock: FakeClock, images: ImageServer, version: str, kind: str
):
    code = GROUPS[kind]
    base = f"/face/{version}/{kind}"
    gid = f"e2e-{kind}-{version.replace('.', '')}"

    ok_empty(http.put(f"{base}/{gid}", json={"name": "Family", "recognitionModel": "recognition_04"}))
    r = http.put(f"{base}/{gid}", json={"name": "again"})
    assert r.status_code == 409 and error_code(r) == f"{code}Exists"

    persons = {}
    for name in ("Anna", "Bob"):
        r = http.post(f"{base}/{gid}/persons", json={"name": name, "userData": f"{name} data"})
        assert r.status_code == 200, r.text
        assert set(r.json()) == {"personId"}
        persons[name] = r.json()["personId"]

    faces: dict[str, list[str]] = {name: [] for name in persons}
    plan = {"Anna": ("stream", "chunked"), "Bob": ("stream", "url", "chunked")}
    seed = 100 if version == "v1.0" else 200
    for name, hows in plan.items():
        for i, how in enumerate(hows):
            seed += 1
            url = f"{base}/{gid}/persons/{persons[name]}/persistedfaces"
            user_data = f"{name} face {i}" if i == 0 else None
            faces[name].append(add_face(http, url, how, seed, images, user_data))

    for name, pid in persons.items():
        r = http.get(f"{base}/{gid}/persons/{pid}")
        assert r.status_code == 200, r.text
        person = r.json()
        assert person["personId"] == pid and person["name"] == name
        assert person["userData"] == f"{name} data"
        assert sorted(person["persistedFaceIds"]) == sorted(faces[name])

    r = http.get(f"{base}/{gid}/training")
    assert r.status_code == 404 and error_code(r) == f"{code}NotTrained"

    r = http.post(f"{base}/{gid}/train")
    assert r.status_code == 202 and r.content == b"", r.text
    location = r.headers["operation-location"]
    assert location == f"{emulator}{base}/{gid}/training"
    status = wait_for_training(http, location, version, clock)
    assert status["status"] == "succeeded", status
    assert {"createdDateTime", "lastActionDateTime", "lastSuccessfulTrainingDateTime"} <= set(status)

    # Paging: top=1, then start=<last id>; ids come sorted, `start` is exclusive.
    ordered = sorted(persons.values())
    r = http.get(f"{base}/{gid}/persons", params={"top": 1})
    assert r.status_code == 200, r.text
    page1 = r.json()
    assert [p["personId"] for p in page1] == ordered[:1]
    r = http.get(f"{base}/{gid}/persons", params={"start": page1[-1]["personId"], "top": 1})
    page2 = r.json()
    assert [p["personId"] for p in page2] == ordered[1:2]
    r = http.get(f"{base}/{gid}/persons", params={"start": page2[-1]["personId"], "top": 1})
    assert r.status_code == 200 and r.json() == []
    for person in page1 + page2:
        assert set(person) == {"personId", "name", "userData", "persistedFaceIds"}

    # Get a face back, with and without userData.
    r = http.get(f"{base}/{gid}/persons/{persons['Bob']}/persistedfaces/{faces['Bob'][0]}")
    assert r.status_code == 200, r.text
    assert r.json() == {"persistedFaceId": faces["Bob"][0], "userData": "Bob face 0"}
    r = http.get(f"{base}/{gid}/persons/{persons['Bob']}/persistedfaces/{faces['Bob'][1]}")
    assert r.json() == {"persistedFaceId": faces["Bob"][1]}

    # Delete a person: gone, with its faces; the other remains.
    ok_empty(http.delete(f"{base}/{gid}/persons/{persons['Anna']}"))
    r = http.get(f"{base}/{gid}/persons/{persons['Anna']}")
    assert r.status_code == 404 and error_code(r) == "PersonNotFound"
    r = http.get(f"{base}/{gid}/persons/{persons['Anna']}/persistedfaces/{faces['Anna'][0]}")
    assert r.status_code == 404
    r = http.get(f"{base}/{gid}/persons")
    assert [p["personId"] for p in r.json()] == [persons["Bob"]]

    # Delete the group: everything under it answers 404.
    ok_empty(http.delete(f"{base}/{gid}"))
    for path in ("", "/persons", f"/persons/{persons['Bob']}", "/training"):
        r = http.get(f"{base}/{gid}{path}")
        assert r.status_code == 404, path
        assert error_code(r) == f"{code}NotFound", path
    r = http.delete(f"{base}/{gid}")
    assert r.status_code == 404 and error_code(r) == f"{code}NotFound"
    assert gid not in [g[f"{code[0].lower()}{code[1:]}Id"] for g in http.get(base).json()]


@pytest.mark.parametrize("version", VERSIONS)
def test_large_face_list_lifecycle(
    http: httpx.Client, emulator: str, clock: FakeClock, images: ImageServer, version: str
):
    base = f"/face/{version}/largefacelists"
    lid = f"e2e-lfl-{version.replace('.', '')}"
    ok_empty(http.put(f"{base}/{lid}", json={"name": "Catalogue", "userData": "v"}))

    seed = 300 if version == "v1.0" else 400
    ids = []
    for i, how in enumerate(("stream", "chunked", "url")):
        ids.append(add_face(http, f"{base}/{lid}/persistedfaces", how, seed + i, images, f"face {i}"))

    ordered = sorted(ids)
    seen = []
    start = None
    while True:
        params = {"top": 2} if start is None else {"top": 2, "start": start}
        r = http.get(f"{base}/{lid}/persistedfaces", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        if not page:
            break
        assert len(page) <= 2
        seen += [f["persistedFaceId"] for f in page]
        start = page[-1]["persistedFaceId"]
    assert seen == ordered

    ok_empty(http.patch(f"{base}/{lid}/persistedfaces/{ids[0]}", json={"userData": "renamed"}))
    r = http.get(f"{base}/{lid}/persistedfaces/{ids[0]}")
    assert r.json() == {"persistedFaceId": ids[0], "userData": "renamed"}

    r = http.post(f"{base}/{lid}/train")
    assert r.status_code == 202
    assert r.headers["operation-location"] == f"{emulator}{base}/{lid}/training"
    assert wait_for_training(http, r.headers["operation-location"], version, clock)["status"] == "succeeded"

    ok_empty(http.delete(f"{base}/{lid}/persistedfaces/{ids[1]}"))
    r = http.get(f"{base}/{lid}/persistedfaces/{ids[1]}")
    assert r.status_code == 404 and error_code(r) == "PersistedFaceNotFound"

    ok_empty(http.delete(f"{base}/{lid}"))
    for path in ("", "/persistedfaces", f"/persistedfaces/{ids[0]}", "/training"):
        r = http.get(f"{base}/{lid}{path}")
        assert r.status_code == 404 and error_code(r) == "LargeFaceListNotFound", path


@pytest.mark.parametrize("version", VERSIONS)
def test_face_list_lifecycle(http: httpx.Client, images: ImageServer, version: str):
    base = f"/face/{version}/facelists"
    fid = f"e2e-fl-{version.replace('.', '')}"
    ok_empty(http.put(f"{base}/{fid}", json={"name": "Lookalikes"}))
    seed = 500 if version == "v1.0" else 600
    a = add_face(http, f"{base}/{fid}/persistedfaces", "stream", seed, images, "a")
    b = add_face(http, f"{base}/{fid}/persistedfaces", "url", seed + 1, images, None)
    r = http.get(f"{base}/{fid}")
    assert r.status_code == 200
    body = r.json()
    assert body["faceListId"] == fid and body["name"] == "Lookalikes" and "userData" not in body
    assert sorted(body["persistedFaces"], key=lambda f: f["persistedFaceId"]) == sorted(
        [{"persistedFaceId": a, "userData": "a"}, {"persistedFaceId": b}],
        key=lambda f: f["persistedFaceId"],
    )
    ok_empty(http.delete(f"{base}/{fid}/persistedfaces/{a}"))
    assert [f["persistedFaceId"] for f in http.get(f"{base}/{fid}").json()["persistedFaces"]] == [b]
    ok_empty(http.delete(f"{base}/{fid}"))
    r = http.get(f"{base}/{fid}")
    assert r.status_code == 404 and error_code(r) == "FaceListNotFound"


def test_wrong_key_is_rejected(http: httpx.Client):
    r = http.get("/face/v1.2/persongroups", headers={"Ocp-Apim-Subscription-Key": "wrong"})
    assert r.status_code == 401
    assert error_code(r) == "401"
