"""Training: 202 + Operation-Location, states worked out from the fake clock, spelling per version,
conflicts while a run is pending."""

from __future__ import annotations

import re

import pytest

from facesync.emulator.store import iso, training_duration
from facesync.emulator.testing import FAKE_EPOCH
from tests.emulator.emulator_helpers import OCTET, PREFIXES, assert_error, make_person, png, poll_training

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,7})?Z$")


def group_with_face(client, prefix, kind="persongroups"):
    pid = make_person(client, prefix, kind)
    r = client.post(f"{prefix}/{kind}/g/persons/{pid}/persistedfaces", content=png(1), headers=OCTET)
    assert r.status_code == 200


@pytest.mark.parametrize("prefix", PREFIXES)
def test_person_group_training_goes_through_every_state_and_blocks_train_and_delete(client, clock, prefix):
    group_with_face(client, prefix)
    assert_error(client.get(f"{prefix}/persongroups/g/training"), 404, "PersonGroupNotTrained")
    r = client.post(f"{prefix}/persongroups/g/train")
    assert r.status_code == 202 and r.content == b""
    location = r.headers["operation-location"]
    assert location == f"http://testserver{prefix}/persongroups/g/training"
    # The clock has not moved, so the run is certainly still pending, however slow the machine.
    assert_error(client.post(f"{prefix}/persongroups/g/train"), 409, "PersonGroupTrainingNotFinished")
    assert_error(client.delete(f"{prefix}/persongroups/g"), 409, "PersonGroupTrainingNotFinished")
    body, seen = poll_training(client, location.replace("http://testserver", ""), clock)
    not_started = "notstarted" if prefix in ("/face/v1.0", "/face/v1.0-preview") else "notStarted"
    assert seen == [not_started, "running", "succeeded"]
    assert set(body) == {
        "status",
        "createdDateTime",
        "lastActionDateTime",
        "lastSuccessfulTrainingId",
        "lastSuccessfulTrainingDateTime",
    }
    assert all(ISO.match(body[k]) for k in body if k.endswith("DateTime"))
    assert body["createdDateTime"] == iso(FAKE_EPOCH)
    assert body["lastActionDateTime"] == body["lastSuccessfulTrainingDateTime"]
    assert body["lastActionDateTime"] == iso(FAKE_EPOCH + training_duration(1.0, 2))
    assert client.delete(f"{prefix}/persongroups/g").status_code == 200


def test_states_switch_at_ten_percent_and_at_the_end_of_the_duration(client, clock):
    client.put("/face/v1.0/largefacelists/l", json={"name": "n"})
    client.post("/face/v1.0/largefacelists/l/persistedfaces", content=png(1), headers=OCTET)
    client.post("/face/v1.0/largefacelists/l/train")
    duration = training_duration(1.0, 1)

    def status() -> str:
        return client.get("/face/v1.0/largefacelists/l/training").json()["status"]

    clock.advance(0.1 * duration - 1e-3)
    assert status() == "notstarted"
    clock.advance(2e-3)
    assert status() == "running"
    assert_error(client.delete("/face/v1.0/largefacelists/l"), 409, "LargeFaceListTrainingNotFinished")
    clock.advance(0.9 * duration - 2e-3)
    assert status() == "running"
    clock.advance(2e-3)
    assert status() == "succeeded"
    assert client.post("/face/v1.0/largefacelists/l/train").status_code == 202


def test_not_started_spelling(client):
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
def test_large_collections_training(client, clock, kind, code):
    if kind == "largepersongroups":
        group_with_face(client, "/face/v1.2", kind)
    else:
        client.put(f"/face/v1.2/{kind}/g", json={"name": "n"})
        client.post(f"/face/v1.2/{kind}/g/persistedfaces", content=png(1), headers=OCTET)
    assert_error(client.get(f"/face/v1.2/{kind}/g/training"), 404, f"{code}NotTrained")
    assert client.post(f"/face/v1.2/{kind}/g/train").status_code == 202
    assert_error(client.post(f"/face/v1.2/{kind}/g/train"), 409, f"{code}TrainingNotFinished")
    body, seen = poll_training(client, f"/face/v1.2/{kind}/g/training", clock)
    assert seen == ["notStarted", "running", "succeeded"]
    assert "lastSuccessfulTrainingId" not in body
    assert "lastSuccessfulTrainingDateTime" in body
    assert_error(client.post(f"/face/v1.2/{kind}/none/train"), 404, f"{code}NotFound")
    assert_error(client.get(f"/face/v1.2/{kind}/none/training"), 404, f"{code}NotFound")


@pytest.mark.parametrize(
    ("setup", "message"),
    [("none", "There is no person in group."), ("person", "There is no persisted face in group.")],
)
def test_empty_group_fails(client, clock, setup, message):
    if setup == "none":
        client.put("/face/v1.0/persongroups/g", json={"name": "n"})
    else:
        make_person(client)
    client.post("/face/v1.0/persongroups/g/train")
    body, _ = poll_training(client, "/face/v1.0/persongroups/g/training", clock)
    assert body["status"] == "failed"
    assert body["message"] == message
    assert "lastSuccessfulTrainingDateTime" not in body


def test_empty_large_face_list_fails(client, clock):
    client.put("/face/v1.0/largefacelists/l", json={"name": "n"})
    client.post("/face/v1.0/largefacelists/l/train")
    body, _ = poll_training(client, "/face/v1.0/largefacelists/l/training", clock)
    assert body["status"] == "failed" and body["message"] == "There is no face in large face list."


def test_retrain_keeps_last_success_while_pending(client, clock):
    group_with_face(client, "/face/v1.0")
    client.post("/face/v1.0/persongroups/g/train")
    first, _ = poll_training(client, "/face/v1.0/persongroups/g/training", clock)
    client.post("/face/v1.0/persongroups/g/train")
    pending = client.get("/face/v1.0/persongroups/g/training").json()
    assert pending["status"] == "notstarted"
    assert pending["lastSuccessfulTrainingId"] == first["lastSuccessfulTrainingId"]
    assert pending["lastSuccessfulTrainingDateTime"] == first["lastSuccessfulTrainingDateTime"]
    second, _ = poll_training(client, "/face/v1.0/persongroups/g/training", clock)
    assert second["lastSuccessfulTrainingId"] != first["lastSuccessfulTrainingId"]


def test_training_duration_scales():
    assert training_duration(1.0, 0) == 1.0
    assert training_duration(2.0, 10_000) == 4.0
