"""The corpus of broken configurations: one directory per mistake, each with `expected.txt`.

Each line of `expected.txt` is `[FILE:]LINE:COLUMN: SEVERITY: MESSAGE-SUBSTRING`; the case must
produce exactly those diagnostics (same count, in order), at exactly those positions.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from facesync.desired import validate_config

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.txt").exists())
_LINE_RE = re.compile(
    r"^(?:(?P<file>[^:]+\.ya?ml):)?(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.+)$"
)


def _expected(case: Path) -> list[tuple[str | None, int, int, str, str]]:
    rows = []
    for raw in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        m = _LINE_RE.match(raw)
        assert m, f"bad expected line in {case.name}: {raw!r}"
        rows.append((m["file"], int(m["line"]), int(m["col"]), m["sev"], m["msg"]))
    return rows


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_broken_config(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Copy so the image cache (.facesync/) is not written into the repository.
    case = shutil.copytree(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACESYNC_TEST_SURELY_UNSET_VAR", raising=False)
    result = validate_config(Path(name))
    got = [(Path(d.file).name, d.line, d.column, d.severity, d.message) for d in result.diagnostics]
    expected = _expected(case)
    shown = "\n".join(f"{f}:{ln}:{c}: {s}: {m}" for f, ln, c, s, m in got)
    assert len(got) == len(expected), f"{name}: got\n{shown}"
    for (gfile, gline, gcol, gsev, gmsg), (efile, eline, ecol, esev, emsg) in zip(got, expected, strict=True):
        assert (gline, gcol, gsev) == (eline, ecol, esev), f"{name}: got\n{shown}"
        assert emsg in gmsg, f"{name}: got\n{shown}"
        if efile is not None:
            assert gfile == efile
    has_errors = any(row[3] == "error" for row in expected)
    assert result.ok is not has_errors
    assert (result.state is None) is has_errors
