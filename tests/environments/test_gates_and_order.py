"""Protected environments, --skip-refused, --force-env, --sequential and per-environment overrides."""

from __future__ import annotations

import json

from tests.environments.conftest import THREE
from tests.environments.helpers import Region, env_config
from tests.sync.sync_helpers import STAFF_CONFIG, Workspace

PROTECTED = THREE.replace(
    "keyEnv: PROD_FACE_KEY, rateLimit: 0}", "keyEnv: PROD_FACE_KEY, rateLimit: 0, protect: true}"
)
WITHOUT_BOB = STAFF_CONFIG.replace(
    """      Bob Jones:
        faces:
          - image: images/bob/badge.jpg
            userData: badge photo
""",
    "",
)


def _drop_bob(ws: Workspace, environments: str) -> None:
    ws.config(WITHOUT_BOB + "environments:\n" + environments)


def _persons(region: Region) -> set[str]:
    with region.calm() as api:
        return {p["name"] for p in api.get("/persongroups/staff/persons").json()}


def test_protected_environment_refuses_destroying_plans_and_others_wait(
    ws: Workspace, fleet: dict[str, Region]
):
    env_config(ws, PROTECTED)
    assert ws.run("apply", "--all-envs", "--auto-approve").exit_code == 0
    _drop_bob(ws, PROTECTED)
    before = {n: r.snapshot() for n, r in fleet.items()}

    # Without a flag, a refused environment holds every environment back; --force is not enough,
    # and the one message says what is.
    result = ws.run("apply", "--all-envs", "--auto-approve", "--force")
    assert result.exit_code == 3, result.output + result.stderr
    assert "environment 'prod' is protected" in result.stderr
    assert "Error: the plan needs --force-env prod; nothing was applied" in result.stderr
    assert "needs --force;" not in result.stderr and "needs --force " not in result.stderr
    assert {n: r.snapshot() for n, r in fleet.items()} == before

    # --skip-refused: the others proceed, the protected one is left alone, the exit code says so.
    result = ws.run("apply", "--all-envs", "--auto-approve", "--skip-refused")
    assert result.exit_code == 3, result.output + result.stderr
    assert "[prod] Refused, not applied" in result.stdout
    assert "Bob Jones" in _persons(fleet["prod"])
    assert "Bob Jones" not in _persons(fleet["dr"]) and "Bob Jones" not in _persons(fleet["staging"])

    # --force-env NAME accepts that environment's destroying plan.
    result = ws.run("apply", "--all-envs", "--auto-approve", "--force-env", "prod")
    assert result.exit_code == 0, result.output + result.stderr
    assert "Bob Jones" not in _persons(fleet["prod"])


def test_plan_shows_the_protection_refusal_in_every_format(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, PROTECTED)
    assert ws.run("apply", "--all-envs", "--auto-approve").exit_code == 0
    _drop_bob(ws, PROTECTED)
    result = ws.run("plan", "--all-envs", "--format", "json")
    assert result.exit_code == 3
    doc = json.loads(result.stdout)
    refusals = {e["environment"]: e["refusals"] for e in doc["environments"]}
    assert refusals["dr"] == [] and refusals["staging"] == []
    assert "environment 'prod' is protected" in refusals["prod"][0]["message"]
    md = ws.run("plan", "--all-envs", "--format", "markdown").stdout
    assert "| `prod` |" in md and "| refused |" in md
    # The reviewer's flag on plan too, so that CI keeps a plan it can apply with the same flag.
    assert ws.run("plan", "--all-envs", "--force-env", "prod").exit_code == 0


def test_sequential_applies_in_order_and_stops_when_recognition_tests_fail(
    ws: Workspace, fleet: dict[str, Region]
):
    env_config(ws, THREE)
    tests = ws.root / "facesync.test.yaml"
    tests.write_text("tests:\n  - {name: one face, probe: images/alice/1.png, detect: {faces: 5}}\n")
    result = ws.run("apply", "--env", "staging", "--env", "prod", "--sequential", "--auto-approve")
    assert result.exit_code == 1, result.output + result.stderr
    assert "[staging] Apply complete" in result.stdout
    assert "[prod] Not applied: recognition tests failed on 'staging' (--sequential)" in result.stdout
    assert fleet["prod"].stats()["mutating"] == 0
    assert "detect" in fleet["staging"].stats()["operations"].__repr__().lower()

    tests.write_text("tests:\n  - {name: one face, probe: images/alice/1.png, detect: {faces: 1}}\n")
    result = ws.run("apply", "--env", "staging", "--env", "prod", "--sequential", "--auto-approve")
    assert result.exit_code == 0, result.output + result.stderr
    assert "[staging] recognition tests passed" in result.stderr
    assert fleet["prod"].snapshot() == fleet["staging"].snapshot()


def test_sequential_without_tests_says_so_and_goes_on(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    result = ws.run("apply", "--env", "staging", "--env", "prod", "--sequential", "--auto-approve")
    assert result.exit_code == 0, result.output + result.stderr
    # The events, not the closing summary (one line per environment, in --env order).
    lines = [line for line in result.stdout.splitlines() if "Apply complete" not in line]
    last_staging = max(i for i, line in enumerate(lines) if line.startswith("[staging]"))
    first_prod = min(i for i, line in enumerate(lines) if line.startswith("[prod]"))
    assert last_staging < first_prod


def test_fail_fast_stops_the_other_environments(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, THREE)
    # Alice has two faces: DR's second one is refused (a quota), at once and for good.
    fleet["dr"].knobs(fault_rate=0, limits={"faces_per_person": 1})
    result = ws.run("apply", "--all-envs", "--auto-approve", "--fail-fast", "--sequential")
    assert result.exit_code == 1
    assert "[staging] Not applied: environment 'dr' failed (--sequential)" in result.stdout
    assert fleet["staging"].stats()["mutating"] == 0


OVERRIDES = """\
  prod:    {endpoint: "${PROD_FACE_ENDPOINT}", keyEnv: PROD_FACE_KEY}
  staging: {endpoint: "${STAGING_FACE_ENDPOINT}", keyEnv: STAGING_FACE_KEY,
            targets: [staff], recognitionModel: recognition_03, parallelism: 2}
"""


def test_per_environment_subset_and_recognition_model(ws: Workspace, fleet: dict[str, Region]):
    env_config(ws, OVERRIDES)
    result = ws.run("apply", "--all-envs", "--auto-approve")
    assert result.exit_code == 0, result.output + result.stderr
    staging, prod = fleet["staging"].snapshot(), fleet["prod"].snapshot()
    assert list(staging) == ["persongroups/staff"]
    assert staging["persongroups/staff"] == prod["persongroups/staff"]
    with fleet["staging"].calm() as api:
        assert (
            api.get("/persongroups/staff", params={"returnRecognitionModel": "true"}).json()[
                "recognitionModel"
            ]
            == "recognition_03"
        )
    # The subset and the model are declared: neither is drift, nor a difference between them.
    drift = ws.run("drift", "--all-envs", "--format", "json")
    assert drift.exit_code == 0, drift.output + drift.stderr
    assert json.loads(drift.stdout)["differences"] == []
