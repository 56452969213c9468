""".facesync/ is a cache: when it cannot be used (a file in the way, a read-only folder, a container
running as another user), every command warns once, naming the place and the cause, and does its
job without it — with the exit code it would have had (issue 20.9)."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

import pytest

from facesync.localstate import diagnose
from tests.sync.sync_helpers import Workspace, write_staff

UNUSABLE = "local cache unusable"
RUNS_AS_ROOT = hasattr(os, "geteuid") and os.geteuid() == 0

TESTS = """
tests:
  - name: one face on the badge photo
    probe: images/bob/badge.jpg
    detect: {faces: 1}
"""


def warnings_in(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if UNUSABLE in line]


def a_file_named_facesync(ws: Workspace) -> str:
    (ws.root / ".facesync").write_text("not a folder\n")
    return ".facesync is a file, not a folder"


def a_file_named_cache(ws: Workspace) -> str:
    (ws.root / ".facesync").mkdir()
    (ws.root / ".facesync" / "cache").write_text("")
    return ".facesync/cache is a file, not a folder"


def a_read_only_folder(ws: Workspace) -> str:
    folder = ws.root / ".facesync"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)  # 0500
    return ".facesync is not writable"


IN_THE_WAY = [
    pytest.param(a_file_named_facesync, id="file-named-.facesync"),
    pytest.param(a_file_named_cache, id="file-named-.facesync-cache"),
    pytest.param(
        a_read_only_folder,
        id="read-only-.facesync",
        marks=pytest.mark.skipif(
            RUNS_AS_ROOT, reason="root writes into a 0500 folder: permissions cannot stop it here"
        ),
    ),
]


@pytest.fixture(autouse=True)
def _restore_permissions(tmp_path: Path):
    yield
    folder = tmp_path / ".facesync"
    if folder.is_dir():
        folder.chmod(0o700)  # so that pytest can remove it


@pytest.mark.parametrize("obstacle", IN_THE_WAY)
def test_plan_apply_plan_drift_run_without_the_cache_and_keep_their_exit_codes(
    workspace: Workspace, obstacle
):
    write_staff(workspace)
    cause = obstacle(workspace)

    plan = workspace.run("plan", "--detailed-exitcode", "--rate-limit", "0")
    assert plan.exit_code == 2, plan.output + plan.stderr
    (warning,) = warnings_in(plan.stderr)
    assert cause in warning and "going on without it" in warning

    apply = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert apply.exit_code == 0, apply.output + apply.stderr
    assert "Apply complete" in apply.stdout
    assert len(warnings_in(apply.stderr)) == 1, apply.stderr  # the image and face caches: one folder
    # The journal is what an interruption would need: each collection it could not record is named.
    journal = [line for line in apply.stderr.splitlines() if "training journal unusable" in line]
    blocked = obstacle is not a_file_named_cache  # that one leaves .facesync/pending-training.json be
    assert {line.split(" before ", 1)[1].split(" is trained", 1)[0] for line in journal} == (
        {"personGroup.staff", "largePersonGroup.visitors", "largeFaceList.lookalikes"} if blocked else set()
    ), apply.stderr
    assert all(cause in line and "the next plan will not know to train it" in line for line in journal)

    again = workspace.run("plan", "--detailed-exitcode", "--rate-limit", "0")
    assert again.exit_code == 0, again.output + again.stderr
    assert len(warnings_in(again.stderr)) == 1  # warned again: each run warns for itself

    drift = workspace.run("drift", "--rate-limit", "0")
    assert drift.exit_code == 0, drift.output + drift.stderr
    assert len(warnings_in(drift.stderr)) == 1


@pytest.mark.parametrize("obstacle", IN_THE_WAY)
def test_validate_test_audit_and_import_run_without_the_cache(workspace: Workspace, obstacle):
    write_staff(workspace)
    config = workspace.root / "facesync.yaml"
    config.write_text(config.read_text() + TESTS)
    cause = obstacle(workspace)

    validate = workspace.run("validate")
    assert validate.exit_code == 0, validate.output + validate.stderr
    (warning,) = warnings_in(validate.stderr)
    assert cause in warning

    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    test = workspace.run("test", "--rate-limit", "0")
    assert test.exit_code == 0, test.output + test.stderr
    assert len(warnings_in(test.stderr)) == 1

    audit = workspace.run("audit", "--yes", "--rate-limit", "0")
    assert audit.exit_code in (0, 1), audit.output + audit.stderr  # 1: a finding, not the cache
    assert "Error:" not in audit.stderr
    assert len(warnings_in(audit.stderr)) == 1

    imported = workspace.run("import", "--all", "--out", str(workspace.root / "imported.yaml"))
    assert imported.exit_code == 0, imported.output + imported.stderr
    assert (workspace.root / "imported.yaml").is_file()


def test_an_apply_that_cannot_write_its_journal_still_trains_what_it_wrote(workspace: Workspace):
    write_staff(workspace)
    a_file_named_facesync(workspace)
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    after = workspace.plan_json()
    assert after["changes"] == [], after["changes"]  # trained: no `train` left over


def test_a_healthy_folder_gives_no_warning(workspace: Workspace):
    write_staff(workspace)
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0
    assert warnings_in(result.stderr) == [] and "journal" not in result.stderr
    assert (workspace.root / ".facesync" / "cache" / "faces.json").is_file()


def test_a_refused_write_names_the_folder_and_who_owns_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # What a container running as another user meets: EACCES on a folder that exists. The OS cannot
    # be made to refuse root here, so the error is given; the diagnosis reads the real folder.
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".facesync").mkdir()
    refused = PermissionError(errno.EACCES, "Permission denied")
    where, cause = diagnose(tmp_path / ".facesync" / "cache" / "faces.json", refused)
    assert where == tmp_path / ".facesync"
    assert cause.startswith(".facesync is not writable")
    if hasattr(os, "geteuid") and os.geteuid() != os.stat(tmp_path / ".facesync").st_uid:
        assert "owned by uid" in cause


def test_a_read_only_file_system_is_named_as_such(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    _, cause = diagnose(tmp_path / ".facesync" / "pending-training.json", OSError(errno.EROFS, "Read-only"))
    assert cause == f"{tmp_path.resolve()} is on a read-only file system"  # not "."


def test_a_container_user_who_cannot_write_the_mount_is_told_whose_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    # The Dockerfile's case: /repo (the config's folder) belongs to the host user, facesync runs as
    # the image's uid 10001 and cannot create .facesync/ there.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(os, "geteuid", lambda: 10001)
    owner = os.stat(tmp_path).st_uid
    where, cause = diagnose(
        tmp_path / ".facesync" / "cache" / "images.json", PermissionError(errno.EACCES, "no")
    )
    assert where == tmp_path
    assert cause == f"{tmp_path.resolve()} is not writable (owned by uid {owner}, facesync runs as uid 10001)"
    dockerfile = " ".join(
        line.lstrip("# ") for line in (Path(__file__).parents[2] / "Dockerfile").read_text().splitlines()
    )
    assert (
        "local cache unusable: /repo is not writable (owned by uid 1000, facesync runs as uid 10001)"
        in dockerfile
    )
