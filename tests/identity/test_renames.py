"""A person's identity survives a rename: `renamedFrom` in the configuration, or a rename done by
hand on the service, is one PATCH of the name — personId and faces kept, nothing trained."""

from __future__ import annotations

import json

from tests.identity.identity_helpers import Service, Workspace
from tests.importing.import_helpers import SdkScript, run_sdk

FAMILY = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  fam:
    name: Family
    persons:
      Dad: {faces: [images/dad.png]}
      {daughter}
      Son: {faces: [images/son.png]}
"""


def family(ws: Workspace, daughter: str = "Daughter: {faces: [images/d1.png, images/d2.png]}") -> None:
    for name, seed in (("dad", 1), ("d1", 2), ("d2", 3), ("son", 4)):
        ws.image(f"images/{name}.png", seed)
    ws.config(FAMILY.replace("{daughter}", daughter))


RENAMED = "Daughter Smith: {renamedFrom: Daughter, faces: [images/d1.png, images/d2.png]}"


def test_renamed_from_plans_one_rename_that_keeps_the_person_id_and_faces(
    workspace: Workspace, service: Service
):
    family(workspace)
    workspace.applied()
    before = service.person("fam", "Daughter")
    family(workspace, RENAMED)

    code, plan = workspace.plan_json("--detailed-exitcode")
    assert code == 2
    (change,) = plan["changes"]
    assert (change["action"], change["reason_code"], change["address"]) == (
        "update",
        "renamed",
        'personGroup.fam/person["Daughter Smith"]',
    )
    assert change["before"]["address"] == 'personGroup.fam/person["Daughter"]'
    assert change["before"]["personId"] == before["personId"]
    assert change["after"]["name"] == "Daughter Smith"
    assert plan["summary"] == {"create": 0, "update": 1, "replace": 0, "delete": 0, "train": 0}

    text = workspace.cli("plan").stdout
    assert 'personGroup.fam/person["Daughter"] has moved to personGroup.fam/person["Daughter Smith"]' in text
    assert '~ personGroup.fam/person["Daughter Smith"]' in text
    assert 'name  "Daughter" → "Daughter Smith"' in text
    assert "Plan: 0 to create, 1 to update, 0 to replace, 0 to delete, 0 to train." in text
    markdown = workspace.cli("plan", "--format", "markdown").stdout
    assert (
        'personGroup.fam/person["Daughter"] has moved to personGroup.fam/person["Daughter Smith"]' in markdown
    )

    # Reviewed as a file, applied as one PATCH: no face uploaded, nothing deleted, nothing trained.
    assert workspace.cli("plan", "--out", "plan.json").exit_code == 0
    shown = workspace.run("show", "plan.json")
    assert "has moved to" in shown.stdout
    ops = service.operations()
    applied = workspace.cli("apply", "plan.json")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert service.writes_since(ops) == {"PersonGroupPerson_Update": 1}
    after = service.person("fam", "Daughter Smith")
    assert after["personId"] == before["personId"]
    assert sorted(after["persistedFaceIds"]) == sorted(before["persistedFaceIds"])
    assert service.names("fam") == ["Dad", "Daughter Smith", "Son"]

    # Applied: the hint may stay or go, the plan is empty either way.
    assert workspace.cli("plan", "--detailed-exitcode").exit_code == 0
    family(workspace, RENAMED.replace("renamedFrom: Daughter, ", ""))
    assert workspace.cli("plan", "--detailed-exitcode").exit_code == 0


def test_a_rename_with_a_new_user_data_is_still_one_patch(workspace: Workspace, service: Service):
    family(workspace)
    workspace.applied()
    family(workspace, RENAMED.replace("{renamedFrom", '{userData: "née Smith", renamedFrom'))
    _code, plan = workspace.plan_json()
    (change,) = plan["changes"]
    assert change["reason_code"] == "renamed" and "userData changed too" in change["reason"]
    ops = service.operations()
    assert workspace.cli("apply", "--auto-approve").exit_code == 0
    assert service.writes_since(ops) == {"PersonGroupPerson_Update": 1}
    person = service.person("fam", "Daughter Smith")
    assert person["userData"] == "née Smith"


def test_a_rename_by_hand_is_named_in_drift_and_renamed_back_in_place(workspace: Workspace, service: Service):
    family(workspace)
    workspace.applied()
    son = service.person("fam", "Son")
    service.api.patch(
        f"/persongroups/fam/persons/{son['personId']}", json={"name": "Sonny"}
    ).raise_for_status()

    drift = workspace.cli("drift")
    assert drift.exit_code == 2
    assert 'personGroup.fam/person["Son"] is personGroup.fam/person["Sonny"] on the service' in drift.stdout
    assert "named 'Sonny' on the service, where it holds exactly these faces" in drift.stdout
    assert "is missing" not in drift.stdout and "not in the configuration" not in drift.stdout
    drift_json = json.loads(workspace.cli("drift", "--format", "json").stdout)
    assert [(c["action"], c["reason_code"]) for c in drift_json["changes"]] == [
        ("update", "renamed_on_service")
    ]

    ops = service.operations()
    applied = workspace.cli("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert service.writes_since(ops) == {"PersonGroupPerson_Update": 1}
    back = service.person("fam", "Son")
    assert back["personId"] == son["personId"] and back["persistedFaceIds"] == son["persistedFaceIds"]
    assert workspace.cli("drift").exit_code == 0


def test_a_hand_rename_is_only_recognised_by_exactly_the_same_faces(workspace: Workspace, service: Service):
    family(workspace)
    workspace.applied()
    son = service.person("fam", "Son")
    api = service.api
    api.patch(f"/persongroups/fam/persons/{son['personId']}", json={"name": "Sonny"}).raise_for_status()
    # A face Son's configuration does not name: Sonny is someone else now.
    workspace.image("images/extra.png", 9)
    api.post(
        f"/persongroups/fam/persons/{son['personId']}/persistedfaces",
        content=(workspace.root / "images/extra.png").read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    ).raise_for_status()
    _code, plan = workspace.plan_json()
    assert sorted((c["action"], c["address"]) for c in plan["changes"] if c["kind"] == "person") == [
        ("create", 'personGroup.fam/person["Son"]'),
        ("delete", 'personGroup.fam/person["Sonny"]'),
    ]


def test_renamed_from_a_declared_person_or_claimed_twice_is_a_validation_error(workspace: Workspace):
    family(
        workspace, "Daughter: {faces: [images/d1.png]}\n      Kid: {renamedFrom: Son, faces: [images/d2.png]}"
    )
    result = workspace.run("validate")
    assert result.exit_code == 1
    assert "person 'Kid' is renamedFrom 'Son', which this group also declares (line 10)" in result.stdout
    assert "facesync.yaml:9:26: error:" in result.stdout

    family(
        workspace,
        "Kid: {renamedFrom: Daughter, faces: [images/d1.png]}\n"
        "      Girl: {renamedFrom: Daughter, faces: [images/d2.png]}",
    )
    result = workspace.run("validate")
    assert result.exit_code == 1
    assert "persons 'Kid' (line 8) and 'Girl' are both renamedFrom 'Daughter'" in result.stdout


async def twins_by_script(sdk: SdkScript) -> list[str]:
    await sdk.collection("persongroups", "staff", "Staff", None)
    ids = [await sdk.person("persongroups", "staff", "Bob", None, [(seed, None)]) for seed in (1, 2)]
    await sdk.train("persongroups", "staff")
    return ids


def test_a_twin_written_under_its_own_name_is_renamed_in_place(workspace: Workspace, service: Service):
    ids = run_sdk(service, twins_by_script)
    imported = workspace.cli("import", "--all", "--rename-twins", "--out", "facesync.yaml")
    assert imported.exit_code == 0, imported.stderr
    second = sorted(ids)[1]
    code, plan = workspace.plan_json("--detailed-exitcode")
    assert code == 2
    assert [(c["action"], c["reason_code"], c["address"]) for c in plan["changes"]] == [
        ("update", "renamed_on_service", f'personGroup.staff/person["Bob ({second[:8]})"]')
    ]
    assert plan["changes"][0]["before"]["personId"] == second
    assert workspace.cli("apply", "--auto-approve").exit_code == 0
    persons = {p["name"]: p["personId"] for p in service.api.get("/persongroups/staff/persons").json()}
    assert persons == {"Bob": sorted(ids)[0], f"Bob ({second[:8]})": second}
    assert workspace.cli("plan", "--detailed-exitcode").exit_code == 0
