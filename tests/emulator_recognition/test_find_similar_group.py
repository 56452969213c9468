"""Find similar (faceIds, FaceList, LargeFaceList) and group on the deterministic engine."""

from __future__ import annotations

import uuid

import pytest

from tests.imagegen import face_image


def error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def person(label: str, seed: int) -> bytes:
    return face_image(seed, identity=label)


def test_face_list_needs_no_training_and_sees_current_faces(face):
    face.collection("facelists", "fl")
    query = face.face_id(person("ann", 1))
    error(face.post("/findsimilars", json={"faceId": query, "faceListId": "fl"}), 400, "FaceListNotReady")
    ann = face.add_face("/facelists/fl", person("ann", 2))
    face.add_face("/facelists/fl", person("ben", 3))
    r = face.post("/findsimilars", json={"faceId": query, "faceListId": "fl"})
    assert r.status_code == 200, r.text
    assert [c["persistedFaceId"] for c in r.json()] == [ann]
    anyone = face.post(
        "/findsimilars", json={"faceId": query, "faceListId": "fl", "mode": "matchFace"}
    ).json()
    assert len(anyone) == 2 and anyone[0]["persistedFaceId"] == ann
    assert anyone[0]["confidence"] >= anyone[1]["confidence"]
    assert face.http.delete(f"{face.prefix}/facelists/fl/persistedfaces/{ann}").status_code == 200
    assert face.post("/findsimilars", json={"faceId": query, "faceListId": "fl"}).json() == []


def test_large_face_list_answers_from_training(face):
    face.collection("largefacelists", "lfl")
    query = face.face_id(person("ann", 1))
    body = {"faceId": query, "largeFaceListId": "lfl"}
    first = face.add_face("/largefacelists/lfl", person("ann", 1))
    error(face.post("/findsimilars", json=body), 400, "LargeFaceListNotTrained")
    face.train("largefacelists", "lfl", finish=False)
    error(face.post("/findsimilars", json=body), 409, "LargeFaceListTrainingNotFinished")
    face.clock.advance(60)
    assert face.post("/findsimilars", json=body).json() == [{"persistedFaceId": first, "confidence": 1.0}]
    second = face.add_face("/largefacelists/lfl", person("ann", 5))
    assert [c["persistedFaceId"] for c in face.post("/findsimilars", json=body).json()] == [first]
    face.train("largefacelists", "lfl")
    assert [c["persistedFaceId"] for c in face.post("/findsimilars", json=body).json()] == [first, second]
    limited = face.post("/findsimilars", json={**body, "maxNumOfCandidatesReturned": 1}).json()
    assert [c["persistedFaceId"] for c in limited] == [first]


def test_find_similar_among_face_ids(face):
    query = face.face_id(person("ann", 1))
    same = face.face_id(person("ann", 2))
    other = face.face_id(person("ben", 3))
    r = face.post("/findsimilars", json={"faceId": query, "faceIds": [other, same]})
    assert r.status_code == 200
    assert [c["faceId"] for c in r.json()] == [same]
    assert set(r.json()[0]) == {"faceId", "confidence"}


def test_find_similar_errors(face):
    face.collection("facelists", "fl")
    face.add_face("/facelists/fl", person("ann", 2))
    query = face.face_id(person("ann", 1))
    error(face.post("/findsimilars", json={"faceId": query}), 400, "BadArgument")
    error(
        face.post("/findsimilars", json={"faceId": query, "faceListId": "fl", "largeFaceListId": "x"}),
        400,
        "BadArgument",
    )
    error(face.post("/findsimilars", json={"faceListId": "fl"}), 400, "BadArgument")
    error(face.post("/findsimilars", json={"faceId": query, "faceIds": []}), 400, "BadArgument")
    error(face.post("/findsimilars", json={"faceId": query, "faceIds": [query] * 1001}), 400, "BadArgument")
    for bad in (0, 1001):
        error(
            face.post(
                "/findsimilars", json={"faceId": query, "faceListId": "fl", "maxNumOfCandidatesReturned": bad}
            ),
            400,
            "BadArgument",
        )
    error(
        face.post("/findsimilars", json={"faceId": query, "faceListId": "fl", "mode": "matchAll"}),
        400,
        "BadArgument",
    )
    error(face.post("/findsimilars", json={"faceId": query, "faceListId": "nope"}), 400, "FaceListNotFound")
    error(
        face.post("/findsimilars", json={"faceId": query, "largeFaceListId": "nope"}),
        400,
        "LargeFaceListNotFound",
    )
    error(
        face.post("/findsimilars", json={"faceId": str(uuid.uuid4()), "faceListId": "fl"}),
        400,
        "FaceNotFound",
    )
    old = face.face_id(person("ann", 1), model="recognition_01")
    error(face.post("/findsimilars", json={"faceId": old, "faceListId": "fl"}), 400, "BadArgument")
    error(face.post("/findsimilars", json={"faceId": old, "faceIds": [query]}), 400, "BadArgument")


def test_group_partitions_faces(face):
    ann = [face.face_id(person("ann", s)) for s in (1, 2, 3)]
    ben = [face.face_id(person("ben", s)) for s in (4, 5)]
    loner = face.face_id(person("cy", 6))
    r = face.post("/group", json={"faceIds": [ben[0], ann[0], loner, ann[1], ben[1], ann[2]]})
    assert r.status_code == 200, r.text
    body = r.json()
    assert [sorted(g) for g in body["groups"]] == [sorted(ann), sorted(ben)]
    assert body["messyGroup"] == [loner]


@pytest.mark.parametrize("count", [0, 1, 1001])
def test_group_limits(face, count):
    fid = face.face_id(person("ann", 1))
    error(face.post("/group", json={"faceIds": [fid] * count}), 400, "BadArgument")


def test_group_model_mismatch(face):
    a = face.face_id(person("ann", 1), model="recognition_04")
    b = face.face_id(person("ann", 1), model="recognition_03")
    error(face.post("/group", json={"faceIds": [a, b]}), 400, "BadArgument")
