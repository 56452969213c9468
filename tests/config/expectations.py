"""`expected.txt` files of the config corpora, and the check that a result matches one.

Each line is `[FILE:]LINE:COLUMN: SEVERITY: MESSAGE-SUBSTRING`; a case must produce exactly
those diagnostics (same count, in order), at exactly those positions.
"""

from __future__ import annotations

import re
from pathlib import Path

from facesync.config import ValidationResult

_LINE_RE = re.compile(
    r"^(?:(?P<file>[^:]+\.ya?ml):)?(?P<line>\d+):(?P<col>\d+): (?P<sev>error|warning): (?P<msg>.+)$"
)

Row = tuple[str | None, int, int, str, str]


def read_expected(case: Path) -> list[Row]:
    rows: list[Row] = []
    for raw in (case / "expected.txt").read_text(encoding="utf-8").splitlines():
        if not raw.strip():
            continue
        m = _LINE_RE.match(raw)
        assert m, f"bad expected line in {case.name}: {raw!r}"
        rows.append((m["file"], int(m["line"]), int(m["col"]), m["sev"], m["msg"]))
    return rows


def assert_matches(case: Path, result: ValidationResult) -> None:
    got = [(Path(d.file).name, d.line, d.column, d.severity, d.message) for d in result.diagnostics]
    expected = read_expected(case)
    shown = "\n".join(f"{f}:{ln}:{c}: {s}: {m}" for f, ln, c, s, m in got)
    assert len(got) == len(expected), f"{case.name}: got\n{shown}"
    for (gfile, gline, gcol, gsev, gmsg), (efile, eline, ecol, esev, emsg) in zip(got, expected, strict=True):
        assert (gline, gcol, gsev) == (eline, ecol, esev), f"{case.name}: got\n{shown}"
        assert emsg in gmsg, f"{case.name}: got\n{shown}"
        if efile is not None:
            assert gfile == efile
    has_errors = any(row[3] == "error" for row in expected)
    assert result.ok is not has_errors
    assert (result.state is None) is has_errors
