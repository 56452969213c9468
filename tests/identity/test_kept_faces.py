"""Kept faces (`persistedFaceId:` entries, as import writes them) are resources like any other:
their loss is drift, a plan that needs one the service lost is an error before any write, and a
collection is never trained while the service would hold no face for it."""

from __future__ import annotations

import json

from tests.identity.identity_helpers import Service, Workspace
from tests.importing.import_helpers import SdkScript, run_sdk


async def family_by_script(sdk: SdkScript) -> dict[str, list[str]]:
    """What a team's own SDK script made: faces without facesync fingerprints."""
    await sdk.collection("persongroups", "fam", "Family", None)
    dad = await sdk.person("persongroups", "fam", "Dad", None, [(1, None), (2, "passport")])
    mum = await sdk.person("persongroups", "fam", "Mum", None, [(3, None)])
    await sdk.train("persongroups", "fam")
    faces = {}
    for name, pid in (("Dad", dad), ("Mum", mum)):
        faces[name] = (await sdk.call("GET", f"/persongroups/fam/persons/{pid}"))["persistedFaceIds"]
    return faces


def adopted(ws: Workspace) -> None:
    result = ws.cli("import", "--all", "--out", "facesync.yaml")
    assert result.exit_code == 0, result.stderr
    assert ws.cli("plan", "--detailed-exitcode").exit_code == 0


def line_of(ws: Workspace, text: str) -> int:
    lines = (ws.root / "facesync.yaml").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if text in line)


def test_a_kept_face_deleted_by_hand_is_drift_naming_its_id_and_line(workspace: Workspace, service: Service):
    faces = run_sdk(service, family_by_script)
    adopted(workspace)
    gone = faces["Dad"][0]
    dad = service.person("fam", "Dad")["personId"]
    service.api.delete(f"/persongroups/fam/persons/{dad}/persistedfaces/{gone}").raise_for_status()

    drift = workspace.cli("drift")
    assert drift.exit_code == 2, drift.output
    assert f'personGroup.fam/person["Dad"]/face[{gone}] is missing' in drift.stdout
    assert f'persistedFaceId  "{gone}"' in drift.stdout
    assert f"source           facesync.yaml:{line_of(workspace, gone)}" in drift.stdout
    assert "Drift: 1 missing." in drift.stdout
    doc = json.loads(workspace.cli("drift", "--format", "json").stdout)
    (change,) = doc["changes"]
    assert change["reason_code"] == "kept_face_missing"
    assert change["source"]["line"] == line_of(workspace, gone)


def test_a_plan_that_needs_a_lost_kept_face_is_an_error_and_apply_writes_nothing(
    workspace: Workspace, service: Service
):
    faces = run_sdk(service, family_by_script)
    adopted(workspace)
    gone = faces["Dad"][0]
    dad = service.person("fam", "Dad")["personId"]
    service.api.delete(f"/persongroups/fam/persons/{dad}/persistedfaces/{gone}").raise_for_status()
    # Another change the same plan would make: it is not made either.
    workspace.image("images/mum.png", 7)
    text = (workspace.root / "facesync.yaml").read_text()
    (workspace.root / "facesync.yaml").write_text(text.replace("Mum:\n", "Mum:\n        userData: new\n"))

    plan = workspace.cli("plan")
    assert plan.exit_code == 1
    assert f'personGroup.fam/person["Dad"]/face[{gone}] cannot be re-created' in plan.stdout
    error = plan.stderr.strip().splitlines()[-1]
    assert error.startswith("Error: 1 kept face(s) are not on the service")
    assert f'personGroup.fam/person["Dad"]/face[{gone}] (facesync.yaml:{line_of(workspace, gone)})' in error
    assert "another writer" not in plan.output + plan.stderr
    assert workspace.cli("plan", "--force").exit_code == 1

    before = service.managed_writes()
    applied = workspace.cli("apply", "--auto-approve", "--force")
    assert applied.exit_code == 1
    assert "nothing was written" in applied.stderr
    assert service.managed_writes() == before

    # Dropping the entry (the face is gone) leaves a plan that applies.
    kept = [line for line in text.splitlines() if gone in line]
    (workspace.root / "facesync.yaml").write_text(text.replace(kept[0] + "\n", ""))
    assert workspace.cli("apply", "--auto-approve").exit_code == 0
    assert workspace.cli("plan", "--detailed-exitcode").exit_code == 0


async def watchlist_by_script(sdk: SdkScript) -> str:
    await sdk.collection("largefacelists", "watch", "Watch", None)
    face = await sdk.face("/largefacelists/watch/persistedfaces", 5)
    await sdk.train("largefacelists", "watch")
    return face


def test_a_list_of_only_kept_faces_is_never_trained_empty(workspace: Workspace, service: Service):
    face = run_sdk(service, watchlist_by_script)
    adopted(workspace)
    service.api.delete(f"/largefacelists/watch/persistedfaces/{face}").raise_for_status()

    code, plan = workspace.plan_json()
    assert code == 1
    assert [(c["action"], c["reason_code"]) for c in plan["changes"]] == [("create", "kept_face_missing")]
    before = service.managed_writes()
    applied = workspace.cli("apply", "--auto-approve")
    assert applied.exit_code == 1
    assert "training failed" not in applied.output + applied.stderr
    assert "another writer" not in applied.output + applied.stderr
    assert service.managed_writes() == before
    drift = workspace.cli("drift", "--format", "json")
    assert drift.exit_code == 2
    assert [c["action"] for c in json.loads(drift.stdout)["changes"]] == ["create"]

    # Without the entry the list holds nothing to train on: nothing is planned, nothing fails.
    text = (workspace.root / "facesync.yaml").read_text()
    (workspace.root / "facesync.yaml").write_text(
        text.replace(f"      - persistedFaceId: {face}\n", "").replace("    faces:\n", "    faces: []\n")
    )
    assert workspace.cli("apply", "--auto-approve").exit_code == 0
    assert workspace.cli("drift").exit_code == 0
