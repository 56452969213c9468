"""Persons and persisted faces in PG/LPG; faces of FaceList and LargeFaceList."""

from __future__ import annotations

import re

import pytest

from tests.emulator.emulator_helpers import OCTET, PREFIXES, assert_error, make_person, png

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


@pytest.mark.parametrize("prefix", ["/face/v1.0", "/face/v1.0-preview", "/face/v1.2"])
@pytest.mark.parametrize(
    ("kind", "code"), [("persongroups", "PersonGroup"), ("largepersongroups", "LargePersonGroup")]
)
def test_person_and_face_lifecycle(client, prefix, kind, code):
    pid = make_person(client, prefix, kind)
    assert UUID4.match(pid)
    base = f"{prefix}/{kind}/g/persons/{pid}"
    assert client.get(base).json() == {"personId": pid, "name": "P", "persistedFaceIds": []}
    r = client.post(
        f"{base}/persistedfaces",
        params={"userData": "face-ud", "detectionModel": "detection_03"},
        content=png(1),
        headers=OCTET,
    )
    assert r.status_code == 200, r.text
    assert list(r.json()) == ["persistedFaceId"]
    fid = r.json()["persistedFaceId"]
    assert UUID4.match(fid)
    fid2 = client.post(f"{base}/persistedFaces", content=png(2), headers=OCTET).json()["persistedFaceId"]
    assert client.get(base).json()["persistedFaceIds"] == [fid, fid2]
    assert client.get(f"{base}/persistedfaces/{fid}").json() == {
        "persistedFaceId": fid,
        "userData": "face-ud",
    }
    assert client.get(f"{base}/persistedfaces/{fid2}").json() == {"persistedFaceId": fid2}
    r = client.patch(f"{base}/persistedfaces/{fid2}", json={"userData": "later"})
    assert r.status_code == 200 and r.content == b""
    assert client.get(f"{base}/persistedfaces/{fid2}").json()["userData"] == "later"
    assert_error(
        client.patch(f"{base}/persistedfaces/{fid2}", json={"userData": "u" * 1025}), 400, "BadArgument"
    )
    r = client.patch(base, json={"name": "Q", "userData": "pu"})
    assert r.status_code == 200
    assert client.get(base).json() == {
        "personId": pid,
        "name": "Q",
        "userData": "pu",
        "persistedFaceIds": [fid, fid2],
    }
    listed = client.get(f"{prefix}/{kind}/g/persons").json()
    assert listed == [client.get(base).json()]
    assert client.delete(f"{base}/persistedfaces/{fid}").status_code == 200
    assert_error(client.get(f"{base}/persistedfaces/{fid}"), 404, "PersistedFaceNotFound")
    assert_error(client.delete(f"{base}/persistedfaces/{fid}"), 404, "PersistedFaceNotFound")
    assert_error(client.get(f"{base}/persistedfaces/not-a-uuid"), 404, "PersistedFaceNotFound")
    assert client.delete(base).status_code == 200
    assert_error(client.get(base), 404, "PersonNotFound", "Person is not found.\r\nParameter name: personId")
    assert_error(client.get(f"{base}/persistedfaces/{fid2}"), 404, "PersonNotFound")
    assert_error(client.post(f"{base}/persistedfaces", content=png(1), headers=OCTET), 404, "PersonNotFound")
    missing = f"{prefix}/{kind}/nope/persons"
    assert_error(client.get(missing), 404, f"{code}NotFound")
    assert_error(client.post(missing, json={"name": "x"}), 404, f"{code}NotFound")
    assert_error(client.get(f"{missing}/{pid}"), 404, f"{code}NotFound")


def test_person_validation(client):
    make_person(client)
    base = "/face/v1.0/persongroups/g/persons"
    assert_error(client.post(base, json={}), 400, "BadArgument", "'name' is empty.")
    assert_error(client.post(base, json={"name": "n" * 129}), 400, "BadArgument", "'name' is too long.")
    assert_error(
        client.post(base, json={"name": "n", "userData": "u" * 16385}),
        400,
        "BadArgument",
        "'userData' is too long.",
    )
    pid = client.post(base, json={"name": "n"}).json()["personId"]
    assert_error(client.patch(f"{base}/{pid}", json={}), 400, "BadArgument")


def test_person_paging_sorted_by_id(client):
    make_person(client)
    base = "/face/v1.0/persongroups/g/persons"
    for _ in range(4):
        client.post(base, json={"name": "n"})
    ids = [p["personId"] for p in client.get(base).json()]
    assert ids == sorted(ids) and len(ids) == 5
    assert [p["personId"] for p in client.get(base, params={"top": 2}).json()] == ids[:2]
    assert [p["personId"] for p in client.get(base, params={"start": ids[1]}).json()] == ids[2:]
    assert_error(client.get(base, params={"top": 0}), 400, "BadArgument")
    assert_error(client.get(base, params={"start": "s" * 65}), 400, "BadArgument")


@pytest.mark.parametrize("prefix", PREFIXES)
def test_facelist_faces(client, prefix):
    base = f"{prefix}/facelists/fl"
    client.put(base, json={"name": "F"})
    f1 = client.post(f"{base}/persistedfaces?userData=one", content=png(1), headers=OCTET).json()[
        "persistedFaceId"
    ]
    f2 = client.post(f"{base}/persistedfaces", content=png(2), headers=OCTET).json()["persistedFaceId"]
    got = client.get(base).json()
    assert got == {
        "faceListId": "fl",
        "name": "F",
        "persistedFaces": [{"persistedFaceId": f1, "userData": "one"}, {"persistedFaceId": f2}],
    }
    assert "persistedFaces" not in client.get(f"{prefix}/facelists").json()[0]
    assert client.delete(f"{base}/persistedfaces/{f1}").status_code == 200
    assert_error(client.delete(f"{base}/persistedfaces/{f1}"), 404, "PersistedFaceNotFound")
    assert client.get(base).json()["persistedFaces"] == [{"persistedFaceId": f2}]
    assert_error(
        client.post(f"{prefix}/facelists/none/persistedfaces", content=png(1), headers=OCTET),
        404,
        "FaceListNotFound",
    )


def test_largefacelist_faces_and_paging(client):
    base = "/face/v1.2/largefacelists/l"
    client.put(base, json={"name": "L"})
    ids = []
    for seed in range(4):
        r = client.post(
            f"{base}/persistedfaces", params={"userData": f"u{seed}"}, content=png(seed), headers=OCTET
        )
        ids.append(r.json()["persistedFaceId"])
    listed = client.get(f"{base}/persistedfaces").json()
    assert [f["persistedFaceId"] for f in listed] == sorted(ids)
    assert all(set(f) == {"persistedFaceId", "userData"} for f in listed)
    first = sorted(ids)[0]
    assert [
        f["persistedFaceId"]
        for f in client.get(f"{base}/persistedfaces", params={"start": first, "top": 2}).json()
    ] == sorted(ids)[1:3]
    assert_error(client.get(f"{base}/persistedfaces", params={"top": 1001}), 400, "BadArgument")
    assert client.patch(f"{base}/persistedfaces/{first}", json={"userData": "new"}).status_code == 200
    assert client.get(f"{base}/persistedfaces/{first}").json() == {
        "persistedFaceId": first,
        "userData": "new",
    }
    assert "persistedFaces" not in client.get(base).json()
    assert client.delete(f"{base}/persistedfaces/{first}").status_code == 200
    assert_error(client.get(f"{base}/persistedfaces/{first}"), 404, "PersistedFaceNotFound")
    assert_error(client.get("/face/v1.2/largefacelists/zz/persistedfaces"), 404, "LargeFaceListNotFound")


def test_delete_group_deletes_persons_and_faces(client):
    pid = make_person(client)
    client.post(f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces", content=png(1), headers=OCTET)
    assert client.delete("/face/v1.0/persongroups/g").status_code == 200
    make_person(client)
    assert len(client.get("/face/v1.0/persongroups/g/persons").json()) == 1
