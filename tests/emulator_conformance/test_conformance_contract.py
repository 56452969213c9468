"""Documented behaviour of the REST contract (FACE_API_DIGEST.md, recordings/README.md).

The examples and recordings hold no 400/409 answers, so the documented error cases, field rules,
paging rules and per-version details are checked here, each against the digest section cited.
"""

from __future__ import annotations

import pytest

from tests.emulator_conformance.conformance_harness import (
    KEY_HEADERS,
    make_client,
    poll_until_trained,
    single_face_png,
)
from tests.imagegen import face_image

PREFIXES = ("v1.0", "v1.0-preview", "v1.1-preview.1", "v1.2-preview.1", "v1.2")
CODES = {
    "persongroups": "PersonGroup",
    "largepersongroups": "LargePersonGroup",
    "facelists": "FaceList",
    "largefacelists": "LargeFaceList",
}
PARAM = {
    "persongroups": "personGroupId",
    "largepersongroups": "largePersonGroupId",
    "facelists": "faceListId",
    "largefacelists": "largeFaceListId",
}
OCTET = {**KEY_HEADERS, "Content-Type": "application/octet-stream"}


def err(r) -> tuple[int, str]:
    body = r.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"].get("code"), str), body
    assert isinstance(body["error"].get("message"), str), body
    return r.status_code, body["error"]["code"]


def put(client, version, kind, cid, body=None):
    return client.put(
        f"/face/{version}/{kind}/{cid}", json=body or {"name": cid}, headers=KEY_HEADERS
    )


def new_person(client, version, kind, gid) -> str:
    r = client.post(f"/face/{version}/{kind}/{gid}/persons", json={"name": "p"}, headers=KEY_HEADERS)
    assert r.status_code == 200, r.text
    return r.json()["personId"]


def faces_url(client, version, kind, cid) -> str:
    if kind in ("persongroups", "largepersongroups"):
        return f"/face/{version}/{kind}/{cid}/persons/{new_person(client, version, kind, cid)}/persistedfaces"
    return f"/face/{version}/{kind}/{cid}/persistedfaces"


# -- §3: routes exist under every version prefix ----------------------------------------------


@pytest.mark.parametrize("version", PREFIXES)
@pytest.mark.parametrize("kind", list(CODES))
def test_every_prefix_serves_every_collection(client, version, kind):
    r = put(client, version, kind, "c1")
    assert r.status_code == 200 and r.content == b"", r.text
    r = client.get(f"/face/{version}/{kind}/c1", headers=KEY_HEADERS)
    assert r.status_code == 200
    assert r.json()[PARAM[kind]] == "c1"
    r = client.post(faces_url(client, version, kind, "c1"), content=single_face_png(), headers=OCTET)
    assert r.status_code == 200 and set(r.json()) == {"persistedFaceId"}, r.text


# -- §1/§2/§9: create rules ---------------------------------------------------------------


@pytest.mark.parametrize("kind", list(CODES))
def test_put_existing_id_is_409_exists(client, kind):
    assert put(client, "v1.2", kind, "dup").status_code == 200
    assert err(put(client, "v1.2", kind, "dup", {"name": "other"})) == (409, f"{CODES[kind]}Exists")


@pytest.mark.parametrize(
    "cid",
    ["Upper", "has space", "x" * 65, "dot.dot", "%C3%A9t%C3%A9"],
    ids=["upper", "space", "65", "dot", "unicode"],
)
def test_create_with_invalid_id_is_400_bad_argument(client, cid):
    assert err(put(client, "v1.0", "persongroups", cid)) == (400, "BadArgument")


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "x" * 129},
        {"name": "ok", "userData": "u" * 16385},
        {"name": "ok", "recognitionModel": "recognition_05"},
    ],
    ids=["no-name", "empty-name", "long-name", "long-userData", "bad-model"],
)
@pytest.mark.parametrize("kind", list(CODES))
def test_create_body_rules(client, kind, body):
    r = client.put(f"/face/v1.2/{kind}/c1", json=body, headers=KEY_HEADERS)
    assert err(r) == (400, "BadArgument")


def test_create_with_malformed_json_is_400(client):
    r = client.put(
        "/face/v1.0/persongroups/g1",
        content=b"{not json",
        headers={**KEY_HEADERS, "Content-Type": "application/json"},
    )
    assert err(r) == (400, "BadArgument")


def test_name_boundaries_are_accepted(client):
    body = {"name": "x" * 128, "userData": "u" * 16384, "recognitionModel": "recognition_04"}
    assert put(client, "v1.2", "largepersongroups", "max", body).status_code == 200
    r = client.post(
        "/face/v1.2/largepersongroups/max/persons",
        json={"name": "n" * 128, "userData": "u" * 16384},
        headers=KEY_HEADERS,
    )
    assert r.status_code == 200, r.text


def test_person_create_needs_a_name(client):
    put(client, "v1.0", "persongroups", "g1")
    r = client.post("/face/v1.0/persongroups/g1/persons", json={"userData": "x"}, headers=KEY_HEADERS)
    assert err(r) == (400, "BadArgument")


# -- §1/§9: not found ---------------------------------------------------------------------


@pytest.mark.parametrize("version", ["v1.0", "v1.2"])
@pytest.mark.parametrize("kind", list(CODES))
def test_unknown_collection_is_404_with_recorded_message(client, version, kind):
    r = client.get(f"/face/{version}/{kind}/nope", headers=KEY_HEADERS)
    assert err(r) == (404, f"{CODES[kind]}NotFound")
    if kind == "persongroups":  # recordings/README.md, observed behaviour 1
        assert r.json()["error"]["message"] == (
            "Person group is not found.\r\nParameter name: personGroupId"
        )
        assert r.headers["content-type"] == "application/json; charset=utf-8"
    if version == "v1.2":  # digest §1: v1.2 declares x-ms-error-code
        assert r.headers.get("x-ms-error-code") == f"{CODES[kind]}NotFound"


@pytest.mark.parametrize("pid", ["00000000-0000-0000-0000-000000000001", "not-a-uuid"])
@pytest.mark.parametrize("kind", ["persongroups", "largepersongroups"])
def test_unknown_or_malformed_person_is_404_person_not_found(client, kind, pid):
    put(client, "v1.0", kind, "g1")
    for method in ("GET", "PATCH", "DELETE"):
        kwargs = {"json": {"name": "x"}} if method == "PATCH" else {}
        r = client.request(method, f"/face/v1.0/{kind}/g1/persons/{pid}", headers=KEY_HEADERS, **kwargs)
        assert err(r) == (404, "PersonNotFound"), method


@pytest.mark.parametrize("fid", ["00000000-0000-0000-0000-000000000001", "not-a-uuid"])
@pytest.mark.parametrize("kind", list(CODES))
def test_unknown_or_malformed_face_is_404_persisted_face_not_found(client, kind, fid):
    put(client, "v1.0", kind, "c1")
    url = faces_url(client, "v1.0", kind, "c1")
    r = client.delete(f"{url}/{fid}", headers=KEY_HEADERS)
    assert err(r) == (404, "PersistedFaceNotFound")


# -- §3/§12: response shapes ----------------------------------------------------------------


def test_optional_fields_userdata_omitted_persisted_face_ids_present(client):
    put(client, "v1.0", "persongroups", "g1")
    pid = new_person(client, "v1.0", "persongroups", "g1")
    assert client.get("/face/v1.0/persongroups/g1", headers=KEY_HEADERS).json() == {
        "personGroupId": "g1",
        "name": "g1",
    }
    assert client.get(f"/face/v1.0/persongroups/g1/persons/{pid}", headers=KEY_HEADERS).json() == {
        "personId": pid,
        "name": "p",
        "persistedFaceIds": [],
    }


@pytest.mark.parametrize("kind", list(CODES))
def test_return_recognition_model(client, kind):
    put(client, "v1.2", kind, "c1", {"name": "n", "recognitionModel": "recognition_03"})
    put(client, "v1.2", kind, "c2", {"name": "n"})
    plain = client.get(f"/face/v1.2/{kind}/c1", headers=KEY_HEADERS).json()
    assert "recognitionModel" not in plain
    r = client.get(f"/face/v1.2/{kind}/c1", params={"returnRecognitionModel": "true"}, headers=KEY_HEADERS)
    assert r.json()["recognitionModel"] == "recognition_03"
    r = client.get(f"/face/v1.2/{kind}", params={"returnRecognitionModel": "true"}, headers=KEY_HEADERS)
    assert {c[PARAM[kind]]: c["recognitionModel"] for c in r.json()} == {
        "c1": "recognition_03",
        "c2": "recognition_01",
    }


def test_face_list_list_has_no_faces_and_get_embeds_them(client):
    put(client, "v1.0", "facelists", "fl")
    r = add(client, "/face/v1.0/facelists/fl/persistedfaces", single_face_png(), userData="u")
    fid = r.json()["persistedFaceId"]
    listed = client.get("/face/v1.0/facelists", headers=KEY_HEADERS).json()
    assert listed == [{"faceListId": "fl", "name": "fl"}]
    got = client.get("/face/v1.0/facelists/fl", headers=KEY_HEADERS).json()
    assert got["persistedFaces"] == [{"persistedFaceId": fid, "userData": "u"}]


# -- §3 update rules ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["largepersongroups", "largefacelists"])
def test_update_with_neither_name_nor_userdata_is_400(client, kind):
    put(client, "v1.0", kind, "c1")
    r = client.patch(f"/face/v1.0/{kind}/c1", json={}, headers=KEY_HEADERS)
    assert err(r) == (400, "BadArgument")


def test_update_leaves_omitted_fields_unchanged(client):
    put(client, "v1.0", "persongroups", "g1", {"name": "n", "userData": "u"})
    r = client.patch("/face/v1.0/persongroups/g1", json={"userData": "v"}, headers=KEY_HEADERS)
    assert r.status_code == 200 and r.content == b""
    assert client.get("/face/v1.0/persongroups/g1", headers=KEY_HEADERS).json() == {
        "personGroupId": "g1",
        "name": "n",
        "userData": "v",
    }


# -- §4 paging ------------------------------------------------------------------------------


def test_collection_paging_start_exclusive_sorted(client):
    for cid in ("b", "a", "d", "c", "e"):
        put(client, "v1.0", "largepersongroups", cid)

    def ids(**params):
        r = client.get("/face/v1.0/largepersongroups", params=params, headers=KEY_HEADERS)
        assert r.status_code == 200, r.text
        return [g["largePersonGroupId"] for g in r.json()]

    assert ids() == ["a", "b", "c", "d", "e"]
    assert ids(start="", top=2) == ["a", "b"]
    assert ids(start="b", top=3) == ["c", "d", "e"]
    assert ids(start="bb") == ["c", "d", "e"]
    assert ids(start="e") == []


@pytest.mark.parametrize(
    "params",
    [{"top": 0}, {"top": 1001}, {"top": "x"}, {"start": "s" * 65}],
    ids=["top0", "top1001", "top-nan", "start65"],
)
def test_bad_paging_parameters_are_400(client, params):
    r = client.get("/face/v1.0/persongroups", params=params, headers=KEY_HEADERS)
    assert err(r) == (400, "BadArgument")


def test_person_and_face_lists_page_by_id(client):
    put(client, "v1.2", "persongroups", "g1")
    pids = sorted(new_person(client, "v1.2", "persongroups", "g1") for _ in range(5))
    seen, start = [], ""
    while True:
        page = client.get(
            "/face/v1.2/persongroups/g1/persons", params={"start": start, "top": 2}, headers=KEY_HEADERS
        ).json()
        if not page:
            break
        seen += [p["personId"] for p in page]
        start = page[-1]["personId"]
    assert seen == pids


# -- §5 add-face input and image rules ------------------------------------------------------


@pytest.fixture
def lfl(client):
    put(client, "v1.0", "largefacelists", "l1")
    return "/face/v1.0/largefacelists/l1/persistedfaces"


def add(client, url, data, **params):
    return client.post(url, params=params or None, content=data, headers=OCTET)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_supported_formats(client, lfl, fmt):
    r = add(client, lfl, face_image(seed=7, size=(96, 96), fmt=fmt))
    assert r.status_code == 200, r.text


def test_image_without_face_is_invalid_image(client, lfl):
    assert err(add(client, lfl, face_image(size=(128, 128), uniform=True))) == (400, "InvalidImage")


def test_two_faces_need_target_face(client, lfl):
    image = face_image(seed=3, size=(400, 200), faces=[(10, 10, 100, 100), (200, 20, 120, 120)])
    assert err(add(client, lfl, image)) == (400, "InvalidImage")
    assert add(client, lfl, image, targetFace="200,20,120,120").status_code == 200


@pytest.mark.parametrize("target", ["1,2,3", "a,b,c,d", "1,2,3,4,5", "0,0,5000,5000"])
def test_bad_target_face_is_bad_argument(client, lfl, target):
    r = add(client, lfl, face_image(seed=4, size=(200, 200)), targetFace=target)
    assert err(r) == (400, "BadArgument")


def test_too_small_and_too_large_images_are_invalid_image_size(client, lfl):
    assert err(add(client, lfl, b"\xff\xd8\xff" + b"0" * 500)) == (400, "InvalidImageSize")
    big = b"\xff\xd8\xff" + b"0" * (6 * 1024 * 1024)
    assert err(add(client, lfl, big)) == (400, "InvalidImageSize")


def test_undecodable_image_is_invalid_image(client, lfl):
    assert err(add(client, lfl, bytes(range(256)) * 8)) == (400, "InvalidImage")


def test_image_side_limits(client, lfl):
    # Under 36 px no face can be detected (digest §5). Which code applies is not documented:
    # the digest gives InvalidImageSize for the file size and InvalidImage for "no face".
    status, code = err(add(client, lfl, face_image(seed=5, size=(200, 30), fmt="BMP")))
    assert status == 400 and code in ("InvalidImage", "InvalidImageSize")


@pytest.mark.parametrize("url", ["not a url", "ftp://127.0.0.1/x.jpg", "http://127.0.0.1:9/x.jpg"])
def test_bad_url_is_invalid_url(client, lfl, url):
    r = client.post(lfl, json={"url": url}, headers=KEY_HEADERS)
    assert err(r) == (400, "InvalidURL")


def test_face_user_data_limit_and_detection_model(client, lfl):
    assert err(add(client, lfl, single_face_png(), userData="u" * 1025)) == (400, "BadArgument")
    assert add(client, lfl, single_face_png(), userData="u" * 1024).status_code == 200
    assert err(add(client, lfl, single_face_png(), detectionModel="detection_09")) == (400, "BadArgument")


def test_unsupported_content_type_is_rejected(client, lfl):
    r = client.post(lfl, content=single_face_png(), headers={**KEY_HEADERS, "Content-Type": "text/plain"})
    assert r.status_code in (400, 415)
    err(r)


# -- §6 quotas --------------------------------------------------------------------------------


def test_quota_exceeded_is_403():
    with make_client(limits={"faces_per_person": 2}) as client:
        put(client, "v1.0", "persongroups", "g1")
        url = faces_url(client, "v1.0", "persongroups", "g1")
        for _ in range(2):
            assert add(client, url, single_face_png()).status_code == 200
        assert err(add(client, url, single_face_png())) == (403, "QuotaExceeded")


# -- §8 training --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["persongroups", "largepersongroups", "largefacelists"])
def test_never_trained_is_404_not_trained(client, kind):
    put(client, "v1.0", kind, "c1")
    r = client.get(f"/face/v1.0/{kind}/c1/training", headers=KEY_HEADERS)
    assert err(r) == (404, f"{CODES[kind]}NotTrained")


@pytest.mark.parametrize("kind", ["persongroups", "largepersongroups", "largefacelists"])
def test_train_while_training_is_409(client, kind):
    put(client, "v1.0", kind, "c1")
    add(client, faces_url(client, "v1.0", kind, "c1"), single_face_png())
    assert client.post(f"/face/v1.0/{kind}/c1/train", headers=KEY_HEADERS).status_code == 202
    r = client.post(f"/face/v1.0/{kind}/c1/train", headers=KEY_HEADERS)
    assert err(r) == (409, f"{CODES[kind]}TrainingNotFinished")
    status = client.get(f"/face/v1.0/{kind}/c1/training", headers=KEY_HEADERS).json()
    assert status["status"] == "notstarted"  # the fake clock has not moved


def test_face_lists_have_no_training(client):
    put(client, "v1.0", "facelists", "fl")
    r = client.post("/face/v1.0/facelists/fl/train", headers=KEY_HEADERS)
    assert r.status_code in (404, 405)


@pytest.mark.parametrize("version", PREFIXES)
def test_training_status_spelling_and_fields(client, clock, version):
    old = version in ("v1.0", "v1.0-preview")
    put(client, version, "largefacelists", "l1")
    add(client, f"/face/{version}/largefacelists/l1/persistedfaces", single_face_png())
    r = client.post(f"/face/{version}/largefacelists/l1/train", headers=KEY_HEADERS)
    assert r.status_code == 202 and r.content == b""
    assert r.headers["operation-location"].endswith(f"/face/{version}/largefacelists/l1/training")
    bodies = poll_until_trained(
        lambda: client.get(f"/face/{version}/largefacelists/l1/training", headers=KEY_HEADERS).json(),
        clock,
    )
    for pending in bodies[:-1]:
        assert set(pending) >= {"status", "createdDateTime", "lastActionDateTime"}
    seen = [b["status"] for b in bodies]
    expected = ["notstarted" if old else "notStarted", "running", "succeeded"]
    assert sorted(set(seen), key=seen.index) == expected
    body = bodies[-1]
    assert {"createdDateTime", "lastActionDateTime", "lastSuccessfulTrainingDateTime"} <= set(body)
    for key in ("createdDateTime", "lastActionDateTime", "lastSuccessfulTrainingDateTime"):
        assert body[key].endswith("Z"), body


def test_empty_group_training_fails(client, clock):
    put(client, "v1.0", "persongroups", "g1")
    assert client.post("/face/v1.0/persongroups/g1/train", headers=KEY_HEADERS).status_code == 202
    body = poll_until_trained(
        lambda: client.get("/face/v1.0/persongroups/g1/training", headers=KEY_HEADERS).json(), clock
    )[-1]
    assert body["status"] == "failed", body
    assert isinstance(body.get("message"), str) and body["message"]


# -- §1/§9/§10 auth and throttling --------------------------------------------------------


def test_missing_or_wrong_key_is_401():
    with make_client(key="secret") as client:
        for headers in ({}, {"Ocp-Apim-Subscription-Key": "nope"}):
            r = client.get("/face/v1.2/persongroups", headers=headers)
            assert err(r) == (401, "401")
        r = client.get("/face/v1.2/persongroups", headers={"Ocp-Apim-Subscription-Key": "secret"})
        assert r.status_code == 200
