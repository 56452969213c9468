"""Issues 17.7 and 17.8: what people read cannot be forged or hidden, and drift sees every hand edit.

Names from the configuration and from the service reach every human format with their control and
bidi characters escaped; drift checks every cached face against the service, plan a sample, and
both say how many they checked."""

from __future__ import annotations

import json

import pytest

from facesync.fingerprint import decode_face_user_data, encode_face_user_data
from tests.sync.sync_helpers import Service, Workspace

ESCAPE = "\x1b]0;owned\x07"
FORGED = "\r\nApply complete: 0 done"
RTL = "\u202e"


def _hostile_config(ws: Workspace) -> None:
    ws.image("images/a.png", 1)
    ws.config(
        f"""
        version: 1
        personGroups:
          staff:
            name: "Staff{RTL}gnp.exe"
            persons:
              "Eve{RTL}evil":
                faces: [images/a.png]
        """
    )


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_config_names_with_bidi_overrides_are_shown_escaped(workspace: Workspace, fmt: str) -> None:
    _hostile_config(workspace)
    result = workspace.run("plan", "--rate-limit", "0", "--format", fmt)
    assert result.exit_code == 0, result.output + result.stderr
    assert RTL not in result.stdout
    assert "\\u202e" in result.stdout


def test_json_keeps_the_names_as_they_are(workspace: Workspace) -> None:
    _hostile_config(workspace)
    doc = json.loads(workspace.run("plan", "--rate-limit", "0", "--format", "json").stdout)
    assert any(RTL in c["address"] for c in doc["changes"])  # machines get the exact value


@pytest.mark.parametrize("fmt", ["text", "markdown"])
def test_names_the_service_holds_cannot_write_to_the_terminal(
    workspace: Workspace, service: Service, fmt: str
) -> None:
    workspace.config("version: 1\npersonGroups: {staff: {name: Staff, persons: {}}}\n")
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    # Someone created a person (and an unmanaged list) with terminal escapes in their names.
    service.api.post("/persongroups/staff/persons", json={"name": f"Mallory{ESCAPE}{FORGED}"})
    service.api.put("/facelists/other", json={"name": f"List{ESCAPE}"})
    result = workspace.run("drift", "--rate-limit", "0", "--format", fmt)
    assert result.exit_code == 2, result.output + result.stderr
    for raw in ("\x1b", "\x07", "\r"):
        assert raw not in result.stdout + result.stderr
    # Shown, visibly escaped (JSON's \u001b in quoted values, \x1b elsewhere), never obeyed.
    assert "]0;owned" in result.stdout
    assert "\nApply complete" not in result.stdout


def _faces(service: Service) -> list[tuple[str, str]]:
    """(personId, persistedFaceId) of every face in the staff group."""
    persons = service.api.get("/persongroups/staff/persons").json()
    return [(p["personId"], f) for p in persons for f in p["persistedFaceIds"]]


def _applied_with_many_faces(ws: Workspace) -> None:
    for i in range(12):
        ws.image(f"images/p{i}.png", 100 + i)
    persons = "\n".join(f"      P{i}: {{faces: [images/p{i}.png]}}" for i in range(12))
    ws.config(f"version: 1\npersonGroups:\n  staff:\n    name: Staff\n    persons:\n{persons}\n")
    result = ws.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr


def test_drift_checks_every_cached_face_and_catches_each_hand_edit(
    workspace: Workspace, service: Service
) -> None:
    _applied_with_many_faces(workspace)
    faces = _faces(service)
    assert len(faces) == 12
    # Each face in turn is edited by hand; drift (whose default checks every cached face) must
    # find each one — a sample of 10 of 12 would miss one in six.
    for person_id, face_id in faces[:4]:
        path = f"/persongroups/staff/persons/{person_id}/persistedfaces/{face_id}"
        fingerprint, _ = decode_face_user_data(service.api.get(path).json()["userData"])
        assert fingerprint is not None
        service.api.patch(path, json={"userData": encode_face_user_data(fingerprint, "edited")})
        drift = workspace.run("drift", "--rate-limit", "0")
        assert drift.exit_code == 2, drift.output
        assert "12 faces from the local cache, 12 of them checked" in drift.stderr
        assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0


def test_plan_checks_a_sample_and_says_how_many(workspace: Workspace, service: Service) -> None:
    _applied_with_many_faces(workspace)
    plan = workspace.run("plan", "--rate-limit", "0")
    assert plan.exit_code == 0
    assert "12 faces from the local cache, 10 of them checked" in plan.stderr
    sampled = workspace.run("drift", "--rate-limit", "0", "--verify-sample", "3")
    assert "12 faces from the local cache, 3 of them checked" in sampled.stderr


def test_a_line_break_inside_a_value_never_starts_a_line_of_markdown() -> None:
    from facesync.render import render_markdown
    from tests.sync.test_render import every_action_plan

    doc = every_action_plan().to_dict()
    forged = "fine\n::error file=x::forged\n> [!NOTE] forged"
    doc["warnings"] = [{"code": "x", "address": None, "message": forged}]
    doc["unmanaged"] = [{"kind": "faceList", "id": "x", "name": forged, "address": f"faceList.{forged}"}]
    doc["refusals"] = [{"gate": "prune", "address": "faceList.x", "message": forged}]
    text = render_markdown(doc)
    assert not [line for line in text.splitlines() if line.startswith(("::", "> [!NOTE] forged"))]
    assert "::error file=x::forged" in text  # shown, inside its line
