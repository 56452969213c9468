"""POST /detect on the deterministic engine, over real HTTP."""

from __future__ import annotations

import pytest

from tests.imagegen import face_image

LANDMARKS = 27


def error(r, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code


def test_faces_ordered_by_size_with_face_ids(face):
    image = face_image(1, size=(300, 300), faces=[(10, 10, 40, 40), (100, 100, 120, 90), (200, 10, 60, 60)])
    r = face.detect(image)
    assert r.status_code == 200, r.text
    faces = r.json()
    assert [f["faceRectangle"] for f in faces] == [
        {"top": 100, "left": 100, "width": 120, "height": 90},
        {"top": 10, "left": 200, "width": 60, "height": 60},
        {"top": 10, "left": 10, "width": 40, "height": 40},
    ]
    assert all(set(f) == {"faceId", "faceRectangle"} for f in faces)
    assert len({f["faceId"] for f in faces}) == 3


def test_no_face_is_an_empty_list(face):
    r = face.detect(face_image(uniform=True))
    assert r.status_code == 200 and r.json() == []


def test_without_face_id_and_with_model(face):
    r = face.detect(
        face_image(2), returnFaceId=False, returnRecognitionModel=True, recognitionModel="recognition_03"
    )
    assert r.status_code == 200
    (item,) = r.json()
    assert "faceId" not in item
    assert item["recognitionModel"] == "recognition_03"


def test_chunked_body_and_url(face, image_server):
    image = face_image(3, size=(160, 160))
    r = face.post(
        "/detect",
        content=iter([image[:500], image[500:]]),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 200 and len(r.json()) == 1
    base, files = image_server
    files["/p.png"] = image
    r = face.post("/detect", json={"url": f"{base}/p.png"})
    assert r.status_code == 200 and r.json()[0]["faceRectangle"]["width"] == 80
    error(face.post("/detect", json={"url": f"{base}/missing.png"}), 400, "InvalidURL")
    error(face.post("/detect", content=image, headers={"Content-Type": "text/plain"}), 400, "BadArgument")
    stats = face.http.get("/_emulator/stats").json()["operations"]
    assert stats["Face_DetectWithStream"] == 2 and stats["Face_DetectWithUrl"] == 2


def test_landmarks_and_attributes(face):
    r = face.detect(
        face_image(4, size=(256, 256)),
        returnFaceLandmarks=True,
        returnFaceAttributes="headPose,glasses,occlusion,accessories,blur,exposure,noise,qualityForRecognition",
        recognitionModel="recognition_04",
    )
    assert r.status_code == 200, r.text
    (item,) = r.json()
    assert len(item["faceLandmarks"]) == LANDMARKS
    attrs = item["faceAttributes"]
    assert attrs["qualityForRecognition"] == "high"  # a 128 px face
    assert attrs["headPose"] == {"pitch": 0.0, "roll": 0.0, "yaw": 0.0}
    assert attrs["glasses"] == "NoGlasses"
    assert set(attrs) == {
        "headPose",
        "glasses",
        "occlusion",
        "accessories",
        "blur",
        "exposure",
        "noise",
        "qualityForRecognition",
    }
    small = face.detect(
        face_image(5, size=(80, 80)),
        returnFaceAttributes="qualityForRecognition",
        recognitionModel="recognition_03",
    )
    assert small.json()[0]["faceAttributes"] == {"qualityForRecognition": "low"}


def test_detection_03_attributes(face):
    r = face.detect(
        face_image(6),
        detectionModel="detection_03",
        returnFaceAttributes="mask,headPose",
        returnFaceLandmarks=True,
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["faceAttributes"]["mask"] == {"type": "noMask", "noseAndMouthCovered": False}


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"detectionModel": "detection_02", "returnFaceAttributes": "blur"}, 400, "BadArgument"),
        ({"detectionModel": "detection_02", "returnFaceLandmarks": True}, 400, "BadArgument"),
        ({"detectionModel": "detection_03", "returnFaceAttributes": "glasses"}, 400, "BadArgument"),
        ({"returnFaceAttributes": "mask"}, 400, "BadArgument"),
        (
            {"returnFaceAttributes": "qualityForRecognition", "recognitionModel": "recognition_02"},
            400,
            "BadArgument",
        ),
        ({"returnFaceAttributes": "shoeSize"}, 400, "BadArgument"),
        ({"returnFaceAttributes": "emotion"}, 400, "BadArgument"),
        ({"detectionModel": "detection_09"}, 400, "BadArgument"),
        ({"recognitionModel": "recognition_09"}, 400, "BadArgument"),
        ({"faceIdTimeToLive": 59}, 400, "BadArgument"),
        ({"faceIdTimeToLive": 86401}, 400, "BadArgument"),
        ({"faceIdTimeToLive": "soon"}, 400, "BadArgument"),
        ({"returnFaceId": "maybe"}, 400, "BadArgument"),
    ],
)
def test_refused_parameters(face, params, status, code):
    error(face.detect(face_image(7), **params), status, code)


def test_retired_attributes_on_v1_0_are_unsupported(face):
    face.prefix = "/face/v1.0"
    error(face.detect(face_image(8), returnFaceAttributes="age,headPose"), 403, "UnsupportedFeature")
    assert face.detect(face_image(8), returnFaceAttributes="headPose").status_code == 200


def test_image_rules_as_add_face(face):
    error(face.detect(b"\x89PNG" + b"0" * 10), 400, "InvalidImageSize")
    error(face.detect(b"x" * 2048), 400, "InvalidImage")
    error(face.detect(face_image(9, size=(5000, 40), fmt="JPEG")), 400, "InvalidImageSize")


def test_every_prefix(face):
    for prefix in ("/face/v1.0", "/face/v1.0-preview", "/face/v1.1-preview.1", "/face/v1.2-preview.1"):
        face.prefix = prefix
        assert face.detect(face_image(10)).status_code == 200


def test_face_id_expires_with_its_time_to_live(face):
    first = face.face_id(face_image(11), faceIdTimeToLive=60)
    second = face.face_id(face_image(11))
    face.clock.advance(59)
    body = {"faceId1": first, "faceId2": second}
    assert face.post("/verify", json=body).json()["isIdentical"] is True
    face.clock.advance(1)
    error(face.post("/verify", json=body), 400, "FaceNotFound")
    face.clock.advance(86_400 - 60)
    error(face.post("/group", json={"faceIds": [second, second]}), 400, "FaceNotFound")
