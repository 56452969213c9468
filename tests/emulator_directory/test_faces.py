"""Faces of directory persons, enrolled per recognition model."""

from __future__ import annotations

import pytest

from facesync.emulator import EmulatorSettings
from tests.emulator_directory.conftest import OCTET, PREVIEWS, Directory, error, image
from tests.imagegen import face_image

UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100"


@pytest.fixture
def pid(directory: Directory) -> str:
    return directory.person("Dad")


def test_add_face_answers_202_with_the_face_and_where_to_follow_it(directory: Directory, pid: str):
    r = directory.add_face_response(pid, image(1), userData="front", detectionModel="detection_03")
    assert r.status_code == 202
    fid = r.json()["persistedFaceId"]
    assert set(r.json()) == {"persistedFaceId"}
    assert r.headers["location"].endswith(
        f"/face/v1.2-preview.1/persons/{pid}/recognitionModels/recognition_04/persistedfaces/{fid}"
    )
    assert "/operations/" in r.headers["operation-location"]
    assert directory.finish(r)["status"] == "succeeded"
    assert directory.get(f"{directory.faces_path(pid)}/{fid}").json() == {
        "persistedFaceId": fid,
        "userData": "front",
    }


def test_v1_0_preview_spells_the_face_segment_as_recorded(directory: Directory, pid: str):
    old = directory.at("v1.0-preview")
    r = old.post(
        f"/persons/{pid}/recognitionModels/recognition_02/persistedFaces", content=image(2), headers=OCTET
    )
    assert r.status_code == 202, r.text
    fid = r.json()["persistedFaceId"]
    assert r.headers["location"].endswith(f"/recognitionModels/recognition_02/persistedFaces/{fid}")
    # paths match case-insensitively, on every preview
    for version in PREVIEWS:
        got = directory.at(version).get(
            f"/persons/{pid}/RecognitionModels/recognition_02/PersistedFaces/{fid}"
        )
        assert got.json() == {"persistedFaceId": fid}


def test_add_face_from_a_url(directory: Directory, pid: str, image_server):
    base, files = image_server
    files["/dad.png"] = image(3)
    r = directory.post(directory.faces_path(pid), json={"url": f"{base}/dad.png"})
    assert r.status_code == 202, r.text
    assert directory.face_ids(pid) == [r.json()["persistedFaceId"]]
    stats = directory.stats()["operations"]
    assert stats["PersonDirectory_AddPersonFaceFromUrl"] == 1
    error(directory.post(directory.faces_path(pid), json={"url": f"{base}/missing.png"}), 400, "InvalidURL")
    error(directory.post(directory.faces_path(pid), json={"url": "ftp://x"}), 400, "InvalidURL")


def test_faces_are_kept_per_recognition_model(directory: Directory, pid: str):
    f3 = directory.add_face(pid, image(1), model="recognition_03")
    f4a = directory.add_face(pid, image(2), model="recognition_04")
    f4b = directory.add_face(pid, image(3), model="recognition_04")
    assert directory.get(directory.faces_path(pid, "recognition_03")).json() == {
        "personId": pid,
        "persistedFaceIds": [f3],
    }
    assert directory.face_ids(pid, "recognition_04") == [f4a, f4b]  # in the order added
    assert directory.face_ids(pid, "recognition_02") == []
    # a face belongs to its model's path only
    error(directory.get(f"{directory.faces_path(pid, 'recognition_04')}/{f3}"), 404, "PersistedFaceNotFound")
    # the person body carries no faces (the spec's PersonDirectoryPerson)
    assert set(directory.get(f"/persons/{pid}").json()) == {"personId", "name"}
    assert all(set(p) == {"personId", "name"} for p in directory.get("/persons").json())


def test_update_face_user_data(directory: Directory, pid: str):
    fid = directory.add_face(pid, image(1), userData="a")
    path = f"{directory.faces_path(pid)}/{fid}"
    r = directory.patch(path, json={"userData": "b"})
    assert r.status_code == 200 and r.content == b""
    assert directory.get(path).json() == {"persistedFaceId": fid, "userData": "b"}
    error(directory.patch(path, json={"userData": "x" * 1025}), 400, "BadArgument", "'userData' is too long.")
    assert directory.patch(path, json={}).status_code == 200  # like the other kinds: clears it
    assert directory.get(path).json() == {"persistedFaceId": fid}


def test_delete_face_answers_202_and_the_face_is_gone(directory: Directory, pid: str):
    keep = directory.add_face(pid, image(1))
    gone = directory.add_face(pid, image(2))
    r = directory.delete(f"{directory.faces_path(pid)}/{gone}")
    assert r.status_code == 202 and r.content == b""
    assert directory.finish(r)["status"] == "succeeded"
    assert directory.face_ids(pid) == [keep]
    error(directory.delete(f"{directory.faces_path(pid)}/{gone}"), 404, "PersistedFaceNotFound")


def test_deleting_the_person_deletes_their_faces_of_every_model(directory: Directory, pid: str):
    directory.add_face(pid, image(1), model="recognition_03")
    directory.add_face(pid, image(2))
    directory.delete(f"/persons/{pid}")
    error(directory.get(directory.faces_path(pid)), 404, "PersonNotFound")
    again = directory.person("Dad again")
    assert directory.face_ids(again) == [] and directory.face_ids(again, "recognition_03") == []


@pytest.mark.parametrize("fid", [UNKNOWN, "not-a-uuid"])
def test_unknown_face_is_404_persisted_face_not_found(directory: Directory, pid: str, fid: str):
    path = f"{directory.faces_path(pid)}/{fid}"
    message = "Persisted face is not found.\r\nParameter name: persistedFaceId"
    error(directory.get(path), 404, "PersistedFaceNotFound", message)
    error(directory.patch(path, json={"userData": "x"}), 404, "PersistedFaceNotFound", message)
    error(directory.delete(path), 404, "PersistedFaceNotFound", message)


def test_face_calls_on_an_unknown_person_are_404_before_the_image_is_read(directory: Directory):
    error(directory.add_face_response(UNKNOWN, b"not even an image"), 404, "PersonNotFound")
    error(directory.get(directory.faces_path(UNKNOWN)), 404, "PersonNotFound")
    error(directory.get(f"{directory.faces_path(UNKNOWN)}/{UNKNOWN}"), 404, "PersonNotFound")


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ("recognition_01", "Recognition model is not supported for this feature."),
        ("recognition_05", "'recognitionModel' is invalid."),
        ("detection_01", "'recognitionModel' is invalid."),
    ],
)
def test_models_the_directory_does_not_take_are_400(directory: Directory, pid: str, model: str, message: str):
    error(directory.add_face_response(pid, image(1), model=model), 400, "BadArgument", message)
    error(directory.get(directory.faces_path(pid, model)), 400, "BadArgument", message)
    error(directory.get(f"{directory.faces_path(pid, model)}/{UNKNOWN}"), 400, "BadArgument", message)
    error(directory.delete(f"{directory.faces_path(pid, model)}/{UNKNOWN}"), 400, "BadArgument", message)


def test_add_face_rules_of_the_other_kinds(directory: Directory, pid: str):
    add = directory.add_face_response
    error(add(pid, image(1), userData="x" * 1025), 400, "BadArgument", "'userData' is too long.")
    assert add(pid, image(1), userData="x" * 1024).status_code == 202
    error(
        add(pid, image(1), detectionModel="detection_04"), 400, "BadArgument", "'detectionModel' is invalid."
    )
    error(add(pid, b"tiny"), 400, "InvalidImageSize", "Image size is too small.")
    error(add(pid, b"x" * 2048), 400, "InvalidImage", "Decoding error, image format unsupported.")
    error(add(pid, face_image(1, uniform=True)), 400, "InvalidImage", "No face detected in the image.")
    two = face_image(2, size=(300, 300), faces=[(0, 0, 100, 100), (150, 150, 100, 100)])
    error(add(pid, two), 400, "InvalidImage", "There is more than 1 face in the image.")
    assert add(pid, two, targetFace="150,150,100,100").status_code == 202
    error(add(pid, two, targetFace="1,2,3"), 400, "BadArgument", "Invalid argument targetFace.")
    error(
        add(pid, two, targetFace="250,250,100,100"), 400, "BadArgument", "Argument targetFace out of range."
    )
    r = directory.post(directory.faces_path(pid), content=image(1), headers={"Content-Type": "image/png"})
    error(r, 400, "BadArgument")
    for fmt in ("JPEG", "GIF", "BMP"):
        assert add(pid, face_image(3, size=(200, 200), fmt=fmt)).status_code == 202, fmt


def test_248_faces_per_person_and_model(directory: Directory, pid: str):
    assert EmulatorSettings(tier="F0").limit("faces_per_person") == 248
    assert EmulatorSettings(tier="S0").limit("faces_per_person") == 248
    directory.settings(limits={"faces_per_person": 2})
    directory.add_face(pid, image(1))
    directory.add_face(pid, image(2))
    error(
        directory.add_face_response(pid, image(3)),
        403,
        "QuotaExceeded",
        "Persisted face number reached limit.",
    )
    # the limit is per model: another model of the same person has its own 248
    directory.add_face(pid, image(3), model="recognition_03")
    # after a delete there is room again
    directory.delete(f"{directory.faces_path(pid)}/{directory.face_ids(pid)[0]}")
    directory.add_face(pid, image(4))
    directory.settings(limits={})
    assert directory.http.get("/_emulator/settings").json()["limits"] == {}
