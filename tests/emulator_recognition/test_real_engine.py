"""The real (dlib) engine on real photos, replaying the recorded service sessions.

Recorded answers (azure-sdk-assets, python azure-ai-vision-face, 2024-09-03, detection_03 +
recognition_04) are inlined here: the rectangles the service found and the person it chose.
Skipped when the `recognition` extra is not installed.
"""

from __future__ import annotations

import pytest

from tests.imagegen import face_image

# identification1.jpg: recorded rectangle (left, top, width, height) -> person whose photo was enrolled
RECORDED_IDENTIFY = [
    ((296, 172, 116, 155), "Dad1"),
    ((398, 207, 94, 131), "Mom1"),
    ((499, 213, 86, 109), "Daughter1"),
    ((209, 141, 86, 103), "Son1"),
]
RECORDED_SINGLE = {"Family1-Mom1.jpg": (28, 35, 114, 164), "Family2-Lady1.jpg": (63, 71, 175, 247)}
DETECT = {"detectionModel": "detection_03", "recognitionModel": "recognition_04"}


def rect(item: dict) -> tuple[int, int, int, int]:
    r = item["faceRectangle"]
    return r["left"], r["top"], r["width"], r["height"]


def overlap(a: tuple[int, ...], b: tuple[int, ...]) -> float:
    """Intersection over union of two rectangles."""
    w = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    h = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    inter = max(0, w) * max(0, h)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter)


def test_stats_name_the_engine(real):
    assert real.http.get("/_emulator/stats").json()["recognition"] == "real"


@pytest.mark.parametrize("segment", ["persongroups", "largepersongroups"])
def test_identify_replay(real, photo, segment):
    r = real.detect(photo("identification1.jpg"), **DETECT)
    assert r.status_code == 200, r.text
    detected = r.json()
    assert len(detected) == len(RECORDED_IDENTIFY)
    real.collection(segment, "identify")
    names = {
        real.person(segment, "identify", n, photo(f"Family1-{n}.jpg")): n
        for n in ("Dad1", "Daughter1", "Mom1", "Son1")
    }
    real.train(segment, "identify")
    key = "personGroupId" if segment == "persongroups" else "largePersonGroupId"
    r = real.post("/identify", json={"faceIds": [f["faceId"] for f in detected], key: "identify"})
    assert r.status_code == 200, r.text
    chosen = {res["faceId"]: res["candidates"] for res in r.json()}
    for recorded_rect, person in RECORDED_IDENTIFY:
        ours = max(detected, key=lambda f: overlap(rect(f), recorded_rect))
        assert overlap(rect(ours), recorded_rect) > 0.5
        (candidate,) = chosen[ours["faceId"]]
        assert names[candidate["personId"]] == person
        assert candidate["confidence"] > 0.5


@pytest.mark.parametrize("segment", ["facelists", "largefacelists"])
def test_find_similar_replay(real, photo, segment):
    ids = {}
    for name, recorded in RECORDED_SINGLE.items():
        r = real.detect(photo(name), **DETECT)
        (item,) = r.json()
        assert overlap(rect(item), recorded) > 0.5
        ids[name] = item["faceId"]
    real.collection(segment, "findsimilar")
    mom = real.add_face(f"/{segment}/findsimilar", photo("Family1-Mom1.jpg"), detectionModel="detection_03")
    real.add_face(f"/{segment}/findsimilar", photo("Family2-Lady1.jpg"), detectionModel="detection_03")
    key = "faceListId"
    if segment == "largefacelists":
        real.train(segment, "findsimilar")
        key = "largeFaceListId"
    r = real.post("/findsimilars", json={"faceId": ids["Family1-Mom1.jpg"], key: "findsimilar"})
    assert r.status_code == 200, r.text
    (match,) = r.json()
    assert match["persistedFaceId"] == mom and match["confidence"] > 0.99


def test_verify_and_group_on_photos(real, photo):
    ids = {
        n: real.face_id(photo(n))
        for n in ("Family1-Dad1.jpg", "Family1-Dad3.jpg", "Family2-Man1.jpg", "Family1-Mom2.jpg")
    }
    same = real.post(
        "/verify", json={"faceId1": ids["Family1-Dad1.jpg"], "faceId2": ids["Family1-Dad3.jpg"]}
    ).json()
    assert same["isIdentical"] is True and same["confidence"] > 0.5
    other = real.post(
        "/verify", json={"faceId1": ids["Family1-Dad1.jpg"], "faceId2": ids["Family2-Man1.jpg"]}
    ).json()
    assert other["isIdentical"] is False and other["confidence"] < 0.5
    groups = real.post("/group", json={"faceIds": list(ids.values())}).json()
    assert [sorted(g) for g in groups["groups"]] == [
        sorted([ids["Family1-Dad1.jpg"], ids["Family1-Dad3.jpg"]])
    ]
    assert sorted(groups["messyGroup"]) == sorted([ids["Family2-Man1.jpg"], ids["Family1-Mom2.jpg"]])


def test_add_face_rules(real, photo):
    real.collection("facelists", "fl")
    r = real.post(
        "/facelists/fl/persistedfaces",
        content=photo("identification1.jpg"),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == "There is more than 1 face in the image."
    r = real.post(
        "/facelists/fl/persistedfaces",
        content=face_image(1, size=(200, 200)),
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status_code == 400 and r.json()["error"]["message"] == "No face detected in the image."
    # a targetFace picks one face of a group photo, and it identifies as that person
    dad = real.add_face("/facelists/fl", photo("identification1.jpg"), targetFace="296,172,116,155")
    query = real.face_id(photo("Family1-Dad1.jpg"))
    (match,) = real.post("/findsimilars", json={"faceId": query, "faceListId": "fl"}).json()
    assert match["persistedFaceId"] == dad


def test_trained_state_rule(real, photo):
    real.collection("persongroups", "g")
    real.person("persongroups", "g", "dad", photo("Family1-Dad1.jpg"))
    real.train("persongroups", "g")
    mom = real.person("persongroups", "g", "mom", photo("Family1-Mom1.jpg"))
    probe = real.face_id(photo("Family1-Mom2.jpg"))
    r = real.post("/identify", json={"faceIds": [probe], "personGroupId": "g"})
    assert r.json()[0]["candidates"] == []
    real.train("persongroups", "g")
    r = real.post("/identify", json={"faceIds": [probe], "personGroupId": "g"})
    assert [c["personId"] for c in r.json()[0]["candidates"]] == [mom]


def test_attributes_and_landmarks(real, photo):
    r = real.detect(
        photo("Family1-Mom1.jpg"),
        returnFaceLandmarks=True,
        returnFaceAttributes="headPose,mask,qualityForRecognition",
        **DETECT,
    )
    (item,) = r.json()
    assert item["faceAttributes"]["qualityForRecognition"] == "high"
    assert item["faceAttributes"]["mask"]["type"] == "noMask"
    eyes = item["faceLandmarks"]["pupilLeft"], item["faceLandmarks"]["pupilRight"]
    left, top, width, height = rect(item)
    assert all(left <= p["x"] <= left + width and top <= p["y"] <= top + height for p in eyes)
    assert eyes[0]["x"] < eyes[1]["x"]
