"""Emptying a person is a gated change, whatever the group's size; `--target` names only what the
configuration declares, and a malformed address shows the form it should take."""

from __future__ import annotations

import json

from tests.identity.identity_helpers import Service, Workspace

HOME = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  fam:
    name: Family
    persons:
      Dad: {faces: DAD}
      Mum: {faces: [images/mum.png]}
"""


def home(ws: Workspace, dad: str = "[images/dad1.png, images/dad2.png]") -> None:
    for name, seed in (("dad1", 1), ("dad2", 2), ("mum", 3)):
        ws.image(f"images/{name}.png", seed)
    ws.config(HOME.replace("DAD", dad))


def test_emptying_a_person_is_refused_without_force_in_a_small_group(workspace: Workspace, service: Service):
    home(workspace)
    workspace.applied()
    dad = service.person("fam", "Dad")
    home(workspace, "[]")

    code, plan = workspace.plan_json()
    assert code == 3
    (refusal,) = plan["refusals"]
    assert refusal["gate"] == "face_loss" and refusal["address"] == 'personGroup.fam/person["Dad"]'
    assert "would be left with no faces" in refusal["message"]
    before = service.managed_writes()
    refused = workspace.cli("apply", "--auto-approve")
    assert refused.exit_code == 3
    assert 'Refused: personGroup.fam/person["Dad"] would be left with no faces' in refused.stderr
    assert service.managed_writes() == before

    forced = workspace.cli("apply", "--auto-approve", "--force")
    assert forced.exit_code == 0, forced.output + forced.stderr
    emptied = service.person("fam", "Dad")
    assert emptied["personId"] == dad["personId"] and emptied["persistedFaceIds"] == []


def test_deleting_a_persons_images_is_gated_but_replacing_them_is_not(workspace: Workspace, service: Service):
    home(workspace)
    workspace.applied()
    home(workspace, "[]")
    for name in ("dad1", "dad2"):
        (workspace.root / f"images/{name}.png").unlink()
    assert workspace.cli("plan").exit_code == 3

    workspace.image("images/dad-new.png", 8)
    home(workspace, "[images/dad-new.png]")
    code, plan = workspace.plan_json()
    assert code == 0 and plan["refusals"] == []
    # Keeping one of two is no loss of the person either.
    home(workspace, "[images/dad1.png]")
    code, plan = workspace.plan_json()
    assert code == 0 and plan["refusals"] == []


def test_target_of_an_undeclared_person_is_an_error(workspace: Workspace):
    home(workspace)
    result = workspace.cli("plan", "--target", 'personGroup.fam/person["Mun"]')
    assert result.exit_code == 1
    assert 'personGroup.fam declares no person "Mun" (did you mean "Mum"?)' in result.stderr
    assert "No changes" not in result.stdout


def test_a_person_address_without_quotes_shows_the_expected_form(workspace: Workspace):
    home(workspace)
    result = workspace.cli("plan", "--target", "personGroup.fam/person[Mum]")
    assert result.exit_code == 1
    assert 'a person\'s name is in double quotes: personGroup.fam/person["Mum"]' in result.stderr


def test_target_of_a_declared_person_plans_only_that_person(workspace: Workspace):
    home(workspace)
    code, plan = workspace.plan_json("--target", 'personGroup.fam/person["Mum"]')
    assert code == 0
    persons = [c["address"] for c in plan["changes"] if c["kind"] == "person"]
    assert persons == ['personGroup.fam/person["Mum"]']
    assert json.dumps(plan).count("Dad") == 0
