"""The README's quickstart, as a new user runs it: examples/quickstart on the local: emulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesync.cli import main

QUICKSTART = Path(__file__).parents[1] / "examples" / "quickstart"


def test_quickstart_plans_applies_then_has_nothing_left_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    work = tmp_path / "quickstart"
    shutil.copytree(QUICKSTART, work, ignore=shutil.ignore_patterns(".facesync"))
    monkeypatch.chdir(work)
    runner = CliRunner()
    env = {"FACESYNC_ENDPOINT": "", "FACESYNC_QUICKSTART_ENDPOINT": "", "NO_COLOR": "1"}
    env["FACESYNC_RECOGNITION"] = "deterministic"  # the probes are annotated test images

    def facesync(*args: str) -> tuple[int, str]:
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert "Traceback" not in result.stderr
        return result.exit_code, result.stdout

    code, out = facesync("plan")
    assert code == 0 and "Plan: 11 to create, 0 to update, 0 to replace, 0 to delete, 2 to train." in out
    code, out = facesync("apply", "--auto-approve")
    assert code == 0 and "Apply complete: 13 done, 0 failed, 0 skipped." in out, out
    assert facesync("plan", "--detailed-exitcode") == (
        0,
        "No changes. The live service matches the configuration.\n",
    )
    assert facesync("drift")[0] == 0
    code, out = facesync("test")
    assert code == 0, out
    assert "6 tests: 6 passed, 0 failed, 0 errors;" in out
    assert (work / ".facesync" / "emulator.sqlite").exists()
