"""import's rules at the edges: twins, quoting, overwriting, --split, selection, untrained state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facesync.config import load as load_config
from facesync.importing.emit import scalar
from tests.importing.import_helpers import SdkScript, Service, Workspace, run_sdk


async def small_group(sdk: SdkScript, *names: str, train: bool = True) -> list[str]:
    await sdk.collection("persongroups", "staff", "Staff", None)
    ids = [await sdk.person("persongroups", "staff", name, None, [(i, None)]) for i, name in enumerate(names)]
    if train:
        await sdk.train("persongroups", "staff")
    return ids


def test_twins_stop_the_import_with_every_twin_listed(workspace: Workspace, service: Service):
    ids = run_sdk(service, lambda sdk: small_group(sdk, "Bob", "Alice", "Bob"))
    result = workspace.import_("staff", "--out", "staff.yaml")
    assert result.exit_code == 1
    assert "personGroup.staff: 2 persons are named 'Bob'" in result.stderr
    assert ids[0] in result.stderr and ids[2] in result.stderr
    assert "--rename-twins" in result.stderr
    assert not (workspace.root / "staff.yaml").exists()


def test_rename_twins_writes_each_twin_under_its_own_name_and_warns(workspace: Workspace, service: Service):
    ids = run_sdk(service, lambda sdk: small_group(sdk, "Bob", "Bob"))
    result = workspace.import_("staff", "--rename-twins", "--out", "staff.yaml")
    assert result.exit_code == 0, result.output + result.stderr
    second = sorted(ids)[1]
    desired, _ = load_config(workspace.root / "staff.yaml")
    assert sorted(p.name for p in desired.collections[0].persons) == ["Bob", f"Bob ({second[:8]})"]
    assert f"person {second} is a twin of 'Bob'" in result.stderr


TRICKY = [
    "yes", "No", "ON", "y", "null", "Null", "~", "1e3", "0o17", "0x1F", "1_000", "12:30", ".inf", "-.5",
    "2024-01-01", " leading", "trailing ", "a: b", "a #b", "#a", "- a", "? a", "[a]", "{a}", "&a", "*a",
    "!a", "|a", ">a", "%a", "@a", "`a", "'a'", '"a"', "a\nb", "a\r\nb", "tab\there", "x\x85y",
    "line\u2028sep", "\ufeffbom", "é😀", "back\\slash", "a  b", "",
]  # fmt: skip


@pytest.mark.parametrize("text", TRICKY)
def test_scalars_read_back_as_the_same_string_through_facesync_loader(tmp_path: Path, text: str):
    config = tmp_path / "facesync.yaml"
    config.write_text(
        f"version: 1\npersonGroups:\n  g:\n    name: {scalar(text or 'x')}\n"
        f"    persons:\n      {scalar(text or 'x')}:\n        userData: {scalar(text)}\n"
    )
    desired, _ = load_config(config)
    (group,) = desired.collections
    assert group.name == (text or "x")
    assert group.persons[0].name == (text or "x")
    assert group.persons[0].user_data == text


def test_plain_words_stay_unquoted_for_readability():
    assert [scalar(s) for s in ("Alice Smith", "V-0001", "images/a b.png", "recognition_04")] == [
        "Alice Smith",
        "V-0001",
        "images/a b.png",
        "recognition_04",
    ]


def test_an_existing_file_is_refused_before_any_request_and_kept_unless_force(
    workspace: Workspace, service: Service
):
    run_sdk(service, lambda sdk: small_group(sdk, "Alice"))
    target = workspace.root / "facesync.yaml"
    target.write_text("keep me\n")
    before = service.stats()["total"]
    refused = workspace.import_("staff", "--out", "facesync.yaml")
    assert refused.exit_code == 3
    assert "exists; add --force" in refused.stderr
    assert target.read_text() == "keep me\n"
    assert service.stats()["total"] == before

    forced = workspace.import_("staff", "--out", "facesync.yaml", "--force")
    assert forced.exit_code == 0, forced.stderr
    assert "Alice" in target.read_text()


def test_split_writes_one_mergeable_file_per_collection_and_refuses_to_overwrite_one(
    workspace: Workspace, service: Service
):
    async def build(sdk: SdkScript) -> None:
        await small_group(sdk, "Alice")
        await sdk.collection("facelists", "vip", "VIP", None)
        await sdk.face("/facelists/vip/persistedfaces", 9, "guest")
        await sdk.collection("largepersongroups", "staff", "Staff too", None)

    run_sdk(service, build)
    result = workspace.import_("--all", "--split", "--out", "config")
    assert result.exit_code == 0, result.stderr
    files = sorted(p.name for p in (workspace.root / "config").iterdir())
    assert files == [
        "defaults.yaml",
        "faceList.vip.yaml",
        "largePersonGroup.staff.yaml",
        "personGroup.staff.yaml",
    ]
    assert workspace.run("validate", "-f", "config").exit_code == 0
    assert workspace.plan("config").exit_code == 0

    (workspace.root / "config/faceList.vip.yaml").write_text("edited\n")
    again = workspace.import_("--all", "--split", "--out", "config")
    assert again.exit_code == 3
    assert "faceList.vip.yaml" in again.stderr
    assert (workspace.root / "config/faceList.vip.yaml").read_text() == "edited\n"


def test_a_never_trained_collection_is_said_to_plan_one_train(workspace: Workspace, service: Service):
    run_sdk(service, lambda sdk: small_group(sdk, "Alice", train=False))
    result = workspace.import_("staff", "--out", "staff.yaml")
    assert result.exit_code == 0
    assert "PersonGroup staff was never trained" in result.stderr
    assert "# PersonGroup staff was never trained" in (workspace.root / "staff.yaml").read_text()
    plan = workspace.run("plan", "-f", "staff.yaml", "--rate-limit", "0", "--format", "json")
    changes = json.loads(plan.stdout)["changes"]
    assert [(c["action"], c["address"]) for c in changes] == [("train", "personGroup.staff")]


def test_collections_are_chosen_by_id_or_address_and_unknown_ones_are_errors(
    workspace: Workspace, service: Service
):
    async def build(sdk: SdkScript) -> None:
        await small_group(sdk, "Alice")
        await sdk.collection("largefacelists", "staff", "Staff list", None)

    run_sdk(service, build)
    both = workspace.import_("staff")
    assert both.exit_code == 0
    assert "personGroups:" in both.stdout and "largeFaceLists:" in both.stdout
    one = workspace.import_("largeFaceList.staff")
    assert "personGroups:" not in one.stdout and "largeFaceLists:" in one.stdout
    missing = workspace.import_("staff", "nope")
    assert missing.exit_code == 1
    assert "not on the service: nope" in missing.stderr
    nothing = workspace.import_()
    assert nothing.exit_code == 1 and "--all" in nothing.stderr


def test_the_key_never_appears_in_the_output(workspace: Workspace, service: Service):
    run_sdk(service, lambda sdk: small_group(sdk, "Alice"))
    result = workspace.run("import", "--all", "--rate-limit", "0", env={"FACESYNC_KEY": "s3cr3t-k3y"})
    assert result.exit_code == 0
    assert "s3cr3t-k3y" not in result.stdout + result.stderr


def test_import_is_read_only_even_when_it_fails(workspace: Workspace, service: Service):
    run_sdk(service, lambda sdk: small_group(sdk, "Bob", "Bob"))
    before = service.stats()
    workspace.import_("--all")
    after = service.stats()
    assert after["mutating"] == before["mutating"]
    assert after["total"] > before["total"]
