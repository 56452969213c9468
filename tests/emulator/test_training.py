"""Training: 202 + Operation-Location, lazily computed states, spelling per version, conflicts."""

from __future__ import annotations

import re
import time

import pytest
from emulator_helpers import OCTET, PREFIXES, assert_error, make_person, png

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")


def poll(client, url, until=("succeeded", "failed"), timeout=5.0):
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = client.get(url).json()
        if not seen or seen[-1] != body["status"]:
            seen.append(body["status"])
        if body["status"] in until:
            return body, seen
        time.sleep(0.002)
    raise AssertionError(f"training did not finish: {seen}")


def group_with_face(client, prefix, kind="persongroups"):
    pid = make_person(client, prefix, kind)
    r = client.post(f"{prefix}/{kind}/g/persons/{pid}/persistedfaces", content=png(1), headers=OCTET)
    assert r.status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_person_group_training(client, prefix):
    group_with_face(client, prefix)
    assert_error(client.get(f"{prefix}/persongroups/g/training"), 404, "PersonGroupNotTrained")
    r = client.post(f"{prefix}/persongroups/g/train")
    assert r.status_code == 202 and r.content == b""
    location = r.headers["operation-location"]
    assert location == f"http://testserver{prefix}/persongroups/g/training"
    assert_error(client.post(f"{prefix}/persongroups/g/train"), 409, "PersonGroupTrainingNotFinished")
    assert_error(client.delete(f"{prefix}/persongroups/g"), 409, "PersonGroupTrainingNotFinished")
    body, seen = poll(client, location.replace("http://testserver", ""))
    not_started = "notstarted" if prefix in ("/face/v1.0", "/face/v1.0-preview") else "notStarted"
    assert set(seen) <= {not_started, "running", "succeeded"}
    assert seen[-1] == "succeeded"
    assert set(body) == {
        "status",
        "createdDateTime",
        "lastActionDateTime",
        "lastSuccessfulTrainingId",
        "lastSuccessfulTrainingDateTime",
    }
    assert all(ISO.match(body[k]) for k in body if k.endswith("DateTime"))
    assert body["lastActionDateTime"] == body["lastSuccessfulTrainingDateTime"]
    assert client.delete(f"{prefix}/persongroups/g").status_code == 200


def test_not_started_spelling(client, app):
    app.state.emulator.settings.train_seconds = 5
    for prefix, expected in [("/face/v1.0", "notstarted"), ("/face/v1.2", "notStarted")]:
        client.put(f"{prefix}/largefacelists/l{prefix[-1]}", json={"name": "n"})
        client.post(f"{prefix}/largefacelists/l{prefix[-1]}/train")
        body = client.get(f"{prefix}/largefacelists/l{prefix[-1]}/training").json()
        assert body["status"] == expected
        assert body["createdDateTime"] == body["lastActionDateTime"]
        assert "lastSuccessfulTrainingDateTime" not in body


@pytest.mark.parametrize(
    ("kind", "code"), [("largepersongroups", "LargePersonGroup"), ("largefacelists", "LargeFaceList")]
)
def test_large_collections_training(client, kind, code):
    if kind == "largepersongroups":
        group_with_face(client, "/face/v1.2", kind)
    else:
        client.put(f"/face/v1.2/{kind}/g", json={"name": "n"})
        client.post(f"/face/v1.2/{kind}/g/persistedfaces", content=png(1), headers=OCTET)
    assert_error(client.get(f"/face/v1.2/{kind}/g/training"), 404, f"{code}NotTrained")
    assert client.post(f"/face/v1.2/{kind}/g/train").status_code == 202
    assert_error(client.post(f"/face/v1.2/{kind}/g/train"), 409, f"{code}TrainingNotFinished")
    body, _ = poll(client, f"/face/v1.2/{kind}/g/training")
    assert body["status"] == "succeeded"
    assert "lastSuccessfulTrainingId" not in body
    assert "lastSuccessfulTrainingDateTime" in body
    assert_error(client.post(f"/face/v1.2/{kind}/none/train"), 404, f"{code}NotFound")
    assert_error(client.get(f"/face/v1.2/{kind}/none/training"), 404, f"{code}NotFound")


@pytest.mark.parametrize(
    ("setup", "message"),
    [("none", "There is no person in group."), ("person", "There is no persisted face in group.")],
)
def test_empty_group_fails(client, setup, message):
    if setup == "none":
        client.put("/face/v1.0/persongroups/g", json={"name": "n"})
    else:
        make_person(client)
    client.post("/face/v1.0/persongroups/g/train")
    body, _ = poll(client, "/face/v1.0/persongroups/g/training")
    assert body["status"] == "failed"
    assert body["message"] == message
    assert "lastSuccessfulTrainingDateTime" not in body


def test_empty_large_face_list_fails(client):
    client.put("/face/v1.0/largefacelists/l", json={"name": "n"})
    client.post("/face/v1.0/largefacelists/l/train")
    body, _ = poll(client, "/face/v1.0/largefacelists/l/training")
    assert body["status"] == "failed" and body["message"] == "There is no face in large face list."


def test_retrain_keeps_last_success(client):
    group_with_face(client, "/face/v1.0")
    client.post("/face/v1.0/persongroups/g/train")
    first, _ = poll(client, "/face/v1.0/persongroups/g/training")
    client.post("/face/v1.0/persongroups/g/train")
    body = client.get("/face/v1.0/persongroups/g/training").json()
    if body["status"] != "succeeded":
        assert body["lastSuccessfulTrainingId"] == first["lastSuccessfulTrainingId"]
    second, _ = poll(client, "/face/v1.0/persongroups/g/training")
    assert second["lastSuccessfulTrainingId"] != first["lastSuccessfulTrainingId"]


def test_training_duration_scales(client, app):
    from facesync.emulator.store import training_duration

    assert training_duration(1.0, 0) == 1.0
    assert training_duration(2.0, 10_000) == 4.0
