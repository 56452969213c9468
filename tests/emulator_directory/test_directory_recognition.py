"""Identify and verify against the PersonDirectory: no training, faces per model, operations.

The deterministic engine is used through the `directory` fixture (in-process and over a local
port); the real (dlib) engine on real photos at the end, through the same handlers.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.recognition.engines import real_available
from facesync.emulator.testing import FakeClock, serve
from tests.emulator_directory.conftest import OPERATION_SECONDS, START, Directory, error, image

UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100"
PHOTOS = Path(__file__).parents[1] / "data" / "faces"


def alice(seed: int, **kwargs) -> bytes:
    return image(seed, "alice", **kwargs)


def bob(seed: int, **kwargs) -> bytes:
    return image(seed, "bob", **kwargs)


@pytest.fixture
def people(directory: Directory) -> tuple[str, str]:
    """(alice, bob): directory persons with one recognition_04 face each, every operation done."""
    return directory.person("alice", alice(1)), directory.person("bob", bob(2))


def test_identify_in_the_whole_directory_needs_no_training(directory: Directory, people):
    a, b = people
    assert directory.candidates(directory.face_id(alice(10)), personIds=["*"]) == [a]
    assert directory.candidates(directory.face_id(bob(11)), personIds=["*"]) == [b]
    assert directory.candidates(directory.face_id(image(12, "carol")), personIds=["*"]) == []
    r = directory.identify(directory.face_id(alice(1)), personIds=["*"], maxNumOfCandidatesReturned=5)
    assert r.json()[0]["candidates"] == [{"personId": a, "confidence": 1.0}]  # the enrolled photo itself


def test_identify_among_listed_persons(directory: Directory, people):
    a, b = people
    probe = directory.face_id(alice(10))
    assert directory.candidates(probe, personIds=[a, b]) == [a]
    assert directory.candidates(probe, personIds=[b]) == []
    assert directory.candidates(
        probe, personIds=[b], confidenceThreshold=0, maxNumOfCandidatesReturned=3
    ) == [b]


def test_identify_in_a_dynamic_person_group_follows_its_members(directory: Directory, people):
    a, _ = people
    directory.group("door", a)
    probe = directory.face_id(alice(10))
    assert directory.candidates(probe, dynamicPersonGroupId="door") == [a]
    assert directory.candidates(directory.face_id(bob(11)), dynamicPersonGroupId="door") == []
    r = directory.patch("/dynamicpersongroups/door", json={"removePersonIds": [a]})
    assert directory.candidates(probe, dynamicPersonGroupId="door") == [a]  # until the operation ends
    directory.finish(r)
    assert directory.candidates(probe, dynamicPersonGroupId="door") == []
    directory.group("empty")
    assert directory.candidates(probe, dynamicPersonGroupId="empty") == []


def test_a_new_face_is_identifiable_once_its_add_operation_succeeded(directory: Directory):
    pid = directory.person("carol")
    r = directory.add_face_response(pid, image(3, "carol"))
    probe = directory.face_id(image(4, "carol"))
    assert directory.operation(r)["status"] == "notStarted"
    assert directory.candidates(probe, personIds=["*"]) == []
    directory.clock.advance(0.5 * OPERATION_SECONDS)
    assert directory.operation(r)["status"] == "running"
    assert directory.candidates(probe, personIds=[pid]) == []
    directory.clock.advance(0.5 * OPERATION_SECONDS)
    assert directory.operation(r)["status"] == "succeeded"
    assert directory.candidates(probe, personIds=["*"]) == [pid]


def test_deleted_faces_and_persons_stop_matching_at_once(directory: Directory, people):
    a, b = people
    probe = directory.face_id(alice(10))
    (fid,) = directory.face_ids(a)
    directory.delete(f"{directory.faces_path(a)}/{fid}")
    assert directory.candidates(probe, personIds=["*"]) == []
    directory.delete(f"/persons/{b}")
    assert directory.candidates(directory.face_id(bob(11)), personIds=["*"]) == []


def test_faces_match_only_faces_of_their_recognition_model(directory: Directory):
    pid = directory.person("alice", alice(1), model="recognition_03")
    assert directory.candidates(directory.face_id(alice(10)), personIds=["*"]) == []  # a _04 faceId
    assert directory.candidates(directory.face_id(alice(10), "recognition_03"), personIds=["*"]) == [pid]
    directory.add_face(pid, alice(2))  # now enrolled for _04 too: both models answer
    directory.clock.advance(OPERATION_SECONDS)
    assert directory.candidates(directory.face_id(alice(10)), personIds=["*"]) == [pid]
    mixed = [directory.face_id(alice(10)), directory.face_id(alice(11), "recognition_03")]
    r = directory.post("/identify", json={"faceIds": mixed, "personIds": ["*"]})
    error(r, 400, "BadArgument", "'recognitionModel' is incompatible.")


def test_verify_against_a_directory_person(directory: Directory, people):
    a, b = people
    probe = directory.face_id(alice(10))
    same = directory.post("/verify", json={"faceId": probe, "personId": a})
    assert same.status_code == 200 and same.json()["isIdentical"] is True
    assert same.json()["confidence"] >= 0.75
    other = directory.post("/verify", json={"faceId": probe, "personId": b}).json()
    assert other["isIdentical"] is False and other["confidence"] <= 0.25
    # a person without faces of the faceId's model is not identical
    old = directory.face_id(alice(10), "recognition_03")
    assert directory.post("/verify", json={"faceId": old, "personId": a}).json() == {
        "isIdentical": False,
        "confidence": 0.0,
    }
    error(directory.post("/verify", json={"faceId": probe, "personId": UNKNOWN}), 404, "PersonNotFound")
    error(directory.post("/verify", json={"faceId": UNKNOWN, "personId": a}), 400, "FaceNotFound")
    error(directory.post("/verify", json={"faceId": probe, "personId": "x"}), 400, "BadArgument")


def test_v1_2_identifies_and_verifies_in_the_directory_without_serving_it(directory: Directory, people):
    a, _ = people
    ga = directory.at("v1.2")
    probe = ga.face_id(alice(10))
    assert ga.candidates(probe, personIds=["*"]) == [a]
    assert ga.post("/verify", json={"faceId": probe, "personId": a}).json()["isIdentical"] is True
    # v1.0 knows no directory: a personId needs its group, personIds are no scope
    v10 = directory.at("v1.0")
    probe = v10.face_id(alice(10))
    error(
        v10.post("/verify", json={"faceId": probe, "personId": a}),
        400,
        "PersonGroupIdAndLargePersonGroupIdBothNull",
    )
    error(v10.identify(probe, personIds=["*"]), 400, "PersonGroupIdAndLargePersonGroupIdBothNull")


def test_verify_with_a_group_still_means_the_group(directory: Directory, people):
    a, _ = people
    probe = directory.face_id(alice(10))
    r = directory.post("/verify", json={"faceId": probe, "personId": a, "personGroupId": "nope"})
    error(r, 400, "PersonGroupNotFound")


def test_identify_scope_errors(directory: Directory, people):
    a, _ = people
    probe = directory.face_id(alice(10))
    cases = [
        ({"personIds": []}, "BadArgument", "'personIds' is empty."),
        ({"personIds": "*"}, "BadArgument", "Request body is invalid."),
        ({"personIds": [a] * 31}, "BadArgument", "The number of 'personIds' exceeds the limit of 30."),
        ({"personIds": ["*", a]}, "BadArgument", "Person ID is invalid."),
        ({"personIds": ["nope"]}, "BadArgument", "Person ID is invalid."),
        ({"personIds": [UNKNOWN]}, "PersonNotFound", "Person is not found.\r\nParameter name: personIds"),
        ({"dynamicPersonGroupId": "nope"}, "DynamicPersonGroupNotFound", None),
        ({"dynamicPersonGroupId": 5}, "BadArgument", "Request body is invalid."),
        (
            {"personIds": ["*"], "personGroupId": "g"},
            "IncompatibleIdentificationScopeParametersCombination",
            None,
        ),
        (
            {"personIds": ["*"], "dynamicPersonGroupId": "g"},
            "IncompatibleIdentificationScopeParametersCombination",
            None,
        ),
        (
            {"personGroupId": "g", "largePersonGroupId": "g"},
            "PersonGroupIdAndLargePersonGroupIdBothNotNull",
            None,
        ),
        ({}, "PersonGroupIdAndLargePersonGroupIdBothNull", None),
    ]
    for scope, code, message in cases:
        error(directory.identify(probe, **scope), 400, code, message)
    error(directory.identify(UNKNOWN, personIds=["*"]), 400, "FaceNotFound")


# ---- the real engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def real_base() -> Iterator[tuple[str, FakeClock]]:
    if not real_available():
        pytest.skip("the real engine needs: pip install 'facesync[recognition]'")
    clock = FakeClock(START)
    app = create_app(EmulatorSettings(operation_seconds=OPERATION_SECONDS), clock=clock, recognition="real")
    with serve(app) as base:
        yield base, clock
    app.state.emulator.close()


def test_real_engine_identifies_at_the_door_and_verifies(real_base):
    base, clock = real_base

    def photo(name: str) -> bytes:
        return (PHOTOS / name).read_bytes()

    with httpx.Client(base_url=base, timeout=120) as http:
        api = Directory(http, clock)
        dad = api.person("Dad", photo("Family1-Dad1.jpg"))
        mom = api.person("Mom", photo("Family1-Mom1.jpg"))
        son = api.person("Son", photo("Family1-Son1.jpg"))
        api.group("parents", dad, mom)
        assert api.candidates(api.face_id(photo("Family1-Dad2.jpg")), dynamicPersonGroupId="parents") == [dad]
        son_probe = api.face_id(photo("Family1-Son2.jpg"))
        assert api.candidates(son_probe, dynamicPersonGroupId="parents") == []
        assert api.candidates(son_probe, personIds=["*"]) == [son]
        mom_probe = api.face_id(photo("Family1-Mom2.jpg"))
        assert api.post("/verify", json={"faceId": mom_probe, "personId": mom}).json()["isIdentical"] is True
        assert api.post("/verify", json={"faceId": mom_probe, "personId": dad}).json()["isIdentical"] is False
        assert http.get("/_emulator/stats").json()["recognition"] == "real"
