"""`facesync test` through the CLI and the real client against the deterministic emulator."""

from __future__ import annotations

import json

import httpx
from junitparser import Error, Failure, JUnitXml

from tests.checks.checks_helpers import PASSING, STAFF, Checks


def test_every_expectation_kind_passes_with_file_line_and_transactions(ws: Checks) -> None:
    ws.applied()
    ws.tests_file(PASSING)
    result = ws.test()
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "PASS  front door knows Alice  (recognition.test.yaml:2)"
    assert sum(line.startswith("PASS") for line in lines) == 8
    # A training read, a person list and a face list; one detect per probe; one identify call for
    # the 4 identify tests of the group (up to 10 faceIds a call); one call per other test.
    assert lines[-1].startswith("8 tests: 8 passed, 0 failed, 0 errors; 12 transactions (5 Face.Detect, ")
    summary = json.loads(ws.test("--format", "json").stdout)
    assert summary["summary"] == {"total": 8, "passed": 8, "failed": 0, "errors": 0}
    assert summary["calls"] == {
        "Face.Detect": 5,
        "Face.FindSimilar": 1,
        "Face.Identify": 1,
        "Face.Verify": 2,
        "FaceList.Get": 1,
        "PersonGroup.GetTrainingStatus": 1,
        "PersonGroupPerson.List": 1,
    }
    assert summary["transactions"] == 12


FAILING = """
tests:
  - name: bob is not alice
    probe: probes/bob-badge.png
    identify: {in: personGroup.staff, expect: Alice Smith}
  - name: visitor expected nobody
    probe: probes/alice-door.png
    identify: {in: personGroup.staff, expect: nobody}
  - name: alice too sure
    probe: probes/alice-door.png
    identify: {in: personGroup.staff, expect: Alice Smith, minConfidence: 0.99}
  - name: badge is bob
    probe: probes/alice-door.png
    verify: {person: 'personGroup.staff/person["Bob Jones"]'}
  - name: guest is the consul
    probe: probes/guest.png
    findSimilar: {in: faceList.vip, expect: images/vip/consul.png, within: 1, mode: matchFace}
  - name: team of five
    probe: probes/team.png
    detect: {faces: 5}
"""


def test_failures_say_what_was_expected_and_what_came_back(ws: Checks) -> None:
    ws.applied()
    ws.tests_file(FAILING)
    result = ws.test()
    assert result.exit_code == 1
    out = result.stdout
    assert "FAIL  bob is not alice  (recognition.test.yaml:2)\n" in out
    assert "      expected: Alice Smith in personGroup.staff\n      got:      Bob Jones (0.75)" in out
    assert "expected: nobody in personGroup.staff\n      got:      Alice Smith (0." in out
    assert "expected: Alice Smith in personGroup.staff (confidence ≥ 0.99)" in out
    assert 'expected: same as personGroup.staff/person["Bob Jones"]\n      got:      different (0.' in out
    assert "got:      #1 images/vip/ambassador.png (" in out
    assert "expected: 5 face(s)\n      got:      3 face(s)" in out
    assert result.stdout.splitlines()[-1].startswith("6 tests: 0 passed, 6 failed, 0 errors;")


def test_filter_runs_only_matching_tests(ws: Checks) -> None:
    ws.applied()
    ws.tests_file(FAILING)
    result = ws.test("--filter", "TEAM")
    assert result.exit_code == 1
    assert result.stdout.splitlines()[-1].startswith("1 test: 0 passed, 1 failed")
    assert ws.test("--filter", "no such test").exit_code == 1


MIXED = """
tests:
  - name: front door knows Alice
    probe: probes/alice-door.png
    identify: {in: personGroup.staff, expect: Alice Smith}
  - name: badge is bob
    probe: probes/alice-door.png
    verify: {person: 'personGroup.staff/person["Bob Jones"]'}
  - name: blank wall
    probe: probes/wall.png
    identify: {in: personGroup.staff, expect: nobody}
"""


def test_junit_is_read_by_a_junit_parser(ws: Checks) -> None:
    ws.applied()
    ws.image("probes/wall.png", 0, uniform=True)
    ws.tests_file(MIXED)
    out = ws.root / "reports" / "junit.xml"
    result = ws.test("--format", "junit", "--out", str(out))
    assert result.exit_code == 1
    assert out.read_text() == result.stdout
    xml = JUnitXml.fromfile(str(out))
    (suite,) = list(xml)
    assert (suite.tests, suite.failures, suite.errors) == (3, 1, 1)
    cases = {case.name: case for case in suite}
    assert cases["front door knows Alice"].is_passed
    (failure,) = cases["badge is bob"].result
    assert isinstance(failure, Failure) and "got different (" in failure.message
    (error,) = cases["blank wall"].result
    assert isinstance(error, Error) and error.message.endswith("probe wall.png: no face detected")
    assert cases["blank wall"]._elem.get("file") == "recognition.test.yaml"
    assert cases["blank wall"]._elem.get("line") == "8"


def test_github_annotations_and_markdown(ws: Checks) -> None:
    ws.applied()
    ws.image("probes/wall.png", 0, uniform=True)
    ws.tests_file(MIXED)
    lines = ws.test("--format", "github").stdout.splitlines()
    assert lines[0] == (
        "::error file=recognition.test.yaml,line=5,col=5,title=facesync test%3A badge is bob::"
        'expected same as personGroup.staff/person["Bob Jones"]; got: different (0.00)'
    )
    assert lines[1].startswith(
        "::error file=recognition.test.yaml,line=8,col=5,title=facesync test%3A blank wall::"
    )
    assert lines[2].startswith("3 tests: 1 passed, 1 failed, 1 error;")
    md = ws.test("--format", "markdown").stdout
    assert md.startswith("<!-- facesync-test -->\n### facesync test: failures ❌\n")
    assert "| ✅ | front door knows Alice | Alice Smith in personGroup.staff | Alice Smith (1.00) |" not in md
    assert (
        "| ⚠️ | blank wall | nobody in personGroup.staff | probe wall.png: no face detected "
        "| `recognition.test.yaml:8` |" in md
    )


def test_untrained_training_and_missing_collections_are_errors_not_failures(ws: Checks, service) -> None:
    ws.applied()
    api = service.api
    # Declared but never trained: created by hand, as a first apply interrupted before training.
    assert (
        api.put("/persongroups/fresh", json={"name": "f", "recognitionModel": "recognition_04"}).status_code
        == 200
    )
    ws.config(
        STAFF.replace(
            "personGroups:\n",
            "personGroups:\n  fresh: {name: f, persons: {Al: {faces: [images/alice/1.png]}}}\n",
        )
        + "largePersonGroups:\n  later: {name: later, persons: {Bob: {faces: [images/bob/1.png]}}}\n"
    )
    ws.tests_file(
        """
        tests:
          - name: fresh group
            probe: probes/alice-door.png
            identify: {in: personGroup.fresh, expect: Al}
          - name: not applied yet
            probe: probes/alice-door.png
            identify: {in: largePersonGroup.later, expect: nobody}
          - name: staff while training
            probe: probes/alice-door.png
            identify: {in: personGroup.staff, expect: Alice Smith}
        """
    )
    service.knobs(train_seconds=3600)
    assert api.post("/persongroups/staff/train").status_code == 202
    result = ws.test()
    assert result.exit_code == 1, result.stderr
    out = result.stdout
    assert "ERROR fresh group  (recognition.test.yaml:2)\n" in out, result.stderr
    assert "error:    personGroup.fresh is not trained: run facesync apply (it trains), then test" in out
    assert "error:    largePersonGroup.later does not exist on the service: run facesync apply first" in out
    assert "error:    personGroup.staff is still training: test again when it finishes" in out, out
    assert out.splitlines()[-1].startswith("3 tests: 0 passed, 0 failed, 3 errors;")


def test_unknown_collection_person_or_image_is_an_error_at_file_line_before_any_call(
    ws: Checks, service
) -> None:
    ws.staff()
    ws.tests_file(
        """
        tests:
          - name: unknown group
            probe: probes/alice-door.png
            identify: {in: personGroup.nope, expect: nobody}
          - name: unknown person
            probe: probes/alice-door.png
            verify: {person: 'personGroup.staff/person["Carol"]'}
          - name: wrong kind
            probe: probes/guest.png
            findSimilar: {in: personGroup.staff, expect: images/vip/consul.png}
          - name: not in the list
            probe: probes/guest.png
            findSimilar: {in: faceList.vip, expect: images/bob/1.png}
        """
    )
    before = service.stats()
    result = ws.test()
    assert result.exit_code == 1
    assert result.stdout == ""
    err = result.stderr
    assert "recognition.test.yaml:2:5: error: test 'unknown group': personGroup.nope is not declared" in err
    assert (
        "recognition.test.yaml:5:5: error: test 'unknown person': "
        "personGroup.staff declares no person 'Carol'" in err
    )
    assert (
        "recognition.test.yaml:8:5: error: test 'wrong kind': 'personGroup.staff' is a PersonGroup; " in err
    )
    assert (
        "recognition.test.yaml:11:5: error: test 'not in the list': faceList.vip has no face from image"
        in err
    )
    assert service.stats() == before


def test_spec_errors_are_reported_at_file_line_column(ws: Checks) -> None:
    ws.staff()
    ws.tests_file(
        """
        tests:
          - name: two expectations
            probe: probes/alice-door.png
            identify: {in: personGroup.staff, expect: nobody}
            detect: {faces: 1}
          - name: typo
            probe: probes/missing.png
            identfy: {in: personGroup.staff, expect: nobody}
          - name: bad confidence
            probe: probes/alice-door.png
            identify: {in: personGroup.staff, expect: nobody, minConfidence: 2}
          - name: bad confidence
            probe: probes/nope.png
            detect: {faces: 1}
        """
    )
    result = ws.test()
    assert result.exit_code == 1
    err = result.stderr.splitlines()
    assert err[0].startswith("recognition.test.yaml:2:5: error: ") and "exactly one of identify" in err[0]
    assert err[1].startswith("recognition.test.yaml:8:5: error: ") and "identfy" in err[1]
    assert err[2].startswith("recognition.test.yaml:11:70: error: ")
    assert err[3].startswith("recognition.test.yaml:12:11: error: test 'bad confidence' is already defined")
    assert err[4] == "recognition.test.yaml:13:12: error: probe 'probes/nope.png' does not exist"


def test_tests_option_reads_named_files_and_the_service_is_never_written(ws: Checks, service) -> None:
    ws.applied()
    ws.tests_file(PASSING, name="elsewhere.yaml")
    stats = service.stats()
    result = ws.test("--tests", str(ws.root / "elsewhere.yaml"))
    assert result.exit_code == 0, result.output + result.stderr
    after = service.stats()
    assert after.get("faces", stats.get("faces")) == stats.get("faces")
    with httpx.Client(base_url=f"{service.url}/face/v1.0") as http:
        persons = http.get("/persongroups/staff/persons").json()
    assert sorted(p["name"] for p in persons) == ["Alice Smith", "Bob Jones"]


def test_identify_tests_share_calls_of_up_to_ten_face_ids(ws: Checks) -> None:
    ws.applied()
    entries = []
    for i in range(11):
        ws.image(f"probes/alice-{i}.png", 200 + i, identity="alice")
        entries.append(
            f"  - {{name: alice {i}, probe: probes/alice-{i}.png, "
            "identify: {in: personGroup.staff, expect: Alice Smith}}"
        )
    ws.tests_file("tests:\n" + "\n".join(entries) + "\n")
    body = json.loads(ws.test("--format", "json").stdout)
    assert body["summary"]["passed"] == 11
    assert body["calls"]["Face.Identify"] == 2 and body["calls"]["Face.Detect"] == 11
