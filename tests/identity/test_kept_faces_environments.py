"""A kept face exists on the resource it was imported from only: other environments cannot copy it.
Each says so as its own error, and cross-environment drift lists the face."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.environments.helpers import Region, regions
from tests.sync.sync_helpers import Workspace

CONFIG = """
version: 1
environments:
  prod: {endpoint: "${PROD_FACE_ENDPOINT}", keyEnv: PROD_FACE_KEY, rateLimit: 0}
  dr: {endpoint: "${DR_FACE_ENDPOINT}", keyEnv: DR_FACE_KEY, rateLimit: 0}
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  fam:
    name: Family
    persons:
      Dad: {faces: FACES}
"""


@pytest.fixture
def two() -> Iterator[dict[str, Region]]:
    with regions(("prod", {"key": "prod-key"}), ("dr", {"key": "dr-key"})) as found:
        yield found


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, two: dict[str, Region]) -> Workspace:
    monkeypatch.chdir(tmp_path)
    for name, region in two.items():
        monkeypatch.setenv(f"{name.upper()}_FACE_ENDPOINT", region.url)
        monkeypatch.setenv(f"{name.upper()}_FACE_KEY", region.key or "")
    return Workspace(tmp_path, "http://127.0.0.1:9")


def test_a_kept_face_only_prod_holds_is_dr_s_error_and_a_difference(ws: Workspace, two: dict[str, Region]):
    ws.image("images/dad.png", 1)
    ws.config(CONFIG.replace("FACES", "[images/dad.png]"))
    assert ws.run("apply", "--all-envs", "--auto-approve").exit_code == 0
    # A face added in prod by hand, then kept by the configuration (as import writes it).
    prod = two["prod"].api
    (dad,) = prod.get("/persongroups/fam/persons").json()
    ws.image("images/passport.png", 2)
    kept = prod.post(
        f"/persongroups/fam/persons/{dad['personId']}/persistedfaces",
        content=(ws.root / "images/passport.png").read_bytes(),
        headers={"Content-Type": "application/octet-stream"},
    ).json()["persistedFaceId"]
    ws.config(CONFIG.replace("FACES", f"[images/dad.png, {{persistedFaceId: {kept}}}]"))
    address = f'personGroup.fam/person["Dad"]/face[{kept}]'

    drift = ws.run("drift", "--all-envs", "--format", "json")
    assert drift.exit_code == 2
    doc = json.loads(drift.stdout)
    states = {"prod": "matches the configuration", "dr": "is missing"}
    assert {"address": address, "environments": states} in doc["differences"]

    plan = ws.run("plan", "--all-envs")
    assert plan.exit_code == 1
    assert "Error: 1 kept face(s) are not on the service, and a face cannot be re-created" in plan.stdout
    assert f"persistedFaceId: {address} (facesync.yaml:10)" in plan.stdout
    assert "dr: error" in plan.stdout and "prod: changes" not in plan.stdout

    before = two["dr"].snapshot()
    applied = ws.run("apply", "--all-envs", "--auto-approve")
    assert applied.exit_code == 1
    assert "[dr] Error: 1 kept face(s) are not on the service" in applied.stdout
    assert "[prod] No changes." in applied.stdout
    # DR was locked and planned (once), and nothing it holds was written; the lock is gone again.
    assert two["dr"].snapshot() == before
