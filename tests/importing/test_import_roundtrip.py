"""Import round trips on the emulator: what an SDK script or facesync apply built → import → a
plan with no changes, and no write to the service along the way."""

from __future__ import annotations

import asyncio
from pathlib import Path

from facesync.config import load as load_config
from tests.importing.import_helpers import SdkScript, Service, Workspace, run_sdk

ODD_NAMES = [
    "yes",
    "null",
    "1e3",
    "  two leading spaces",
    "key: value",
    "#not a comment",
    "- not a list",
    "trailing space ",
    "O'Brien",
    'say "hi"',
    "Zoë 😀",
    "~",
    "0x1F",
    "2024-01-01",
    "line\nbreak",
]
QUOTY = '{"employeeId": 1001, "note": "it\'s \\"quoted\\""}\nsecond line\n  indented  \n'


async def build_every_kind(sdk: SdkScript, persons: int) -> None:
    """One collection of each kind, the way a script without facesync builds them."""
    await sdk.collection("persongroups", "staff", "Staff: HQ", QUOTY)
    await sdk.collection("largepersongroups", "visitors", "yes", None, model="recognition_03")
    await sdk.collection("facelists", "vip", "VIP", "line one\nline two")
    await sdk.collection("largefacelists", "lookalikes", "Look-alikes", None, model="recognition_01")
    jobs = [
        sdk.person("persongroups", "staff", name, QUOTY if i % 2 else None, [(i, f'badge "{i}"\nfront')])
        for i, name in enumerate(ODD_NAMES)
    ]
    # Enough persons that the person list crosses a page (1,000 per page).
    jobs += [
        sdk.person(
            "largepersongroups", "visitors", f"visitor-{i:04}", None, [(i % 7, None)] if i % 100 == 0 else []
        )
        for i in range(persons)
    ]
    jobs += [sdk.face("/facelists/vip/persistedfaces", i, None if i % 2 else 'fl "note"') for i in range(3)]
    # As many faces in the LargeFaceList, so its face list pages too.
    jobs += [sdk.face("/largefacelists/lookalikes/persistedfaces", i % 5, None) for i in range(persons)]
    await asyncio.gather(*jobs)
    await asyncio.gather(
        sdk.train("persongroups", "staff"),
        sdk.train("largepersongroups", "visitors"),
        sdk.train("largefacelists", "lookalikes"),
    )


def test_sdk_built_collections_of_every_kind_import_to_an_empty_plan_without_a_write(
    workspace: Workspace, service: Service
):
    run_sdk(service, lambda sdk: build_every_kind(sdk, 1001))
    before = service.mutating()

    imported = workspace.import_("--all", "--out", "facesync.yaml")
    assert imported.exit_code == 0, imported.output + imported.stderr
    assert service.mutating() == before

    desired, _ = load_config(workspace.root / "facesync.yaml")
    staff = next(c for c in desired.collections if c.id == "staff")
    assert sorted(p.name for p in staff.persons) == sorted(ODD_NAMES)
    assert staff.name == "Staff: HQ" and staff.user_data == QUOTY
    assert {p.user_data for p in staff.persons} == {None, QUOTY}
    assert {f.user_data for p in staff.persons for f in p.faces} == {f'badge "{i}"\nfront' for i in range(15)}
    by_id = {c.id: c for c in desired.collections}
    assert len(by_id["visitors"].persons) == 1001
    assert len(by_id["lookalikes"].faces) == 1001
    assert (by_id["visitors"].recognition_model, by_id["lookalikes"].recognition_model) == (
        "recognition_03",
        "recognition_01",
    )

    validated = workspace.run("validate", "-f", "facesync.yaml")
    assert validated.exit_code == 0, validated.output
    plan = workspace.plan("facesync.yaml")
    assert plan.exit_code == 0, plan.stdout
    assert "No changes" in plan.stdout
    assert service.mutating() == before


APPLIED_CONFIG = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  staff:
    name: Staff
    userData: '{"owner": "facilities"}'
    persons:
      Alice Smith:
        userData: '{"employeeId": 1001}'
        faces: [images/alice/*.png]
      Bob Jones:
        faces:
          - image: images/bob/badge.jpg
            userData: "badge \\"photo\\"\\nlobby"
          - image: images/bob/odd[1].png
            detectionModel: detection_01
      No Face Yet: {}
largePersonGroups:
  visitors:
    name: Visitors
    persons:
      V-0001: {faces: [images/visitors/v1.png]}
faceLists:
  vip:
    name: VIP
    faces:
      - image: images/vip/ambassador.png
        userData: ambassador
largeFaceLists:
  lookalikes:
    name: Lookalikes
    faces: [images/lookalikes]
"""


def write_applied(ws: Workspace) -> None:
    for i, path in enumerate(
        [
            "images/alice/1.png",
            "images/alice/2.png",
            "images/bob/badge.jpg",
            "images/bob/odd[1].png",
            "images/visitors/v1.png",
            "images/vip/ambassador.png",
            "images/lookalikes/a.png",
            "images/lookalikes/b.png",
        ]
    ):
        ws.image(path, i + 1)
    ws.config(APPLIED_CONFIG, "source.yaml")
    applied = ws.run("apply", "-f", "source.yaml", "--auto-approve", "--rate-limit", "0")
    assert applied.exit_code == 0, applied.output + applied.stderr


def faces_by_owner(config: Path) -> dict[tuple[str, str], set[tuple[str | None, str | None, str | None]]]:
    """(collection, person) → {(absolute image path, detection model, note)} as facesync loads them."""
    desired, _ = load_config(config, root=config.parents[1] if config.is_file() else config.parent)
    owners: dict[tuple[str, str], set[tuple[str | None, str | None, str | None]]] = {}
    for c in desired.collections:
        groups = [(p.name, p.faces) for p in c.persons] or [("", c.faces)]
        for name, faces in groups:
            owners[(c.id, name)] = {(f.image_path, f.detection_model, f.user_data) for f in faces}
    return owners


def test_applied_config_imports_back_to_the_same_images_and_an_empty_plan(
    workspace: Workspace, service: Service
):
    write_applied(workspace)
    before = service.mutating()
    # Written one directory down: image paths must be relative to the output file.
    imported = workspace.import_("--all", "--images", "images", "--out", "adopted/facesync.yaml")
    assert imported.exit_code == 0, imported.output + imported.stderr
    assert service.mutating() == before
    assert "image path(s) lie outside" in imported.stderr  # images must stay inside the root

    text = (workspace.root / "adopted/facesync.yaml").read_text()
    assert "persistedFaceId" not in text
    assert "../images/alice/1.png" in text
    # A file name with glob characters is written in the long form, where it is no glob.
    assert "image: '../images/bob/odd[1].png'" in text
    # The models most collections and faces use become the defaults; the others name theirs.
    assert "defaults:\n  recognitionModel: recognition_04\n  detectionModel: detection_03\n" in text
    assert "detectionModel: detection_01" in text
    assert faces_by_owner(workspace.root / "adopted/facesync.yaml") == faces_by_owner(
        workspace.root / "source.yaml"
    )
    plan = workspace.plan("adopted/facesync.yaml", "--root", str(workspace.root))
    assert plan.exit_code == 0, plan.stdout + plan.stderr

    # Split files share the defaults of their own file, defaults.yaml.
    split = workspace.import_("--all", "--images", "images", "--split", "--out", "split")
    assert split.exit_code == 0, split.stderr
    assert "detectionModel: detection_03" in (workspace.root / "split/defaults.yaml").read_text()
    assert faces_by_owner(workspace.root / "split") == faces_by_owner(workspace.root / "source.yaml")
    assert workspace.plan("split", "--root", str(workspace.root)).exit_code == 0
    assert service.mutating() == before


def test_faces_without_a_fingerprint_stay_persisted_face_ids_even_when_the_image_is_local(
    workspace: Workspace, service: Service
):
    write_applied(workspace)
    alice = next(
        p["personId"]
        for p in service.api.get("/persongroups/staff/persons").json()
        if p["name"] == "Alice Smith"
    )
    # An SDK script adds Alice's first image again: no fingerprint, but the same bytes.
    added = service.api.post(
        f"/persongroups/staff/persons/{alice}/persistedfaces",
        content=(workspace.root / "images/alice/1.png").read_bytes(),
        params={"userData": "added by a script"},
        headers={"Content-Type": "application/octet-stream"},
    ).json()["persistedFaceId"]
    service.api.post("/persongroups/staff/train").raise_for_status()

    imported = workspace.import_("staff", "--images", "images", "--out", "staff.yaml")
    assert imported.exit_code == 0, imported.output + imported.stderr
    alice_faces = faces_by_owner(workspace.root / "staff.yaml")[("staff", "Alice Smith")]
    assert (None, "detection_01", "added by a script") in alice_faces
    assert f"persistedFaceId: {added}" in (workspace.root / "staff.yaml").read_text()
    assert workspace.plan("staff.yaml").exit_code == 0


def test_a_duplicated_fingerprint_is_written_once_as_image_and_once_by_id(
    workspace: Workspace, service: Service
):
    write_applied(workspace)
    api = service.api
    vip = api.get("/facelists/vip").json()["persistedFaces"]
    # The same fingerprinted face twice in one list (e.g. a hand-made copy of facesync's add).
    api.post(
        "/facelists/vip/persistedfaces",
        content=(workspace.root / "images/vip/ambassador.png").read_bytes(),
        params={"userData": vip[0]["userData"], "detectionModel": "detection_03"},
        headers={"Content-Type": "application/octet-stream"},
    ).raise_for_status()

    imported = workspace.import_("faceList.vip", "--images", "images", "--out", "vip.yaml")
    assert imported.exit_code == 0, imported.output + imported.stderr
    text = (workspace.root / "vip.yaml").read_text()
    assert text.count("image: images/vip/ambassador.png") == 1
    assert text.count("persistedFaceId:") == 1
    assert workspace.run("validate", "-f", "vip.yaml").exit_code == 0
    assert workspace.plan("vip.yaml").exit_code == 0


def test_fingerprinted_faces_without_a_local_image_are_kept_by_id_with_their_notes(
    workspace: Workspace, service: Service
):
    write_applied(workspace)
    (workspace.root / "elsewhere").mkdir()
    imported = workspace.import_("staff", "--images", "elsewhere", "--out", "staff.yaml")
    assert imported.exit_code == 0, imported.stderr
    assert "4 fingerprinted faces matched no image under --images" in imported.stderr
    bob = faces_by_owner(workspace.root / "staff.yaml")[("staff", "Bob Jones")]
    assert (None, "detection_01", 'badge "photo"\nlobby') in bob
    assert workspace.plan("staff.yaml").exit_code == 0


DOLLAR_TEXTS = ("Team ${X}", "k=${FACESYNC_KEY} $${Y} ${Z:-d}", "${HOME} person", "note ${X}")


def test_text_with_dollar_braces_imports_and_reads_back_unchanged(
    workspace: Workspace, service: Service, monkeypatch
):
    """`${…}` outside an endpoint is text: what the service holds is written, and read back, as is."""
    monkeypatch.setenv("X", "expanded")
    monkeypatch.setenv("FACESYNC_KEY", "not-the-real-key")
    group, user_data, person, note = DOLLAR_TEXTS

    async def build(sdk: SdkScript) -> None:
        await sdk.collection("persongroups", "staff", group, user_data)
        await sdk.person("persongroups", "staff", person, user_data, [(1, note)])
        await sdk.collection("facelists", "vip", group, None)
        await sdk.face("/facelists/vip/persistedfaces", 2, note)
        await sdk.train("persongroups", "staff")

    run_sdk(service, build)
    imported = workspace.import_("--all", "--out", "facesync.yaml")
    assert imported.exit_code == 0, imported.output + imported.stderr

    desired, _ = load_config(workspace.root / "facesync.yaml")
    staff = next(c for c in desired.collections if c.id == "staff")
    assert (staff.name, staff.user_data) == (group, user_data)
    assert [(p.name, p.user_data, [f.user_data for f in p.faces]) for p in staff.persons] == [
        (person, user_data, [note])
    ]
    vip = next(c for c in desired.collections if c.id == "vip")
    assert (vip.name, [f.user_data for f in vip.faces]) == (group, [note])
    plan = workspace.plan("facesync.yaml")
    assert plan.exit_code == 0, plan.stdout + plan.stderr
    assert "No changes" in plan.stdout
