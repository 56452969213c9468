"""plan, apply, drift, import, show, --target and test for the directory and its groups, through
the CLI against the emulator over HTTP (deterministic identities, synthetic images)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx

from facesync.client import Endpoint
from facesync.config import load
from facesync.sync import Sync, SyncOptions
from tests.directory.helpers import FAMILY, PREVIEW, Family, directory_api, snapshot
from tests.sync.sync_helpers import Service

DAD_FACES, MUM_FACES, KID_FACES = 2, 1, 1


def _names(plan: dict) -> list[tuple[str, str]]:
    return [(c["action"], c["address"]) for c in plan["changes"]]


def test_a_family_is_created_then_the_service_matches(family: Family, service: Service):
    family.write()
    family.apply()
    live = snapshot(service)
    assert {
        name: [len(p["faces"]["recognition_03"]) for p in persons]
        for name, persons in live["directory"].items()
    } == {
        "Dad": [DAD_FACES],
        "Mum": [MUM_FACES],
        "Kid": [KID_FACES],
    }
    assert live["directory"]["Dad"][0]["userData"] == '{"role": "parent"}'
    assert live["groups"] == {"parents": ["Dad", "Mum"]}
    assert family.plan_json()["changes"] == []
    drift = family.run("drift", "--rate-limit", "0")
    assert drift.exit_code == 0, drift.output + drift.stderr


def test_a_member_leaving_is_planned_applied_and_gone_from_the_group(family: Family, service: Service):
    family.write()
    family.apply()
    family.write(FAMILY.replace("members: [Dad, Mum]", "members: [Dad]"))
    plan = family.plan_json()
    assert _names(plan) == [("delete", 'dynamicPersonGroup.parents/member["Mum"]')]
    assert plan["changes"][0]["reason"] == "not in members"
    family.apply()
    assert snapshot(service)["groups"] == {"parents": ["Dad"]}
    assert "Mum" in snapshot(service)["directory"]  # leaving a group deletes nobody


def test_a_model_upgrade_adds_the_new_faces_beside_the_old_then_drops_the_old(
    family: Family, service: Service
):
    family.write()
    family.apply()
    both = FAMILY.replace("[recognition_03]", "[recognition_03, recognition_04]")
    family.write(both)
    plan = family.plan_json()
    assert {(c["action"], c["reason_code"]) for c in plan["changes"]} == {("create", "model_added")}
    assert len(plan["changes"]) == DAD_FACES + MUM_FACES + KID_FACES
    assert all("/model[recognition_04]/face[" in c["address"] for c in plan["changes"])
    family.apply()
    dad = snapshot(service)["directory"]["Dad"][0]["faces"]
    assert dad["recognition_03"] == dad["recognition_04"]  # the same faces, in both models
    family.write(FAMILY.replace("[recognition_03]", "[recognition_04]"))
    text = family.run("plan", "--rate-limit", "0")
    assert (
        "model[recognition_03]" in text.stdout
        and "is no longer in personDirectory.recognitionModels" in text.stdout
    )
    plan = family.plan_json()
    assert {(c["action"], c["reason_code"]) for c in plan["changes"]} == {("delete", "model_removed")}
    family.apply()
    assert set(snapshot(service)["directory"]["Dad"][0]["faces"]) == {"recognition_04"}


class _Recording(httpx.AsyncHTTPTransport):
    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "GET":
            self.writes.append((request.method, request.url.path))
        return await super().handle_async_request(request)


def test_apply_adds_every_new_face_before_it_deletes_an_old_one(family: Family, service: Service):
    family.write()
    family.apply()
    family.write(FAMILY.replace("[recognition_03]", "[recognition_04]"))
    desired, _ = load(family.root / "facesync.yaml")
    transport = _Recording()

    async def run() -> None:
        options = SyncOptions(api_version=PREVIEW, rate_limit=None)
        async with Sync(desired, Endpoint(service.url, None), options=options, transport=transport) as sync:
            plan = await sync.plan()
            result = await sync.apply(plan)
            assert result.ok and not result.unconverged, (result.failed, result.unconverged)

    asyncio.run(run())
    faces = [(m, p) for m, p in transport.writes if "/persistedfaces" in p]
    adds = [i for i, (m, _) in enumerate(faces) if m == "POST"]
    deletes = [i for i, (m, _) in enumerate(faces) if m == "DELETE"]
    assert len(adds) == len(deletes) == DAD_FACES + MUM_FACES + KID_FACES
    assert max(adds) < min(deletes)
    assert all("/recognitionModels/recognition_04/" in faces[i][1] for i in adds)


def test_hand_edits_on_the_service_are_drift(family: Family, service: Service):
    family.write()
    family.apply()
    api = directory_api(service)
    persons = {p["name"]: p["personId"] for p in api.get("/persons").json()}
    stray = api.post(
        f"/persons/{persons['Kid']}/recognitionModels/recognition_04/persistedfaces",
        content=(family.root / "probes" / "kid-door.png").read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
        params={"userData": "added in the portal"},
    )
    assert stray.status_code == 202, stray.text
    removed = api.patch("/dynamicpersongroups/parents", json={"removePersonIds": [persons["Mum"]]})
    assert removed.status_code == 202, removed.text
    asyncio.run(asyncio.sleep(0.2))  # the emulator's membership operation (0.05 s) has ended
    drift = family.run("drift", "--rate-limit", "0", "--format", "json")
    assert drift.exit_code == 2, drift.output + drift.stderr
    assert sorted(_names(json.loads(drift.stdout))) == [
        ("create", 'dynamicPersonGroup.parents/member["Mum"]'),
        (
            "delete",
            f'personDirectory/person["Kid"]/model[recognition_04]/face[{stray.json()["persistedFaceId"]}]',
        ),
    ]


def test_import_of_the_directory_and_its_groups_plans_nothing(family: Family, service: Service):
    family.write()
    family.apply()
    out = family.root / "imported" / "facesync.yaml"
    images = str(family.root / "images")
    result = family.cli("import", "--all", "--api-version", PREVIEW, "--images", images, "--out", str(out))
    assert result.exit_code == 0, result.output + result.stderr
    text = out.read_text()
    assert "service:\n  apiVersion: v1.2-preview.1\n" in text
    assert "personDirectory:\n  recognitionModels:\n    - recognition_03\n" in text
    assert "members:\n      - Dad\n      - Mum\n" in text
    root = str(family.root)
    plan = family.cli("plan", "--detailed-exitcode", "--rate-limit", "0", "--root", root, "-f", str(out))
    assert plan.exit_code == 0, plan.output + plan.stderr


def test_targets_pick_a_directory_person_or_a_group(family: Family, service: Service):
    family.write()
    only_kid = family.plan_json("--target", 'personDirectory/person["Kid"]')
    assert _names(only_kid) == [
        ("create", 'personDirectory/person["Kid"]'),
        ("create", next(c["address"] for c in only_kid["changes"] if "/face[" in c["address"])),
    ]
    family.apply("--target", "personDirectory")
    assert snapshot(service)["groups"] == {}
    only_group = family.plan_json("--target", "dynamicPersonGroup.parents")
    assert _names(only_group) == [
        ("create", "dynamicPersonGroup.parents"),
        ("create", 'dynamicPersonGroup.parents/member["Dad"]'),
        ("create", 'dynamicPersonGroup.parents/member["Mum"]'),
    ]
    bad = family.run("plan", "--target", "dynamicPersonGroup.kids")
    assert bad.exit_code == 1 and "dynamicPersonGroup.kids is not declared" in bad.stderr


def test_a_saved_plan_shows_and_applies_the_same(family: Family, service: Service):
    family.write()
    saved = family.root / "plan.json"
    result = family.run("plan", "--rate-limit", "0", "--out", str(saved))
    assert result.exit_code in (0, 2), result.output + result.stderr
    shown = family.cli("show", str(saved))
    assert shown.exit_code == 0 and 'dynamicPersonGroup.parents/member["Mum"]' in shown.stdout
    applied = family.run("apply", str(saved), "--auto-approve", "--rate-limit", "0")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert snapshot(service)["groups"] == {"parents": ["Dad", "Mum"]}


TESTS = """
tests:
  - name: dad at the door is a parent
    probe: probes/dad-door.png
    identify: {in: dynamicPersonGroup.parents, expect: Dad}
  - name: the kid is no parent
    probe: probes/kid-door.png
    identify: {in: dynamicPersonGroup.parents, expect: nobody}
  - name: the directory knows the kid
    probe: probes/kid-door.png
    identify: {in: personDirectory, expect: Kid}
  - name: dad verifies as dad
    probe: probes/dad-door.png
    verify: {person: 'personDirectory/person["Dad"]', expect: same}
"""


def test_recognition_tests_identify_in_a_group_and_the_directory_and_verify(family: Family, service: Service):
    family.write()
    family.apply()
    (family.root / "door.test.yaml").write_text(TESTS.lstrip())
    result = family.run("test", "--rate-limit", "0", "--format", "json")
    assert result.exit_code == 0, result.output + result.stderr
    outcomes = {t["name"]: t["outcome"] for t in json.loads(result.stdout)["tests"]}
    assert set(outcomes.values()) == {"passed"}, outcomes


def test_a_test_naming_a_non_member_or_an_unenrolled_model_is_a_config_error(family: Family):
    family.write()
    (family.root / "door.test.yaml").write_text(
        TESTS.replace("expect: Dad}", "expect: Kid}")
        .replace(
            "identify: {in: personDirectory, expect: Kid}",
            "identify: {in: personDirectory, expect: Kid, recognitionModel: recognition_04}",
        )
        .lstrip()
    )
    result = family.run("test", "--rate-limit", "0")
    assert result.exit_code == 1
    assert "dynamicPersonGroup.parents has no member 'Kid' (members: Dad, Mum)" in result.stderr
    assert (
        "recognitionModel 'recognition_04' is not enrolled in the personDirectory (recognition_03)"
        in result.stderr
    )


def test_audit_reviews_directory_persons_and_a_group_target_means_its_members(family: Family):
    family.write()
    whole = family.run("audit", "--yes", "--rate-limit", "0", "--format", "json")
    assert whole.exit_code == 0, whole.output + whole.stderr
    assert (json.loads(whole.stdout)["images"], json.loads(whole.stdout)["persons"]) == (4, 3)
    parents = family.run(
        "audit", "--yes", "--rate-limit", "0", "--format", "json", "--target", "dynamicPersonGroup.parents"
    )
    assert parents.exit_code == 0, parents.output + parents.stderr
    report = json.loads(parents.stdout)
    assert (report["images"], report["persons"]) == (DAD_FACES + MUM_FACES, 2)
    assert report["calls"]["Face.Detect"] == DAD_FACES + MUM_FACES


def test_directory_plans_match_the_published_plan_schema_and_render_as_markdown(family: Family):
    import jsonschema

    family.write()
    family.apply()
    family.write(FAMILY.replace("[recognition_03]", "[recognition_04]").replace("[Dad, Mum]", "[Dad]"))
    plan = family.plan_json()
    schema = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(plan, schema)
    assert {c["kind"] for c in plan["changes"]} == {"face", "member"}
    markdown = family.run("plan", "--rate-limit", "0", "--format", "markdown")
    assert 'dynamicPersonGroup.parents/member["Mum"]' in markdown.stdout
