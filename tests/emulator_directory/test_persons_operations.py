"""PersonDirectory persons and the operations that report on the directory's writes."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest

from facesync.emulator import EmulatorSettings
from facesync.emulator.testing import FakeClock, serve
from tests.emulator_directory.conftest import OPERATION_SECONDS, PREVIEWS, START, Directory, error
from tests.imagegen import face_image

ABSOLUTE_OPERATION = re.compile(r"^https?://[^/]+/face/(?P<version>[^/]+)/operations/(?P<id>[0-9a-f-]{36})$")
# Fixed, so that every test worker collects the same test ids.
UNKNOWN = "0f0e0d0c-0b0a-4908-8706-050403020100"
ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")


def test_create_person_answers_202_with_the_person_and_where_to_follow_it(directory: Directory):
    r = directory.create_person("Dad", userData="born 1970")
    assert r.status_code == 202
    assert r.headers["content-type"].startswith("application/json")
    pid = r.json()["personId"]
    assert set(r.json()) == {"personId"} and uuid.UUID(pid).version == 4
    assert r.headers["location"].endswith(f"/face/v1.2-preview.1/persons/{pid}")
    assert r.headers["location"].startswith(("http://", "https://"))
    match = ABSOLUTE_OPERATION.match(r.headers["operation-location"])
    assert match and match["version"] == "v1.2-preview.1"
    # the person is there at once, with no faces in the person body (the spec's shape)
    assert directory.get(f"/persons/{pid}").json() == {
        "personId": pid,
        "name": "Dad",
        "userData": "born 1970",
    }


def test_operation_goes_not_started_running_succeeded_on_the_clock(directory: Directory):
    r = directory.create_person("Mom")
    created = directory.clock.now
    first = directory.operation(r)
    assert first["status"] == "notStarted"
    assert first["createdTime"] == first["lastActionTime"] == "2027-01-15T08:00:00Z"
    assert "finishedTime" not in first and "message" not in first
    directory.clock.advance(0.1 * OPERATION_SECONDS)
    assert directory.operation(r)["status"] == "running"
    directory.clock.advance(0.5 * OPERATION_SECONDS)
    running = directory.operation(r)
    assert running["status"] == "running" and "finishedTime" not in running
    directory.clock.advance(0.4 * OPERATION_SECONDS)
    done = directory.operation(r)
    assert done["status"] == "succeeded"
    assert done["finishedTime"] == done["lastActionTime"] == "2027-01-15T08:00:01Z"
    assert done["createdTime"] == first["createdTime"]
    assert all(ISO.match(done[k]) for k in ("createdTime", "lastActionTime", "finishedTime"))
    # while the clock stands still, so does the operation
    assert directory.operation(r) == done
    assert directory.clock.now - created == OPERATION_SECONDS


def test_operation_body_follows_the_version(directory: Directory):
    old = directory.at("v1.0-preview").create_person("A")
    new = directory.create_person("B")
    directory.clock.advance(OPERATION_SECONDS)
    # v1.0-preview as recorded: no operationId
    assert set(directory.operation(old)) == {"status", "createdTime", "lastActionTime", "finishedTime"}
    body = directory.operation(new)
    op_id = ABSOLUTE_OPERATION.match(new.headers["operation-location"])["id"]  # type: ignore[index]
    assert body["operationId"] == op_id
    assert set(body) == {"operationId", "status", "createdTime", "lastActionTime", "finishedTime"}


def test_operation_duration_is_a_knob_read_when_the_operation_starts(directory: Directory):
    directory.settings(operation_seconds=10)
    r = directory.create_person("slow")
    directory.settings(operation_seconds=0)
    directory.clock.advance(9)
    assert directory.operation(r)["status"] == "running"
    directory.clock.advance(1)
    assert directory.operation(r)["status"] == "succeeded"
    instant = directory.create_person("instant")
    assert directory.operation(instant)["status"] == "succeeded"


def test_unknown_malformed_and_expired_operations_are_404(directory: Directory):
    for op_id in (str(uuid.uuid4()), "not-an-id"):
        error(directory.get(f"/operations/{op_id}"), 404, "OperationNotFound")
    r = directory.create_person("A")
    directory.clock.advance(48 * 3600 - 1)
    assert directory.operation(r)["status"] == "succeeded"
    directory.clock.advance(1)  # "The URL expires in 48 hours."
    error(directory.http.get(r.headers["operation-location"]), 404, "OperationNotFound")


def test_operations_are_readable_through_any_preview(directory: Directory):
    r = directory.create_person("A")
    op_id = ABSOLUTE_OPERATION.match(r.headers["operation-location"])["id"]  # type: ignore[index]
    for version in PREVIEWS:
        assert directory.at(version).get(f"/operations/{op_id}").status_code == 200


def test_list_persons_sorted_by_id_with_exclusive_start_and_top(directory: Directory):
    pids = sorted(directory.create_person(f"p{i}").json()["personId"] for i in range(5))
    listed = directory.get("/persons").json()
    assert [p["personId"] for p in listed] == pids
    assert all(set(p) == {"personId", "name"} for p in listed)
    page = directory.get("/persons", params={"start": pids[1], "top": 2}).json()
    assert [p["personId"] for p in page] == pids[2:4]
    assert directory.get("/persons", params={"start": pids[-1]}).json() == []
    for bad in ({"top": 0}, {"top": 1001}, {"top": "x"}, {"start": "x" * 65}):
        error(directory.get("/persons", params=bad), 400, "BadArgument")


def test_update_person_changes_only_what_it_names(directory: Directory):
    pid = directory.create_person("Dad", userData="u").json()["personId"]
    r = directory.patch(f"/persons/{pid}", json={"name": "Father"})
    assert r.status_code == 200 and r.content == b""
    assert directory.get(f"/persons/{pid}").json() == {"personId": pid, "name": "Father", "userData": "u"}
    assert directory.patch(f"/persons/{pid}", json={"userData": "v"}).status_code == 200
    assert directory.get(f"/persons/{pid}").json()["userData"] == "v"
    error(
        directory.patch(f"/persons/{pid}", json={}),
        400,
        "BadArgument",
        "Both 'name' and 'userData' are empty.",
    )
    error(
        directory.patch(f"/persons/{pid}", json={"name": "x" * 129}),
        400,
        "BadArgument",
        "'name' is too long.",
    )


def test_delete_person_answers_202_and_the_person_is_gone(directory: Directory):
    pid = directory.create_person("A").json()["personId"]
    r = directory.delete(f"/persons/{pid}")
    assert r.status_code == 202 and r.content == b"" and "content-type" not in r.headers
    assert ABSOLUTE_OPERATION.match(r.headers["operation-location"])
    error(directory.get(f"/persons/{pid}"), 404, "PersonNotFound")
    assert directory.finish(r)["status"] == "succeeded"
    error(directory.delete(f"/persons/{pid}"), 404, "PersonNotFound")


@pytest.mark.parametrize("pid", [UNKNOWN, "not-a-uuid"])
def test_unknown_or_malformed_person_is_404_person_not_found(directory: Directory, pid: str):
    message = "Person is not found.\r\nParameter name: personId"
    error(directory.get(f"/persons/{pid}"), 404, "PersonNotFound", message)
    error(directory.patch(f"/persons/{pid}", json={"name": "x"}), 404, "PersonNotFound", message)
    error(directory.delete(f"/persons/{pid}"), 404, "PersonNotFound", message)
    error(directory.get(f"/persons/{pid}/dynamicPersonGroupReferences"), 404, "PersonNotFound")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "'name' is empty."),
        ({"name": " "}, "'name' is empty."),
        ({"name": "x" * 129}, "'name' is too long."),
        ({"name": "a", "userData": "x" * 16385}, "'userData' is too long."),
        ({"name": 5}, "Request body is invalid."),
        ([], "Request body is invalid."),
    ],
)
def test_create_person_body_rules(directory: Directory, body: object, message: str):
    error(directory.post("/persons", json=body), 400, "BadArgument", message)


def test_create_person_with_malformed_json_is_400(directory: Directory):
    r = directory.post("/persons", content=b"{", headers={"Content-Type": "application/json"})
    error(r, 400, "BadArgument", "JSON parsing error.")
    assert r.headers["x-ms-error-code"] == "BadArgument"  # new-style versions name the code
    old = directory.at("v1.0-preview").post(
        "/persons", content=b"{", headers={"Content-Type": "application/json"}
    )
    assert "x-ms-error-code" not in old.headers


def test_person_limit_of_the_tier_is_403_quota_exceeded(directory: Directory):
    directory.settings(limits={"persons_per_directory": 2})
    for name in ("a", "b"):
        assert directory.create_person(name).status_code == 202
    error(
        directory.create_person("c"),
        403,
        "QuotaExceeded",
        "Person number reached person directory level limit.",
    )
    # the tiers' limits (digest §6): one directory of 1,000 persons on F0, 75 million on S0
    assert EmulatorSettings(tier="F0").limit("persons_per_directory") == 1_000
    assert EmulatorSettings(tier="S0").limit("persons_per_directory") == 75_000_000


@pytest.mark.parametrize("version", PREVIEWS)
def test_every_preview_serves_the_directory(directory: Directory, version: str):
    api = directory.at(version)
    r = api.create_person("A")
    assert r.status_code == 202
    pid = r.json()["personId"]
    assert r.headers["location"].split("/face/")[1] == f"{version}/persons/{pid}"
    # one directory per resource: every version sees the same persons
    assert [p["personId"] for p in directory.get("/persons").json()] == [pid]


@pytest.mark.parametrize("version", ["v1.0", "v1.2"])
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/persons"),
        ("GET", "/persons"),
        ("GET", f"/persons/{UNKNOWN}"),
        ("PUT", "/dynamicpersongroups/g"),
        ("GET", "/dynamicpersongroups"),
        ("GET", f"/operations/{UNKNOWN}"),
    ],
)
def test_ga_versions_have_no_directory_routes(directory: Directory, version: str, method: str, path: str):
    r = directory.at(version).request(method, path, json={"name": "x"})
    assert r.status_code == 404
    assert r.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_directory_writes_are_counted_and_reset_wipes_them(directory: Directory):
    pid = directory.create_person("A").json()["personId"]
    directory.patch(f"/persons/{pid}", json={"name": "B"})
    directory.get(f"/persons/{pid}")
    stats = directory.stats()
    assert stats["total"] == 3 and stats["mutating"] == 2
    assert stats["operations"] == {
        "PersonDirectory_CreatePerson": 1,
        "PersonDirectory_UpdatePerson": 1,
        "PersonDirectory_GetPerson": 1,
    }
    assert stats["statuses"] == {"202": 1, "200": 2}
    assert directory.http.post("/_emulator/reset").status_code == 200
    assert directory.get("/persons").json() == []
    assert directory.stats()["total"] == 1


def test_rate_limit_and_faults_pace_directory_calls(directory: Directory):
    directory.settings(rate_limit=1)
    assert directory.create_person("A").status_code == 202
    error(directory.create_person("B"), 429, "429")
    directory.clock.advance(1)
    directory.settings(rate_limit=None, fault_rate=1.0)
    r = directory.create_person("C")
    assert r.status_code in (500, 503)
    directory.settings(fault_rate=0, lost_response_rate=1.0)
    # the write is committed, then the answer is lost
    assert directory.create_person("D").status_code == 500
    directory.settings(lost_response_rate=0)
    assert sorted(p["name"] for p in directory.get("/persons").json()) == ["A", "D"]


def test_the_directory_survives_a_restart_with_a_data_file(tmp_path):
    data = str(tmp_path / "e.sqlite")
    clock = FakeClock(START)
    settings = EmulatorSettings(data=data, operation_seconds=1.0)
    with serve(settings, clock=clock) as base, httpx.Client(base_url=base) as http:
        api = Directory(http, clock)
        r = api.create_person("Dad")
        pid = r.json()["personId"]
        face = api.add_face(pid, face_image(1))
        api.group("family", pid)
        operation = r.headers["operation-location"].split("/face/")[1]
    with serve(settings, clock=clock) as base, httpx.Client(base_url=base) as http:
        api = Directory(http, clock)
        assert api.get(f"/persons/{pid}").json()["name"] == "Dad"
        assert api.face_ids(pid) == [face]
        assert api.members("family") == [pid]
        assert api.http.get(f"/face/{operation}").json()["status"] == "succeeded"
