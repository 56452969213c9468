"""plan and drift end to end: the CLI, the real HTTP client and the emulator on a local port."""

from __future__ import annotations

import json
from typing import Any

from tests.sync.sync_helpers import STAFF_CONFIG, Service, Workspace, write_staff


def applied(ws: Workspace) -> None:
    write_staff(ws)
    result = ws.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr


def only_changes(plan: dict[str, Any]) -> list[tuple[str, str]]:
    return [(c["action"], c["address"]) for c in plan["changes"]]


def person_id(service: Service, group: str, name: str, kind: str = "persongroups") -> str:
    persons = service.api.get(f"/{kind}/{group}/persons").json()
    return next(p["personId"] for p in persons if p["name"] == name)


def test_empty_service_plans_every_resource_as_create(workspace: Workspace):
    write_staff(workspace)
    plan = workspace.plan_json()
    assert plan["summary"] == {"create": 14, "update": 0, "replace": 0, "delete": 0, "train": 3}
    assert {c["action"] for c in plan["changes"]} == {"create", "train"}
    assert {c["kind"] for c in plan["changes"]} == {
        "personGroup",
        "largePersonGroup",
        "faceList",
        "largeFaceList",
        "person",
        "face",
    }


def test_after_apply_plan_is_empty_and_drift_reads_without_writing(workspace: Workspace, service: Service):
    applied(workspace)
    result = workspace.run("plan", "--detailed-exitcode", "--rate-limit", "0")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "No changes. The live service matches the configuration."
    before = service.stats()["mutating"]
    drift = workspace.run("drift", "--rate-limit", "0")
    assert drift.exit_code == 0
    assert service.stats()["mutating"] == before


def test_drift_exits_2_on_a_hand_edit_and_never_writes(workspace: Workspace, service: Service):
    applied(workspace)
    service.api.patch("/persongroups/staff", json={"name": "Renamed in the portal"}).raise_for_status()
    before = service.stats()["mutating"]
    for fmt in ("text", "json", "markdown"):
        drift = workspace.run("drift", "--format", fmt, "--rate-limit", "0", "--refresh", "full")
        assert drift.exit_code == 2, drift.output
    assert service.stats()["mutating"] == before
    assert "Renamed in the portal" in drift.stdout and "### facesync drift" in drift.stdout


def test_each_out_of_band_edit_shows_up_exactly_once(workspace: Workspace, service: Service):
    applied(workspace)
    api = service.api
    alice = person_id(service, "staff", "Alice Smith")
    alice_faces = api.get(f"/persongroups/staff/persons/{alice}").json()["persistedFaceIds"]
    bob = person_id(service, "staff", "Bob Jones")
    # A person added by hand, a face deleted by hand, an unfingerprinted face, a twin, a person edit.
    api.post("/persongroups/staff/persons", json={"name": "Mallory"}).raise_for_status()
    api.delete(f"/persongroups/staff/persons/{alice}/persistedfaces/{alice_faces[0]}").raise_for_status()
    from tests.imagegen import face_image

    stranger = api.post(
        f"/persongroups/staff/persons/{bob}/persistedfaces",
        content=face_image(99),
        headers={"Content-Type": "application/octet-stream"},
    ).json()["persistedFaceId"]
    twin = api.post("/persongroups/staff/persons", json={"name": "Bob Jones"}).json()["personId"]
    visitor = person_id(service, "visitors", "V-0001", "largepersongroups")
    api.patch(
        f"/largepersongroups/visitors/persons/{visitor}", json={"userData": "edited"}
    ).raise_for_status()

    plan = workspace.plan_json("--refresh", "full")
    changes = only_changes(plan)
    assert len(changes) == len(set(changes))
    kinds = sorted((c["action"], c["kind"]) for c in plan["changes"])
    assert kinds == sorted(
        [
            ("delete", "person"),  # Mallory
            ("create", "face"),  # Alice's deleted face
            ("delete", "face"),  # the unfingerprinted face on Bob
            ("delete", "person"),  # Bob's twin
            ("update", "person"),  # V-0001's userData
            ("train", "personGroup"),
        ]
    )
    addresses = {c["address"] for c in plan["changes"]}
    assert f'personGroup.staff/person["Bob Jones"]({twin})' in addresses
    assert f'personGroup.staff/person["Bob Jones"]/face[{stranger}]' in addresses
    assert 'personGroup.staff/person["Mallory"]' in addresses

    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output
    assert workspace.plan_json("--refresh", "full")["changes"] == []


def test_unmanaged_collections_are_listed_and_left_alone(workspace: Workspace, service: Service):
    applied(workspace)
    service.api.put("/largefacelists/legacy", json={"name": "Legacy"}).raise_for_status()
    plan = workspace.plan_json()
    assert plan["changes"] == []
    assert plan["unmanaged"] == [
        {"address": "largeFaceList.legacy", "id": "legacy", "kind": "largeFaceList", "name": "Legacy"}
    ]
    text = workspace.run("plan", "--rate-limit", "0").stdout
    assert "Unmanaged collections" in text and "largeFaceList.legacy" in text


def test_config_edits_plan_update_replace_and_ensure_absent(workspace: Workspace):
    applied(workspace)
    workspace.config(
        STAFF_CONFIG.replace("name: Staff", "name: Staff members")
        .replace("userData: ambassador", "userData: ambassador (retired)")
        .replace(
            "  visitors:\n    name: Visitors",
            "  visitors:\n    name: Visitors\n    recognitionModel: recognition_03",
        )
        .replace(
            "  lookalikes:\n    name: Lookalikes\n    faces: [images/lookalikes]",
            "  lookalikes:\n    ensure: absent",
        )
    )
    plan = workspace.plan_json()
    assert only_changes(plan) == [
        ("update", "personGroup.staff"),
        ("replace", "largePersonGroup.visitors"),
        ("create", 'largePersonGroup.visitors/person["V-0001"]'),
        ("create", plan["changes"][3]["address"]),
        ("train", "largePersonGroup.visitors"),
        ("replace", plan["changes"][5]["address"]),
        ("delete", "largeFaceList.lookalikes"),
    ]
    assert plan["changes"][5]["kind"] == "face" and plan["changes"][5]["address"].startswith(
        "faceList.vip/face["
    )


def test_protect_and_threshold_gates_render_then_refuse(workspace: Workspace, service: Service):
    applied(workspace)
    workspace.config(
        STAFF_CONFIG.replace(
            "  staff:\n    name: Staff", "  staff:\n    protect: true\n    ensure: absent\n    name: Staff"
        )
    )
    refused = workspace.run("plan", "--rate-limit", "0")
    assert refused.exit_code == 3
    assert "- personGroup.staff" in refused.stdout  # rendered first
    assert "personGroup.staff is protected" in refused.stderr
    assert workspace.run("plan", "--rate-limit", "0", "--force").exit_code == 0
    applied_again = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert applied_again.exit_code == 3 and service.api.get("/persongroups/staff").status_code == 200


def test_share_gate_holds_a_large_delete(workspace: Workspace):
    for i in range(10):
        workspace.image(f"images/lookalikes/{i}.png", 100 + i)
    write_staff(workspace)
    for i in range(10):
        workspace.image(f"images/lookalikes/{i}.png", 100 + i)
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    for i in range(4):
        (workspace.root / f"images/lookalikes/{i}.png").unlink()
    refused = workspace.run("plan", "--rate-limit", "0")
    assert refused.exit_code == 3
    assert (
        "largeFaceList.lookalikes: deleting 4 of 12 faces (33%) is over the 30% threshold" in refused.stderr
    )
    assert workspace.run("plan", "--rate-limit", "0", "--delete-threshold", "0.5").exit_code == 0


def test_target_reads_and_plans_only_the_named_collections(workspace: Workspace, service: Service):
    applied(workspace)
    workspace.config(
        STAFF_CONFIG.replace("name: VIP", "name: VIP guests").replace("name: Staff", "name: Team")
    )
    before = service.stats()["operations"]
    plan = workspace.plan_json("--target", "vip")
    assert only_changes(plan) == [("update", "faceList.vip")]
    after = service.stats()["operations"]
    read = {op for op in after if after[op] != before.get(op, 0)}
    assert read == {
        "PersonGroup_List",
        "LargePersonGroup_List",
        "FaceList_List",
        "LargeFaceList_List",
        "FaceList_Get",
    }
    bad = workspace.run("plan", "--target", "nope")
    assert bad.exit_code == 1 and "--target nope: not declared" in bad.stderr


def test_warm_cache_avoids_face_reads_and_full_refresh_reads_every_face(
    workspace: Workspace, service: Service
):
    applied(workspace)

    def face_gets() -> int:
        ops = service.stats()["operations"]
        return sum(v for k, v in ops.items() if k.endswith("GetFace"))

    start = face_gets()
    workspace.plan_json("--verify-sample", "0")
    assert face_gets() == start  # apply filled the cache
    workspace.plan_json("--verify-sample", "2")
    assert face_gets() == start + 2  # the sample of cached faces checked against the service
    workspace.plan_json("--refresh", "full")
    assert face_gets() == start + 6  # 3 staff faces + 1 visitor face; list faces come with their lists


def test_out_writes_the_json_plan(workspace: Workspace):
    write_staff(workspace)
    result = workspace.run("plan", "--rate-limit", "0", "--out", "plans/plan.json")
    assert result.exit_code == 0
    saved = json.loads((workspace.root / "plans" / "plan.json").read_text())
    assert saved["summary"]["create"] == 14 and saved["checksum"].startswith("sha256:")


def test_detailed_exitcode_reports_changes(workspace: Workspace):
    write_staff(workspace)
    assert workspace.run("plan", "--rate-limit", "0", "--detailed-exitcode").exit_code == 2
    assert workspace.run("plan", "--rate-limit", "0").exit_code == 0


def test_bad_config_is_reported_before_any_call(workspace: Workspace, service: Service):
    workspace.config("version: 1\npersonGroups:\n  Bad_ID:\n    name: x\n")
    result = workspace.run("plan")
    assert result.exit_code == 1
    assert "facesync.yaml:3:3" in result.stderr
    assert service.stats()["total"] == 0


def test_no_endpoint_lists_the_ways_to_give_one(workspace: Workspace):
    write_staff(workspace)
    result = workspace.run("plan", env={"FACESYNC_ENDPOINT": ""})
    assert result.exit_code == 1
    assert (
        "--endpoint" in result.stderr and "FACESYNC_ENDPOINT" in result.stderr and "service:" in result.stderr
    )
