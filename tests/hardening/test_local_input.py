"""Hostile local input (issue 17.5): what a pull request or a careless folder can put on disk gets
one clear error, or a bounded, correct behaviour, through the CLI.

Cases that could hang or exhaust memory if they regressed run under a guard (a thread with a
timeout, or a subprocess with a memory limit), so that a regression fails instead of stopping the
suite; the guards are not timing claims.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.config import imagepaths, sources
from tests.guards import without_hanging
from tests.sync.sync_helpers import Service, Workspace

HANG_GUARD_SECONDS = 120
needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
needs_dev_zero = pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")


def command_without_hanging(run: Callable[[], Result]) -> Result:
    return without_hanging(run, HANG_GUARD_SECONDS, "the command did not return")


def lines(result: Result) -> list[str]:
    return (result.stdout + result.stderr).splitlines()


class Disk(Workspace):
    def run_f(self, *args: str) -> Result:
        """The CLI with these arguments only (`run` adds `-f facesync.yaml`)."""
        env = {"FACESYNC_ENDPOINT": self.endpoint, "NO_COLOR": "1"}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


@pytest.fixture
def ws(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> Disk:
    monkeypatch.chdir(tmp_path)
    return Disk(tmp_path, service.url)


FACE_LIST = "version: 1\nfaceLists:\n  vip:\n    name: VIP\n    faces: {faces}\n"


# -- globs -----------------------------------------------------------------------------------------


def test_a_glob_through_symlink_loops_lists_each_folder_once(ws: Disk) -> None:
    ws.image("images/a.png", 1)
    ws.image("images/team/b.png", 2)
    os.symlink("..", ws.root / "images" / "up")
    os.symlink("..", ws.root / "images" / "team" / "up")
    ws.config(FACE_LIST.format(faces='["images/**/*.png"]'))
    result = command_without_hanging(lambda: ws.run("validate"))
    assert result.exit_code == 0, result.output
    assert lines(result) == ["facesync.yaml: valid: 1 collection, 0 persons, 2 faces", "0 errors, 0 warnings"]


def test_a_glob_that_lists_too_much_is_one_error(ws: Disk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(imagepaths, "MAX_ENTRIES_VISITED", 40)
    for i in range(30):
        ws.image(f"images/{i:02}/a.png", i)
    ws.config(FACE_LIST.format(faces='["images/**/*.png"]'))
    result = ws.run("validate")
    assert result.exit_code == 1
    assert lines(result) == [
        "facesync.yaml:5:13: error: glob 'images/**/*.png' stopped after the configuration's globs and "
        "directories listed 40 files and folders: narrow it (a symlink to a big folder?)",
        "1 error, 0 warnings",
    ]


# -- values no file or integer can hold ---------------------------------------------------------


def test_a_nul_in_an_image_path_is_one_error_per_face(ws: Disk) -> None:
    ws.config(FACE_LIST.format(faces='["img\\0.png", {image: "a\\0b.png"}]'))
    result = ws.run("validate")
    assert result.exit_code == 1
    assert lines(result) == [
        "facesync.yaml:5:13: error: image path 'img\\x00.png' holds a NUL character, which no file name can",
        "facesync.yaml:5:26: error: image path 'a\\x00b.png' holds a NUL character, which no file name can",
        "2 errors, 0 warnings",
    ]


def test_an_integer_too_long_to_convert_is_one_error(ws: Disk) -> None:
    ws.config("version: 1\nprune: " + "9" * 4301 + "\n")
    result = ws.run("validate")
    assert result.exit_code == 1
    assert lines(result) == [
        "facesync.yaml:2:8: error: cannot read value: a number of 4,301 digits is too long",
        "1 error, 0 warnings",
    ]


# -- size caps ---------------------------------------------------------------------------------------


def test_a_config_file_over_the_cap_is_refused_before_it_is_parsed(ws: Disk) -> None:
    text = "version: 1\nfaceLists:\n" + "".join(f"  l{i:07}: {{name: x}}\n" for i in range(400_000))
    (ws.root / "facesync.yaml").write_text(text)
    size = len(text)
    result = ws.run("validate")
    assert result.exit_code == 1
    assert lines(result) == [
        f"facesync.yaml: error: the file is {size / 2**20:.1f} MB ({size:,} bytes); a configuration file "
        "may be at most 8 MB (8,388,608 bytes): refusing to read it",
        "1 error, 0 warnings",
    ]


def test_a_config_directory_over_the_total_cap_stops_before_the_next_file(
    ws: Disk, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sources, "MAX_TOTAL_BYTES", 100)
    conf = ws.root / "conf"
    conf.mkdir()
    (conf / "a.yaml").write_text("version: 1\nfaceLists:\n  one: {name: One}\n")  # 41 bytes
    (conf / "b.yaml").write_text("version: 1\nfaceLists:\n  two: {name: Two}\n")
    (conf / "c.yaml").write_text("version: 1\nfaceLists:\n  three: {name: Three}\n")
    result = ws.run_f("validate", "-f", "conf")
    assert result.exit_code == 1
    assert lines(result) == [
        f"{os.path.join('conf', 'c.yaml')}: error: the configuration's files would exceed 100 bytes in "
        "all with this one (82 bytes read before it): refusing to read it",
        "1 error, 0 warnings",
    ]


# -- import --images ------------------------------------------------------------------------------


def bounded_cli(ws: Disk, *args: str) -> subprocess.CompletedProcess[str]:
    """The CLI in a child process that may use at most 2 GB of address space: reading `/dev/zero`
    would make it fail on its own instead of taking the machine down."""

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))

    env = {**os.environ, "FACESYNC_ENDPOINT": ws.endpoint, "NO_COLOR": "1"}
    return subprocess.run(
        [sys.executable, "-m", "facesync", *args],
        env=env,
        cwd=ws.root,
        capture_output=True,
        text=True,
        timeout=HANG_GUARD_SECONDS,
        preexec_fn=limit_memory,
    )


@needs_fifo
@needs_dev_zero
def test_import_images_reads_only_regular_files_of_at_most_6_mb(ws: Disk) -> None:
    ws.image("images/alice.png", 1)
    ws.config(FACE_LIST.format(faces="[images/alice.png]"))
    assert ws.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    found = ws.root / "found"
    found.mkdir()
    (found / "alice.png").write_bytes((ws.root / "images" / "alice.png").read_bytes())
    os.symlink("/dev/zero", found / "zero.jpg")
    os.mkfifo(found / "pipe.png")
    with open(found / "huge.jpg", "wb") as huge:
        huge.truncate(7 * 2**20)
    os.symlink("..", found / "loop")  # folder links are not followed

    result = bounded_cli(
        ws, "import", "--rate-limit", "0", "--all", "--images", "found", "--out", "imported.yaml"
    )
    assert result.returncode == 0, result.stderr
    warnings = sorted(line for line in result.stderr.splitlines() if line.startswith("WARNING"))
    assert warnings == [
        f"WARNING facesync.importing.images: skipping {found / 'huge.jpg'}: "
        "7,340,032 bytes, more than the 6,291,456 allowed",
        f"WARNING facesync.importing.images: skipping {found / 'pipe.png'}: "
        "a FIFO (named pipe), not a regular file",
        f"WARNING facesync.importing.images: skipping {found / 'zero.jpg'}: a device, not a regular file",
    ]
    assert "- image: found/alice.png" in (ws.root / "imported.yaml").read_text() or (
        "found/alice.png" in (ws.root / "imported.yaml").read_text()
    )


# -- facesync test: probes stay inside the root ----------------------------------------------------


def test_probes_outside_the_root_are_refused_and_never_sent(ws: Disk, service: Service) -> None:
    ws.image("repo/images/alice.png", 1)
    ws.image("elsewhere/probe.png", 2)
    os.symlink(ws.root / "elsewhere" / "probe.png", ws.root / "repo" / "linked.png")
    (ws.root / "repo" / "facesync.yaml").write_text(FACE_LIST.format(faces="[images/alice.png]"))
    (ws.root / "repo" / "facesync.test.yaml").write_text(
        "tests:\n"
        "  - {name: passwd, probe: /etc/passwd, detect: {faces: 1}}\n"
        "  - {name: sibling, probe: ../elsewhere/probe.png, detect: {faces: 1}}\n"
        "  - {name: link, probe: linked.png, detect: {faces: 1}}\n"
        "  - {name: fine, probe: images/alice.png, detect: {faces: 1}}\n"
    )
    config = str(ws.root / "repo" / "facesync.yaml")
    validated = ws.run_f("validate", "-f", config)
    assert validated.exit_code == 1
    shown = os.path.join("repo", "facesync.test.yaml")
    outside = (
        "resolves outside the configuration root 'repo': keep probes inside it, pass --root, or set "
        "'allowImagesOutsideRoot: true'"
    )
    assert lines(validated) == [
        f"{shown}:2:27: error: probe '/etc/passwd' {outside}",
        f"{shown}:3:28: error: probe '../elsewhere/probe.png' {outside}",
        f"{shown}:4:25: error: probe 'linked.png' {outside}",
        "3 errors, 0 warnings",
    ]

    tested = ws.run_f("test", "-f", config, "--rate-limit", "0")
    assert tested.exit_code == 1
    assert f"{shown}:3:28: error: probe '../elsewhere/probe.png' {outside}" in tested.stderr
    assert "Face.Detect" not in service.stats()["operations"]  # nothing was uploaded

    widened = ws.run_f("validate", "-f", config, "--root", str(ws.root))
    assert [line for line in lines(widened) if "error:" in line] == [
        f"{shown}:2:27: error: probe '/etc/passwd' resolves outside the configuration root '.': keep "
        "probes inside it, pass --root, or set 'allowImagesOutsideRoot: true'"
    ]


# -- writing: whole files, never through a symlink ------------------------------------------------


def test_plan_out_refuses_a_symlink_and_leaves_its_target_alone(ws: Disk) -> None:
    ws.config(FACE_LIST.format(faces="[]"))
    outside = ws.root / "outside.txt"
    outside.write_text("precious\n")
    os.symlink(outside, ws.root / "plan.json")
    result = ws.run("plan", "--rate-limit", "0", "--out", "plan.json")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: cannot write the plan file plan.json: is a symbolic link; facesync does not write through "
        "links (remove it or write elsewhere)"
    )
    assert outside.read_text() == "precious\n"
    os.unlink(ws.root / "plan.json")
    assert ws.run("plan", "--rate-limit", "0", "--out", "plan.json").exit_code == 0
    assert json.loads((ws.root / "plan.json").read_text())["changes"]


@needs_fifo
def test_plan_out_writes_a_device_in_place_and_a_fifo_nothing_reads_is_an_error(ws: Disk) -> None:
    ws.config(FACE_LIST.format(faces="[]"))
    devnull = os.stat("/dev/null")
    assert ws.run("plan", "--rate-limit", "0", "--out", "/dev/null").exit_code == 0
    assert (os.stat("/dev/null").st_mode, os.stat("/dev/null").st_rdev) == (devnull.st_mode, devnull.st_rdev)
    os.mkfifo(ws.root / "plan.json")
    result = command_without_hanging(lambda: ws.run("plan", "--rate-limit", "0", "--out", "plan.json"))
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1] == (
        "Error: cannot write the plan file plan.json: is a FIFO (named pipe) that nothing reads"
    )


def test_caches_and_test_reports_are_not_written_through_symlinks(ws: Disk) -> None:
    ws.image("images/alice.png", 1)
    ws.config(FACE_LIST.format(faces="[images/alice.png]"))
    outside = ws.root / "outside.txt"
    outside.write_text("precious\n")
    cache = ws.root / ".facesync" / "cache"
    cache.mkdir(parents=True)
    os.symlink(outside, cache / "images.json")  # a cache: warned about, not written through
    applied = ws.run("apply", "--auto-approve", "--rate-limit", "0")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert outside.read_text() == "precious\n"

    (cache / "faces.json").replace(ws.root / "faces.json")  # a link planted where the face cache is
    os.symlink(outside, cache / "faces.json")
    planned = ws.run("plan", "--rate-limit", "0", "--refresh", "full")
    assert planned.exit_code == 0, planned.output + planned.stderr
    shown = os.path.join(".facesync", "cache", "faces.json")
    assert (
        f"WARNING facesync.localstate: local cache unusable: {shown}: is a symbolic link; facesync does "
        f"not write through links (remove it or write elsewhere) ({shown}); going on without it"
    ) in planned.stderr
    assert outside.read_text() == "precious\n"
    os.unlink(cache / "faces.json")

    (ws.root / "facesync.test.yaml").write_text(
        "tests:\n  - {name: one face, probe: images/alice.png, detect: {faces: 1}}\n"
    )
    os.symlink(outside, ws.root / "report.xml")
    tested = ws.run("test", "--rate-limit", "0", "--out", "report.xml")
    assert tested.exit_code == 1
    assert tested.stderr.splitlines()[-1] == (
        "Error: cannot write the JUnit report report.xml: is a symbolic link; facesync does not write "
        "through links (remove it or write elsewhere)"
    )
    assert outside.read_text() == "precious\n"


@needs_dev_zero
def test_a_cache_that_is_a_device_is_ignored(ws: Disk) -> None:
    ws.image("images/alice.png", 1)
    ws.config(FACE_LIST.format(faces="[images/alice.png]"))
    cache = ws.root / ".facesync" / "cache"
    cache.mkdir(parents=True)
    os.symlink("/dev/zero", cache / "images.json")
    os.symlink("/dev/zero", cache / "faces.json")
    validated = bounded_cli(ws, "validate")
    assert validated.returncode == 0, validated.stdout + validated.stderr
    planned = bounded_cli(ws, "plan", "--rate-limit", "0", "--detailed-exitcode")
    assert planned.returncode == 2, planned.stderr  # read as no cache: the plan is made all the same
    assert "Plan: 2 to create" in planned.stdout
