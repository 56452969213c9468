"""Issue 9.3–9.5: copied fingerprints, hand edits hidden by the face cache, renames and training."""

from __future__ import annotations

import asyncio
import random
from typing import Any

from facesync.client import Endpoint
from facesync.config import load as load_desired_state
from facesync.diff import diff
from facesync.fingerprint import decode_face_user_data, encode_face_user_data
from facesync.livestate import LiveFace, LivePerson, LiveState
from facesync.plan import Gate, SafetyPolicy, safety_refusals
from facesync.sync import Sync, SyncOptions
from tests.sync.states import fp, group, live_face, live_group, state, want_face
from tests.sync.sync_helpers import Service, Workspace, write_staff

APPLY = ("apply", "--auto-approve", "--rate-limit", "0")


def applied(ws: Workspace) -> None:
    write_staff(ws)
    result = ws.run(*APPLY)
    assert result.exit_code == 0, result.output + result.stderr


def person(service: Service, name: str) -> dict[str, Any]:
    return next(p for p in service.api.get("/persongroups/staff/persons").json() if p["name"] == name)


def face_path(pid: str, fid: str) -> str:
    return f"/persongroups/staff/persons/{pid}/persistedfaces/{fid}"


# -- 3: a copied fingerprint never wins over the genuine face ----------------------------------


def test_a_copied_fingerprint_does_not_replace_the_genuine_face(workspace: Workspace, service: Service):
    applied(workspace)
    alice = person(service, "Alice Smith")
    # The impostor has the lower id, so "first by id" would keep it.
    impostor, genuine = sorted(alice["persistedFaceIds"])
    copied = service.api.get(face_path(alice["personId"], genuine)).json()["userData"]
    service.api.patch(face_path(alice["personId"], impostor), json={"userData": copied}).raise_for_status()

    plan = workspace.plan_json()
    deletes = [c for c in plan["changes"] if c["action"] == "delete"]
    assert [d["before"]["persistedFaceId"] for d in deletes] == [impostor]
    assert [c["action"] for c in plan["changes"]] == ["create", "delete", "train"]
    assert any(
        w["code"] == "copied_fingerprint" and f"keeping {genuine}" in w["message"] and w["address"]
        for w in plan["warnings"]
    )

    assert workspace.run(*APPLY).exit_code == 0
    faces = person(service, "Alice Smith")["persistedFaceIds"]
    assert genuine in faces and impostor not in faces
    assert workspace.run("drift", "--refresh", "full").exit_code == 0


def test_without_the_cache_the_face_added_first_is_kept():
    """Listing order (the order the service added a person's faces), not the random ids."""
    want = state(group("staff", {"Alice": [want_face("a")]}))
    first, copy = live_face("a", "f-zzz"), live_face("a", "f-aaa")
    live = LiveState(collections=(live_group("staff", [LivePerson("p1", "Alice", None, (first, copy))]),))
    deleted = [c.persisted_face_id for c in diff(want, live).changes if c.action.value == "delete"]
    assert deleted == ["f-aaa"]


def test_the_face_the_cache_knew_is_kept_over_the_one_added_first():
    want = state(group("staff", {"Alice": [want_face("a")]}))
    impostor = live_face("a", "f-1")
    genuine = LiveFace("f-2", impostor.user_data, fp("a"), None, known=True)
    alice = LivePerson("p1", "Alice", None, (impostor, genuine))
    live = LiveState(collections=(live_group("staff", [alice]),))
    deleted = [c.persisted_face_id for c in diff(want, live).changes if c.action.value == "delete"]
    assert deleted == ["f-1"]


# -- 4: drift checks a sample of the cached faces --------------------------------------------


def test_drift_sees_a_hand_edited_face_userdata_despite_the_cache(workspace: Workspace, service: Service):
    applied(workspace)
    bob = person(service, "Bob Jones")
    fid = bob["persistedFaceIds"][0]
    raw = service.api.get(face_path(bob["personId"], fid)).json()["userData"]
    fingerprint, _ = decode_face_user_data(raw)
    assert fingerprint is not None
    edited = encode_face_user_data(fingerprint, "edited in the portal")
    service.api.patch(face_path(bob["personId"], fid), json={"userData": edited}).raise_for_status()

    trusting = workspace.run("drift", "--verify-sample", "0")
    assert trusting.exit_code == 0  # the cache alone cannot see it: the reason for the sample

    drift = workspace.run("drift")
    assert drift.exit_code == 2, drift.output
    assert "note changed" in drift.stdout
    assert "4 faces from the local cache, 4 of them checked" in drift.stderr
    assert "differed from the service" in drift.stdout
    assert workspace.run(*APPLY).exit_code == 0
    assert workspace.run("drift").exit_code == 0


def test_the_sample_is_drawn_from_an_injected_rng(workspace: Workspace, service: Service):
    """With one face in the sample, whether the stale cache entry is checked depends only on the
    seed; when it is, every cached face is read again and the plan is right."""
    applied(workspace)
    bob = person(service, "Bob Jones")
    fid = bob["persistedFaceIds"][0]
    desired, _ = load_desired_state(workspace.root / "facesync.yaml")
    endpoint = Endpoint(workspace.endpoint)

    async def plan_with(seed: int) -> tuple[int, int]:
        options = SyncOptions(rate_limit=None, verify_sample=1)
        async with Sync(desired, endpoint, options=options, rng=random.Random(seed)) as sync:
            await sync.plan()  # an in-memory cache: this first plan reads every face
            stale = encode_face_user_data(fp("stale"), "stale")
            sync.state.cache.put(fid, stale)
            plan = await sync.plan()
            return sync.verified, len(plan.changes)

    results = {seed: asyncio.run(plan_with(seed)) for seed in range(8)}
    assert results == {seed: asyncio.run(plan_with(seed)) for seed in range(8)}  # deterministic per seed
    # Missed: only the sampled face was checked; the stale entry plans create, delete and train.
    # Caught: all 4 cached faces were read again and the plan is empty.
    assert set(results.values()) == {(1, 3), (4, 0)}


# -- 5: a rename does not leave training pending ----------------------------------------------


def test_a_collection_rename_leaves_nothing_pending(workspace: Workspace, service: Service):
    applied(workspace)
    config = workspace.root / "facesync.yaml"
    config.write_text(config.read_text().replace("name: Staff", "name: Staff (renamed)"))
    plan = workspace.plan_json()
    assert [(c["action"], c["address"]) for c in plan["changes"]] == [("update", "personGroup.staff")]
    result = workspace.run(*APPLY)
    assert result.exit_code == 0, result.output + result.stderr
    drift = workspace.run("drift")
    assert drift.exit_code == 0, drift.output


# -- 1: repairs are not held by the delete threshold -------------------------------------------


def test_deleting_twins_and_duplicates_is_not_held_by_the_delete_threshold():
    names = [f"P{i}" for i in range(8)]
    want = state(group("staff", {n: [want_face(n)] for n in names}))
    persons = [LivePerson(f"p{i}", n, None, (live_face(n, f"f{i}"),)) for i, n in enumerate(names)]
    twins = [LivePerson(f"t{i}", n, None, (live_face(n, f"g{i}"),)) for i, n in enumerate(names[:4])]
    dup = LivePerson("p0", "P0", None, (live_face("P0", "f0"), live_face("P0", "h0"), live_face("P0", "h1")))
    live = LiveState(collections=(live_group("staff", [dup, *persons[1:], *twins]),))
    plan = diff(want, live)
    assert sum(1 for c in plan.changes if c.action.value == "delete") == 6  # 4 twins, 2 duplicates
    assert [r for r in safety_refusals(plan, SafetyPolicy()) if r.gate is Gate.DELETE_SHARE] == []
