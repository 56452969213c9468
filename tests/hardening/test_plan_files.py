"""Issue 17.6: plan files are evidence. `show` and `apply PLANFILE` recompute every checksum from the
file's own changes and refuse a file edited after it was made (exit 3); a file that is not a plan
this facesync reads is one line (exit 1). And a reviewed plan that goes stale while apply waits
for the lock is refused, exit 3."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.document import checksum_of
from facesync.lock import LOCK_ID, LockInfo
from tests.sync.sync_helpers import Service, Workspace, write_staff


def show(path: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["show", str(path), *args], env={"NO_COLOR": "1"}, catch_exceptions=False)


def saved_plan(ws: Workspace, service: Service) -> tuple[Path, dict]:
    """A reviewed plan that deletes something: Bob was applied, then taken out of the config."""
    write_staff(ws)
    assert ws.run("apply", "--auto-approve").exit_code == 0
    bob = (
        "      Bob Jones:\n        faces:\n          - image: images/bob/badge.jpg\n"
        "            userData: badge photo\n"
    )
    text = (ws.root / "facesync.yaml").read_text()
    assert bob in text
    ws.config(text.replace(bob, ""))
    out = ws.root / "plan.json"
    assert ws.run("plan", "--out", str(out)).exit_code == 0
    doc = json.loads(out.read_text())
    assert any(c["action"] == "delete" for c in doc["changes"])
    return out, doc


def test_a_plan_file_with_its_deletes_removed_is_refused_by_show_and_apply(
    workspace: Workspace, service: Service
) -> None:
    out, doc = saved_plan(workspace, service)
    doc["changes"] = [c for c in doc["changes"] if c["action"] != "delete"]
    doc["summary"]["delete"] = 0
    out.write_text(json.dumps(doc))  # the checksum is kept: it no longer matches the changes
    shown = show(out)
    assert shown.exit_code == 3
    assert "was modified after it was made" in shown.stderr and "0 to delete" not in shown.stdout
    before = service.stats()["mutating"]
    applied = workspace.run("apply", str(out))
    assert applied.exit_code == 3
    assert "was modified after it was made" in applied.stderr
    assert service.stats()["mutating"] == before  # refused before anything was sent


def test_a_plan_file_whose_summary_was_edited_shows_the_counts_of_its_changes(
    workspace: Workspace, service: Service
) -> None:
    out, doc = saved_plan(workspace, service)
    doc["summary"] = {"create": 0, "update": 0, "replace": 0, "delete": 0, "train": 0}
    out.write_text(json.dumps(doc))  # the summary is not covered by the checksum: never trusted
    shown = show(out)
    assert shown.exit_code == 0
    assert "Plan: 0 to create, 0 to update, 0 to replace, 1 to delete, 1 to train." in shown.stdout


def test_the_checksum_covers_reason_codes_and_not_the_english_explanation(
    workspace: Workspace, service: Service
) -> None:
    _, doc = saved_plan(workspace, service)
    reworded = json.loads(json.dumps(doc))
    reworded["changes"][0]["reason"] = "reworded by a later facesync"
    assert checksum_of(reworded["changes"]) == doc["checksum"]
    recoded = json.loads(json.dumps(doc))
    recoded["changes"][0]["reason_code"] = "pruned"
    assert checksum_of(recoded["changes"]) != doc["checksum"]


def _malformed(doc: dict, case: str) -> str:
    if case == "scope is text":
        doc["scope"] = "str"
    elif case == "unknown api version":
        doc["scope"]["api_version"] = "v9.9"
    elif case == "changes not a list":
        doc["changes"] = {"action": "delete"}
    elif case == "an older format":
        doc["format_version"] = 1
        return json.dumps(doc)
    elif case == "deep nesting":
        return '{"format_version": 2, "changes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    elif case == "not json":
        return "this is not a plan"
    return json.dumps(doc)


@pytest.mark.parametrize(
    ("case", "words"),
    [
        ("scope is text", "'scope' is not an object"),
        ("unknown api version", "unknown api_version"),
        ("changes not a list", "'changes' is not a list"),
        ("an older format", "made by an older facesync"),
        ("deep nesting", "nests too deeply"),
        ("not json", "not JSON"),
    ],
)
def test_a_malformed_plan_file_is_one_line(
    workspace: Workspace, service: Service, case: str, words: str
) -> None:
    out, doc = saved_plan(workspace, service)
    out.write_text(_malformed(doc, case))
    for result in (show(out), workspace.run("apply", str(out))):
        assert result.exit_code == 1, result.output + result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("Error: ") and words in lines[0], result.stderr
        assert "Traceback" not in result.stderr


def test_a_plan_file_that_is_a_fifo_is_one_line_not_a_hang(workspace: Workspace, service: Service) -> None:
    fifo = workspace.root / "plan.json"
    os.mkfifo(fifo)
    result = show(fifo)
    assert result.exit_code == 1 and "not a regular file" in result.stderr


def test_a_reviewed_plan_that_goes_stale_while_apply_waits_for_the_lock_is_refused(
    workspace: Workspace, service: Service
) -> None:
    out, _ = saved_plan(workspace, service)
    holder = LockInfo(token="t", owner="someone", host="elsewhere", pid=1, started=0.0, expires=1e12)
    service.api.put(
        f"/facelists/{LOCK_ID}", json={"name": "facesync apply lock", "userData": holder.to_user_data()}
    ).raise_for_status()
    err = workspace.root / "apply.err"
    with err.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-m", "facesync", "apply", str(out), "--lock-poll", "0.05"],
            env={**os.environ, "FACESYNC_ENDPOINT": workspace.endpoint, "NO_COLOR": "1"},
            cwd=workspace.root,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    deadline = time.monotonic() + 120
    while "Waiting for the lock" not in err.read_text():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # While it waits, someone changes what the plan deletes; then the holder lets go.
    persons = service.api.get("/persongroups/staff/persons").json()
    bob = next(p for p in persons if p["name"] == "Bob Jones")
    service.api.patch(f"/persongroups/staff/persons/{bob['personId']}", json={"userData": "edited"})
    before = service.stats()["operations"]
    service.api.delete(f"/facelists/{LOCK_ID}").raise_for_status()
    assert proc.wait(timeout=120) == 3, err.read_text()
    assert "the plan changed since it was reviewed" in err.read_text()
    after = service.stats()["operations"]
    verbs = ("_Create", "_Delete", "_Update", "_Add", "_Train")
    writes = {op for op in after if after[op] != before.get(op, 0) and any(v in op for v in verbs)}
    assert writes <= {"FaceList_Create", "FaceList_Delete"}, writes  # only its own lock
