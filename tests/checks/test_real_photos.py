"""End to end on real photos with the real recognition engine (dlib): a family's persons, tests
that pass, one that fails because the probe is someone else, and an audit that finds a photo filed
under the wrong person and a person enrolled twice. Skipped when dlib is not importable."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.recognition.engines import real_available
from facesync.emulator.testing import serve
from tests.checks.checks_helpers import Checks

PHOTOS = Path(__file__).parents[1] / "data" / "faces"

pytestmark = pytest.mark.skipif(
    not real_available(), reason="the real engine needs: pip install 'facesync[recognition]'"
)

FAMILY = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  family:
    name: Family
    persons:
      Dad: {faces: [photos/Family1-Dad1.jpg, photos/Family1-Dad2.jpg]}
      Mom: {faces: [photos/Family1-Mom1.jpg, photos/Family1-Son2.jpg]}
      Son: {faces: [photos/Family1-Son1.jpg]}
      Daughter: {faces: [photos/Family1-Daughter1.jpg, photos/Family1-Daughter2.jpg]}
      Papa: {faces: [photos/Family1-Dad3.jpg]}
"""

TESTS = """
tests:
  - name: mom at the door
    probe: photos/Family1-Mom2.jpg
    identify: {in: personGroup.family, expect: Mom}
  - name: daughter's new badge
    probe: photos/Family1-Daughter3.jpg
    verify: {person: 'personGroup.family/person["Daughter"]', expect: same}
  - name: a neighbour is nobody
    probe: photos/Family3-Lady1.jpg
    identify: {in: personGroup.family, expect: nobody}
  - name: the family photo
    probe: photos/identification1.jpg
    detect: {faces: 4}
  - name: someone else is not mom
    probe: photos/Family2-Lady1.jpg
    identify: {in: personGroup.family, expect: Mom}
"""


@pytest.fixture
def family(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Checks]:
    app = create_app(EmulatorSettings(train_seconds=0.05), recognition="real")
    with serve(app) as url:
        monkeypatch.chdir(tmp_path)
        shutil.copytree(PHOTOS, tmp_path / "photos")
        ws = Checks(tmp_path, url)
        ws.config(FAMILY)
        ws.tests_file(TESTS)
        yield ws
    app.state.emulator.close()


def test_family_tests_and_audit_on_real_photos(family: Checks) -> None:
    applied = family.run("apply", "--auto-approve", "--rate-limit", "0")
    assert applied.exit_code == 0, applied.output + applied.stderr

    result = family.test()
    assert result.exit_code == 1, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert [line.split("  (")[0] for line in lines if line[:4] in ("PASS", "FAIL", "ERRO")] == [
        "PASS  mom at the door",
        "PASS  daughter's new badge",
        "PASS  a neighbour is nobody",
        "PASS  the family photo",
        "FAIL  someone else is not mom",
    ]
    assert lines[-1].startswith("5 tests: 4 passed, 1 failed, 0 errors;")

    audit = family.run("audit", "--yes", "--rate-limit", "0")
    assert audit.exit_code == 1, audit.output + audit.stderr
    findings = audit.stdout.splitlines()
    misfiled = [f for f in findings if f.endswith("[misfiled]")]
    assert len(misfiled) == 1 and "photos/Family1-Son2.jpg is filed under 'Mom'" in misfiled[0]
    assert misfiled[0].split(": error: ")[1].endswith("it resembles 'Son' [misfiled]")
    twice = [f for f in findings if f.endswith("[enrolled-twice]")]
    assert len(twice) == 1 and "person 'Papa' and person 'Dad'" in twice[0]
    assert not [f for f in findings if ": error: " in f and f not in misfiled + twice]
