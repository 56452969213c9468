"""`facesync audit` through the CLI against the deterministic emulator: every finding, the cost
estimate and its confirmation, levels, formats and --target."""

from __future__ import annotations

import json

from tests.checks.checks_helpers import Checks

AUDITED = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  staff:
    name: Staff
    persons:
      Alice Smith:
        faces: [images/alice/1.png, images/alice/2.png, images/alice/3.png]
      Carol: {faces: [images/carol/1.png]}
      Bob Jones: {faces: [images/bob/1.png, images/bob/2.jpg]}
      Robert Jones: {faces: [images/robert/1.png]}
      Nobody: {faces: [images/wall.png]}
      Team: {faces: [images/team.png]}
      Tiny: {faces: [images/tiny.png]}
      Dana: {faces: [images/dana/1.png, images/dana/2.png]}
faceLists:
  vip:
    name: VIP
    faces: [images/vip/blank.png]
"""


def audited(ws: Checks) -> None:
    ws.image("images/alice/1.png", 1, identity="alice")
    ws.image("images/alice/2.png", 2, identity="alice")
    ws.image("images/alice/3.png", 3, identity="carol")  # Carol's photo, filed under Alice
    ws.image("images/carol/1.png", 4, identity="carol")
    ws.image("images/bob/1.png", 5, identity="bob")
    ws.image("images/bob/2.jpg", 5, identity="bob")  # the same picture again, as JPEG
    ws.image("images/robert/1.png", 6, identity="bob")  # Bob, enrolled a second time
    ws.image("images/wall.png", 0, uniform=True)
    ws.image("images/team.png", 7, size=(300, 200), faces=[(10, 10, 100, 100), (150, 20, 90, 90)])
    ws.image("images/tiny.png", 8, faces=[(40, 40, 40, 40)], identity="tiny")
    ws.image("images/dana/1.png", 9, identity="dana")
    ws.image("images/dana/2.png", 10, identity="erin")  # two people, neither like anyone else
    ws.image("images/vip/blank.png", 0, size=(140, 140), uniform=True)
    ws.config(AUDITED)


def test_every_finding_at_file_line_with_the_minimum_transactions(ws: Checks, service) -> None:
    audited(ws)
    before = service.stats()
    result = ws.run("audit", "--yes", "--rate-limit", "0")
    assert result.exit_code == 1, result.output + result.stderr
    assert result.stderr == (
        "Audit of 13 image(s), 8 person(s): about 18 transactions (13 detect, 4 find similar, 1 group).\n"
    )
    assert result.stdout.splitlines() == [
        "facesync.yaml:8:57: error: images/alice/3.png is filed under 'Alice Smith' but does not verify "
        "as the person's other faces; it resembles 'Carol' [misfiled]",
        "facesync.yaml:10:45: warning: images/bob/2.jpg is a near-duplicate of images/bob/1.png "
        "(confidence 0.99): it adds nothing to 'Bob Jones' [near-duplicate]",
        "facesync.yaml:11:7: error: person 'Robert Jones' and person 'Bob Jones' (facesync.yaml:10) look "
        "like the same person: their faces group as one. Enrolled twice under two names? [enrolled-twice]",
        "facesync.yaml:12:24: error: images/wall.png: no face detected [no-face]",
        "facesync.yaml:13:22: error: images/team.png: 2 faces detected and no targetFace names one; "
        "give targetFace (apply would fail) [several-faces]",
        "facesync.yaml:14:22: warning: images/tiny.png: qualityForRecognition is low [low-quality]",
        "facesync.yaml:15:22: warning: images/dana/1.png does not verify as 'Dana': it matches none of the "
        "person's other 1 face(s) [unverified]",
        "facesync.yaml:15:41: warning: images/dana/2.png does not verify as 'Dana': it matches none of the "
        "person's other 1 face(s) [unverified]",
        "facesync.yaml:19:13: error: images/vip/blank.png: no face detected [no-face]",
        "Audit: 13 images of 8 persons reviewed; 5 errors, 4 warnings; 18 transactions "
        "(13 Face.Detect, 4 Face.FindSimilar, 1 Face.Group)",
    ]
    # Read-only: the collections were never touched (nor even read).
    after = service.stats()
    assert after.get("collections", None) == before.get("collections", None)


def test_levels_decide_the_exit_code(ws: Checks) -> None:
    audited(ws)
    downgrade = [
        arg
        for check in ("misfiled", "enrolled-twice", "no-face", "several-faces")
        for arg in ("--level", f"{check}=warning")
    ]
    result = ws.run("audit", "--yes", "--rate-limit", "0", *downgrade, "--level", "near-duplicate=off")
    assert result.exit_code == 0, result.stdout
    assert "near-duplicate" not in result.stdout
    assert "0 errors, 8 warnings" in result.stdout
    bad = ws.run("audit", "--yes", "--level", "typo=off")
    assert bad.exit_code == 1 and "unknown check 'typo'" in bad.stderr


def test_asks_before_spending_and_refuses_without_a_terminal(ws: Checks, service) -> None:
    audited(ws)
    before = service.stats()
    result = ws.run("audit", "--rate-limit", "10")
    assert result.exit_code == 3
    assert "about 18 transactions (13 detect, 4 find similar, 1 group), about 2 s at 10/s." in result.stderr
    assert "pass --yes" in result.stderr
    assert result.stdout == ""
    assert service.stats() == before


def test_json_github_markdown_and_target(ws: Checks) -> None:
    audited(ws)
    body = json.loads(ws.run("audit", "--yes", "--rate-limit", "0", "--format", "json").stdout)
    assert body["transactions"] == 18
    misfiled = body["findings"][0]
    assert misfiled["check"] == "misfiled" and misfiled["image"] == "images/alice/3.png"
    assert (misfiled["file"], misfiled["line"], misfiled["column"], misfiled["severity"]) == (
        "facesync.yaml",
        8,
        57,
        "error",
    )
    assert misfiled["collection"] == "personGroup.staff"
    lines = ws.run("audit", "--yes", "--rate-limit", "0", "--format", "github").stdout.splitlines()
    assert lines[0].startswith(
        "::error file=facesync.yaml,line=8,col=57,title=facesync audit%3A misfiled::images/alice/3.png"
    )
    assert lines[1].startswith(
        "::warning file=facesync.yaml,line=10,col=45,title=facesync audit%3A near-duplicate::"
    )
    md = ws.run("audit", "--yes", "--rate-limit", "0", "--format", "markdown").stdout
    assert md.startswith("<!-- facesync-audit -->\n### facesync audit: 5 errors ❌\n")
    assert "| ❌ | enrolled-twice | person 'Robert Jones' and person 'Bob Jones'" in md
    only_vip = ws.run("audit", "--yes", "--rate-limit", "0", "--target", "vip")
    assert only_vip.stdout.splitlines() == [
        "facesync.yaml:19:13: error: images/vip/blank.png: no face detected [no-face]",
        "Audit: 1 image of 0 persons reviewed; 1 error, 0 warnings; 1 transaction (1 Face.Detect)",
    ]


def test_a_person_target_audits_only_that_person(ws: Checks) -> None:
    audited(ws)
    result = ws.run(
        "audit", "--yes", "--rate-limit", "0", "--target", 'personGroup.staff/person["Bob Jones"]'
    )
    assert result.exit_code == 0, result.output + result.stderr
    assert result.stdout.splitlines()[-1] == (
        "Audit: 2 images of 1 person reviewed; 0 errors, 1 warning; 3 transactions "
        "(2 Face.Detect, 1 Face.FindSimilar)"
    )
