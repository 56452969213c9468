"""Import round trips on the emulator: what an SDK script or facesync apply built → import → a
plan with no changes, and no write to the service along the way."""

from __future__ import annotations

import asyncio

from import_helpers import SdkScript, Service, Workspace, run_sdk

from facesync.desired import load_desired_state

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

    desired, _ = load_desired_state(workspace.root / "facesync.yaml")
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
