"""Hostile configurations: each is refused with one clear error instead of hanging, exhausting
memory or reading files it should not.

Static cases live in `tests/config/hostile/<case>/` (`facesync.yaml` + `expected.txt`, read as
`-f FILE`); cases that need the file system (FIFOs, devices, symlinks) are built here.
`bench/hostile_configs.py` prints how long each static case takes.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesync.cli import main
from facesync.config import ValidationResult, validate
from tests.config.conftest import WriteConfig
from tests.config.expectations import assert_matches, read_expected
from tests.guards import without_hanging
from tests.imagegen import face_image

HOSTILE = Path(__file__).parent / "hostile"
CASES = sorted(p.name for p in HOSTILE.iterdir() if (p / "expected.txt").exists())
HANG_GUARD_SECONDS = 60
"""Only a guard so that a regression fails instead of blocking the suite: not a timing claim."""


def _validate_or_hang(run: Callable[[], ValidationResult]) -> ValidationResult:
    return without_hanging(
        run, HANG_GUARD_SECONDS, "validate did not return: it is blocked on the config file"
    )


@pytest.mark.parametrize("name", CASES)
def test_hostile_config_gets_one_clear_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = shutil.copytree(HOSTILE / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    result = validate(case / "facesync.yaml")
    assert_matches(case, result)
    assert len(result.diagnostics) == 1


@pytest.mark.parametrize("name", CASES)
def test_hostile_config_through_the_cli(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    case = shutil.copytree(HOSTILE / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(
        main, ["validate", "-f", str(case / "facesync.yaml"), "--format", "json"], catch_exceptions=False
    )
    got = [(d["line"], d["column"], d["severity"], d["message"]) for d in json.loads(result.stdout)]
    expected = read_expected(case)
    assert [row[:3] for row in got] == [(line, column, sev) for _, line, column, sev, _ in expected]
    assert all(want in message for (*_, message), (*_, want) in zip(got, expected, strict=True))
    assert result.exit_code == (1 if any(row[3] == "error" for row in expected) else 0)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_as_config_is_refused_without_blocking(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    os.mkfifo("facesync.yaml")
    result = _validate_or_hang(lambda: validate("facesync.yaml"))
    assert [str(d) for d in result.diagnostics] == [
        "facesync.yaml: error: cannot read file: a FIFO (named pipe), not a regular file: "
        "a configuration must be a plain file"
    ]


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_a_device_as_config_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    os.symlink("/dev/zero", "facesync.yaml")
    result = _validate_or_hang(lambda: validate("/dev/zero"))
    assert len(result.errors) == 1 and "a device, not a regular file" in result.errors[0].message
    linked = _validate_or_hang(lambda: validate("facesync.yaml"))
    assert "a device, not a regular file" in linked.errors[0].message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_in_a_config_directory_is_not_opened(
    write_config: WriteConfig, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    write_config("version: 1\nprune: false\n", name="conf/a.yaml")
    os.mkfifo(tmp_path / "conf" / "b.yaml")
    with caplog.at_level(logging.INFO, logger="facesync.config.sources"):
        result = _validate_or_hang(lambda: validate(tmp_path / "conf"))
    assert result.ok and result.state is not None
    assert result.state.files == (os.path.join("conf", "a.yaml"),)
    assert f"skipped {os.path.join('conf', 'b.yaml')}: not a regular file" in caplog.messages


FACE_LIST = "version: 1\nfaceLists:\n  vip:\n    name: VIP\n    faces: [{faces}]\n"


def test_a_symlink_out_of_the_root_is_refused_and_not_read(write_config: WriteConfig, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(face_image(1))
    path = write_config(FACE_LIST.format(faces="img/secret.png, img/linked/*.png"), name="repo/facesync.yaml")
    (tmp_path / "repo" / "img").mkdir()
    os.symlink(outside / "secret.png", tmp_path / "repo" / "img" / "secret.png")
    os.symlink(outside, tmp_path / "repo" / "img" / "linked")
    result = validate(path)
    assert [(d.line, d.column) for d in result.errors] == [(5, 13), (5, 29)]
    assert "image 'img/secret.png' resolves outside the configuration root 'repo'" in result.errors[0].message
    assert "'img/linked/*.png' names 1 file(s) outside" in result.errors[1].message
    assert result.images_hashed == 0  # refused files are never read


def test_images_outside_the_root_are_allowed_when_the_config_says_so(
    write_config: WriteConfig, tmp_path: Path
) -> None:
    write_config("", {"shared/a.png": 1})
    path = write_config(FACE_LIST.format(faces="../shared/a.png"), name="repo/facesync.yaml")
    assert not validate(path).ok
    allowed = path.read_text().replace("version: 1\n", "version: 1\nallowImagesOutsideRoot: true\n")
    path.write_text(allowed)
    result = validate(path)
    assert result.ok and result.state is not None
    assert result.state.collections[0].faces[0].image_path == str(tmp_path / "shared" / "a.png")


def test_root_option_widens_the_allowed_folder(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config("", {"shared/a.png": 1})
    path = write_config(FACE_LIST.format(faces="../../shared/a.png"), name="repo/conf/facesync.yaml")
    assert not validate(path, root=tmp_path / "repo").ok
    assert validate(path, root=tmp_path).ok


def test_a_root_that_is_not_a_folder_is_an_error(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config("version: 1\n")
    result = validate(path, root=tmp_path / "nope")
    assert [d.message for d in result.errors] == ["--root must be an existing folder"]


UNCLOSED = "${a:-" * 60_000
"""300 KB of variable syntax that never closes: a backtracking search for `${NAME:-default}` took
over a minute on it (quadratic), a linear scan milliseconds (bench/hostile_configs.py)."""


def test_unclosed_variable_syntax_in_any_string_is_checked_without_hanging(write_config: WriteConfig) -> None:
    path = write_config(
        f"version: 1\nservice:\n  endpoint: '{UNCLOSED}'\n"
        f"personGroups:\n  staff:\n    name: Staff\n    persons:\n      Ann: {{userData: '{UNCLOSED}'}}\n"
    )
    result = _validate_or_hang(lambda: validate(path))
    assert [(d.line, d.column, d.message) for d in result.errors] == [
        (3, 13, "'endpoint' is 300000 characters long; at most 2048 are allowed"),
        (8, 23, "'userData' is 300000 characters long; at most 16384 are allowed"),
    ]


def test_a_pattern_mismatch_quotes_a_long_value_cut_short(write_config: WriteConfig) -> None:
    url = "ftp://" + "x" * 5000
    path = write_config(f"version: 1\nfaceLists:\n  vip:\n    name: VIP\n    faces: [{{url: '{url}'}}]\n")
    (error,) = validate(path).errors
    assert error.message == f"'url' must be an http:// or https:// URL, not {url[:60]!r}… (5,006 characters)"
