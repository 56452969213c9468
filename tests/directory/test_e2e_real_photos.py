"""End to end on real photos: the CLI against a `facesync emulator` process (the real engine).

A family in the PersonDirectory, a DynamicPersonGroup of the parents, `facesync test` identifying
the door camera's probe in the group, a parent leaving it (config edit → plan → apply → the probe
no longer identifies in the group), a hand edit on the service caught by drift (exit 2), and an
import of the directory that plans to nothing. Skipped without the `recognition` extra.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.emulator.recognition.engines import real_available

PHOTOS = Path(__file__).parents[1] / "data" / "faces"
PREVIEW = "v1.2-preview.1"

pytestmark = pytest.mark.skipif(
    not real_available(), reason="the real engine needs: pip install 'facesync[recognition]'"
)

FAMILY = """
version: 1
service: {apiVersion: v1.2-preview.1}
defaults: {detectionModel: detection_03}
personDirectory:
  recognitionModels: [recognition_04]
  persons:
    Dad: {faces: [photos/Family1-Dad1.jpg, photos/Family1-Dad2.jpg]}
    Mom: {faces: [photos/Family1-Mom1.jpg, photos/Family1-Mom2.jpg]}
    Son: {faces: [photos/Family1-Son1.jpg]}
    Daughter: {faces: [photos/Family1-Daughter1.jpg, photos/Family1-Daughter2.jpg]}
dynamicPersonGroups:
  parents:
    name: Parents
    members: [Dad, Mom]
"""

DOOR = """
tests:
  - name: dad at the door is a parent
    probe: probes/Family1-Dad3.jpg
    identify: {in: dynamicPersonGroup.parents, expect: Dad}
  - name: the son is no parent
    probe: probes/Family1-Son2.jpg
    identify: {in: dynamicPersonGroup.parents, expect: nobody}
  - name: the house knows the son
    probe: probes/Family1-Son2.jpg
    identify: {in: personDirectory, expect: Son}
  - name: dad verifies as dad
    probe: probes/Family1-Dad3.jpg
    verify: {person: 'personDirectory/person["Dad"]', expect: same}
"""


@pytest.fixture
def emulator(tmp_path: Path, free_tcp_port: int) -> Iterator[str]:
    """`facesync emulator` in its own process, on a local port, with the real engine."""
    url = f"http://127.0.0.1:{free_tcp_port}"
    log = (tmp_path / "emulator.log").open("w")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "facesync",
            "emulator",
            "--port",
            str(free_tcp_port),
            "--data",
            str(tmp_path / "emulator.sqlite"),
            "--recognition",
            "real",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    try:
        deadline = time.monotonic() + 120  # real seconds: a process start, not emulated time
        while True:
            assert proc.poll() is None, (tmp_path / "emulator.log").read_text()
            try:
                if httpx.get(f"{url}/_emulator/stats", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the emulator did not start"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


class Home:
    def __init__(self, root: Path, url: str) -> None:
        self.root = root
        self.url = url
        for folder, names in (
            ("photos", ["Dad1", "Dad2", "Mom1", "Mom2", "Son1", "Daughter1", "Daughter2"]),
            ("probes", ["Dad3", "Son2"]),
        ):
            (root / folder).mkdir(exist_ok=True)
            for name in names:
                shutil.copy(PHOTOS / f"Family1-{name}.jpg", root / folder)

    def config(self, text: str) -> None:
        (self.root / "facesync.yaml").write_text(textwrap.dedent(text).lstrip())

    def run(self, *args: str, config: Path | None = None) -> Result:
        env = {"FACESYNC_ENDPOINT": self.url, "NO_COLOR": "1"}
        path = str(config or self.root / "facesync.yaml")
        # The emulator needs no pacing: S0's 10 calls/s would only make the test slow.
        paced = ["--rate-limit", "0"] if args[0] != "validate" else []
        return CliRunner().invoke(main, [*args, *paced, "-f", path], env=env, catch_exceptions=False)

    def outcomes(self) -> dict[str, tuple[str, str]]:
        result = self.run("test", "--format", "json")
        assert result.exit_code in (0, 1), result.output + result.stderr
        return {t["name"]: (t["outcome"], t["actual"]) for t in json.loads(result.stdout)["tests"]}


def test_a_family_directory_on_real_photos_through_the_cli(tmp_path: Path, emulator: str):
    home = Home(tmp_path, emulator)
    home.config(FAMILY)
    (tmp_path / "door.test.yaml").write_text(DOOR.lstrip())

    assert home.run("validate").exit_code == 0
    planned = home.run("plan", "--detailed-exitcode")
    assert planned.exit_code == 2, planned.output + planned.stderr
    applied = home.run("apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert home.run("plan", "--detailed-exitcode").exit_code == 0

    # The door camera: Dad identifies in the parents' group, the son does not, the directory
    # knows the son, and Dad's probe verifies against Dad without any group.
    tested = home.run("test")
    assert tested.exit_code == 0, tested.output + tested.stderr

    # Dad leaves the group: one member change, applied; his probe no longer identifies there.
    home.config(FAMILY.replace("members: [Dad, Mom]", "members: [Mom]"))
    leaving = home.run("plan", "--format", "json")
    assert [(c["action"], c["address"]) for c in json.loads(leaving.stdout)["changes"]] == [
        ("delete", 'dynamicPersonGroup.parents/member["Dad"]')
    ]
    assert home.run("apply", "--auto-approve").exit_code == 0
    (tmp_path / "door.test.yaml").write_text(
        DOOR.replace("name: dad at the door is a parent", "name: dad at the door is no parent any more")
        .replace("expect: Dad}", "expect: nobody}")
        .lstrip()
    )
    after = home.outcomes()
    assert after["dad at the door is no parent any more"] == ("passed", "nobody"), after
    assert after["the house knows the son"][0] == "passed", after

    # Someone adds Dad back by hand: drift says so (exit 2), and names the member.
    api = httpx.Client(base_url=f"{emulator}/face/{PREVIEW}", timeout=30)
    dad = next(p["personId"] for p in api.get("/persons").json() if p["name"] == "Dad")
    operation = api.patch("/dynamicpersongroups/parents", json={"addPersonIds": [dad]})
    assert operation.status_code == 202, operation.text
    status_url = operation.headers["operation-location"]
    deadline = time.monotonic() + 30  # the emulator's operation runs in real time here
    while api.get(status_url).json()["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    drift = home.run("drift", "--format", "json")
    assert drift.exit_code == 2, drift.output + drift.stderr
    assert [(c["action"], c["address"]) for c in json.loads(drift.stdout)["changes"]] == [
        ("delete", 'dynamicPersonGroup.parents/member["Dad"]')
    ]

    # Adopting the resource as it now is: the import plans to nothing.
    imported = tmp_path / "imported.yaml"
    result = CliRunner().invoke(
        main,
        [
            "import",
            "--all",
            "--api-version",
            PREVIEW,
            "--images",
            str(tmp_path / "photos"),
            "--out",
            str(imported),
        ],
        env={"FACESYNC_ENDPOINT": emulator},
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert "members:\n      - Dad\n      - Mom\n" in imported.read_text()
    replanned = home.run("plan", "--detailed-exitcode", config=imported)
    assert replanned.exit_code == 0, replanned.output + replanned.stderr
