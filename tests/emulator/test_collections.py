"""Collections (PG, LPG, FL, LFL): CRUD, shapes, validation and errors on every prefix."""

from __future__ import annotations

import pytest

from tests.emulator.emulator_helpers import NEW_STYLE, PREFIXES, assert_error, make_person

KINDS = [
    ("persongroups", "personGroupId", "PersonGroup"),
    ("largepersongroups", "largePersonGroupId", "LargePersonGroup"),
    ("facelists", "faceListId", "FaceList"),
    ("largefacelists", "largeFaceListId", "LargeFaceList"),
]


@pytest.mark.parametrize("prefix", PREFIXES)
@pytest.mark.parametrize(("kind", "id_field", "code"), KINDS)
def test_crud(client, prefix, kind, id_field, code):
    base = f"{prefix}/{kind}"
    r = client.put(f"{base}/c-1_x", json={"name": "One", "recognitionModel": "recognition_04"})
    assert r.status_code == 200
    assert r.content == b"" and r.headers["content-length"] == "0"
    assert "content-type" not in r.headers
    got = client.get(f"{base}/c-1_x").json()
    expected = {id_field: "c-1_x", "name": "One"}
    if kind == "facelists":
        expected["persistedFaces"] = []
    assert got == expected
    got = client.get(f"{base}/c-1_x", params={"returnRecognitionModel": "true"}).json()
    assert got["recognitionModel"] == "recognition_04"
    r = client.patch(f"{base}/c-1_x", json={"userData": "ud"})
    assert r.status_code == 200 and r.content == b""
    got = client.get(f"{base}/c-1_x").json()
    assert got["name"] == "One" and got["userData"] == "ud"
    client.patch(f"{base}/c-1_x", json={"name": "Renamed"})
    assert client.get(f"{base}/c-1_x").json()["userData"] == "ud"
    listed = client.get(base).json()
    assert listed == [{id_field: "c-1_x", "name": "Renamed", "userData": "ud"}]
    r = client.put(f"{base}/c-1_x", json={"name": "again"})
    assert_error(r, 409, f"{code}Exists")
    assert ("x-ms-error-code" in r.headers) == (prefix in NEW_STYLE)
    r = client.delete(f"{base}/c-1_x")
    assert r.status_code == 200 and r.content == b""
    assert_error(client.get(f"{base}/c-1_x"), 404, f"{code}NotFound")
    assert_error(client.delete(f"{base}/c-1_x"), 404, f"{code}NotFound")
    assert_error(client.patch(f"{base}/c-1_x", json={"name": "x"}), 404, f"{code}NotFound")


def test_not_found_message_matches_recording(client):
    r = client.delete("/face/v1.0/persongroups/unknown")
    assert r.content == (
        b'{"error":{"code":"PersonGroupNotFound","message":"Person group is not found.'
        b'\\r\\nParameter name: personGroupId"}}'
    )
    assert r.headers["content-type"] == "application/json; charset=utf-8"
    assert "x-ms-error-code" not in r.headers
    r = client.delete("/face/v1.2/persongroups/unknown")
    assert r.headers["x-ms-error-code"] == "PersonGroupNotFound"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'name' is empty."),
        ({"name": ""}, "'name' is empty."),
        ({"name": "x" * 129}, "'name' is too long."),
        ({"name": "x", "userData": "u" * 16385}, "'userData' is too long."),
        ({"name": "x", "recognitionModel": "recognition_05"}, "'recognitionModel' is invalid."),
        ({"name": 5}, "Request body is invalid."),
        ([1, 2], "Request body is invalid."),
    ],
)
def test_create_validation(client, body, message):
    assert_error(client.put("/face/v1.0/persongroups/g", json=body), 400, "BadArgument", message)


def test_create_limits_are_inclusive(client):
    body = {"name": "x" * 128, "userData": "u" * 16384}
    assert client.put("/face/v1.0/largefacelists/l", json=body).status_code == 200
    assert client.put("/face/v1.0/persongroups/" + "a" * 64, json={"name": "n"}).status_code == 200


def test_invalid_json(client):
    r = client.put(
        "/face/v1.0/persongroups/g", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert_error(r, 400, "BadArgument", "JSON parsing error.")
    client.put("/face/v1.0/persongroups/g", json={"name": "n"})
    r = client.patch("/face/v1.0/persongroups/g", content=b"", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BadArgument", "JSON parsing error.")


@pytest.mark.parametrize("bad", ["UPPER", "a b", "a" * 65, "x.y", "%C3%A9"])
def test_malformed_ids(client, bad):
    r = client.put(f"/face/v1.0/largepersongroups/{bad}", json={"name": "n"})
    assert_error(r, 400, "BadArgument")
    assert r.json()["error"]["message"].startswith("Large person group ID is invalid.")
    assert_error(client.get(f"/face/v1.0/largepersongroups/{bad}"), 404, "LargePersonGroupNotFound")
    assert_error(client.delete(f"/face/v1.0/facelists/{bad}"), 404, "FaceListNotFound")
    assert_error(
        client.patch(f"/face/v1.0/largefacelists/{bad}", json={"name": "n"}), 404, "LargeFaceListNotFound"
    )


def test_patch_needs_a_field(client):
    client.put("/face/v1.2/largepersongroups/g", json={"name": "n"})
    for body in ({}, {"name": None, "userData": None}):
        r = client.patch("/face/v1.2/largepersongroups/g", json=body)
        assert_error(r, 400, "BadArgument", "Both 'name' and 'userData' are empty.")
    assert_error(
        client.patch("/face/v1.2/largepersongroups/g", json={"name": ""}),
        400,
        "BadArgument",
        "'name' is empty.",
    )


def test_return_recognition_model_flag(client):
    client.put("/face/v1.0/persongroups/g", json={"name": "n"})
    assert (
        "recognitionModel" not in client.get("/face/v1.0/persongroups/g?returnRecognitionModel=false").json()
    )
    assert (
        client.get("/face/v1.0/persongroups/g?returnRecognitionModel=True").json()["recognitionModel"]
        == "recognition_01"
    )
    assert (
        client.get("/face/v1.0/persongroups?returnRecognitionModel=true").json()[0]["recognitionModel"]
        == "recognition_01"
    )
    assert client.get("/face/v1.0/facelists?returnRecognitionModel=true").json() == []
    assert_error(client.get("/face/v1.0/persongroups/g?returnRecognitionModel=maybe"), 400, "BadArgument")


def test_paging(client):
    ids = ["a", "b", "c", "d", "e"]
    for gid in reversed(ids):
        client.put(f"/face/v1.0/largefacelists/{gid}", json={"name": gid})

    def page(**params):
        r = client.get("/face/v1.0/largefacelists", params=params)
        assert r.status_code == 200, r.text
        return [x["largeFaceListId"] for x in r.json()]

    assert page() == ids
    assert page(start="", top=2) == ["a", "b"]
    assert page(start="b", top=3) == ["c", "d", "e"]
    assert page(start="e") == []
    assert page(start="bb") == ["c", "d", "e"]
    assert page(top=1000) == ids
    assert page(start="x" * 64) == []
    for top in ("0", "1001", "-1", "two"):
        assert_error(
            client.get("/face/v1.0/largefacelists", params={"top": top}),
            400,
            "BadArgument",
            "'top' is invalid.",
        )
    r = client.get("/face/v1.0/largefacelists", params={"start": "x" * 65})
    assert_error(r, 400, "BadArgument", "'start' is too long.")


def test_facelists_do_not_page(client):
    for gid in ("b", "a"):
        client.put(f"/face/v1.0/facelists/{gid}", json={"name": gid})
    r = client.get("/face/v1.0/facelists", params={"start": "a", "top": "1"})
    assert [x["faceListId"] for x in r.json()] == ["a", "b"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/face/v1.0/nothing"),
        ("GET", "/face/v9.9/persongroups"),
        ("GET", "/"),
        ("POST", "/face/v1.0/persongroups"),
        ("GET", "/face/v1.0/facelists/f/training"),
        ("POST", "/face/v1.0/facelists/f/train"),
        ("GET", "/face/v1.0/facelists/f/persistedfaces"),
        ("GET", "/face/v1.0/persongroups/g/persons/p/persistedfaces"),
        ("GET", "/face/v1.0/persongroups/g/extra/x/y/z/w"),
        ("GET", "/face/v1.0/detect"),
        ("POST", "/face/v1.0/snapshots"),
    ],
)
def test_unknown_routes(client, method, path):
    r = client.request(method, path)
    assert r.status_code == 404
    assert set(r.json()["error"]) == {"code", "message"}


def test_segments_are_case_insensitive(client):
    assert client.put("/face/v1.0/PersonGroups/g", json={"name": "n"}).status_code == 200
    assert client.get("/face/V1.0/persongroups/g").status_code == 200
    pid = client.post("/face/v1.0/persongroups/g/Persons", json={"name": "p"}).json()["personId"]
    assert client.get(f"/face/v1.0/persongroups/g/persons/{pid.upper()}").status_code == 200


def test_encoded_slash_in_an_id_is_part_of_the_id_not_a_separator(client):
    assert client.put("/face/v1.0/persongroups/g1", json={"name": "n"}).status_code == 200
    assert client.post("/face/v1.0/persongroups/g1/persons", json={"name": "p"}).status_code == 200
    # "g1/persons" is one (invalid) group id, so this is Get PersonGroup, not List Persons.
    assert_error(client.get("/face/v1.0/persongroups/g1%2Fpersons"), 404, "PersonGroupNotFound")
    assert_error(client.get("/face/v1.0/persongroups/g1%2fpersons"), 404, "PersonGroupNotFound")
    assert_error(client.delete("/face/v1.0/persongroups/g1%2F"), 404, "PersonGroupNotFound")
    r = client.put("/face/v1.0/persongroups/a%2Fb", json={"name": "n"})
    assert_error(r, 400, "BadArgument")
    assert [g["personGroupId"] for g in client.get("/face/v1.0/persongroups").json()] == ["g1"]
    stats = client.get("/_emulator/stats").json()["operations"]
    assert "PersonGroupPerson_List" not in stats and stats["PersonGroup_Get"] == 2


def test_encoded_slash_in_a_person_id_is_person_not_found(client):
    pid = make_person(client)
    r = client.get(f"/face/v1.0/persongroups/g/persons/{pid}%2Fpersistedfaces")
    assert_error(r, 404, "PersonNotFound")


def test_other_percent_encodings_in_a_path_are_decoded_per_segment(client):
    assert client.put("/face/v1.0/persongroups/g%2D1", json={"name": "n"}).status_code == 200
    assert client.get("/face/v1.0/persongroups/g-1").json()["personGroupId"] == "g-1"
    assert client.get("/face/v1%2E0/persongroups/g-1").status_code == 200
