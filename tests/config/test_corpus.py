"""The corpus of broken configurations: one directory per mistake, each with `expected.txt`.

Each case is validated as a directory (`-f DIR`); see `tests/config/expectations.py` for the
format of `expected.txt`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from facesync.config import validate
from tests.config.expectations import assert_matches

CORPUS = Path(__file__).parent / "corpus"
CASES = sorted(p.name for p in CORPUS.iterdir() if (p / "expected.txt").exists())


def test_corpus_is_not_empty() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize("name", CASES)
def test_broken_config(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Copy so the image cache (.facesync/) is not written into the repository.
    case = shutil.copytree(CORPUS / name, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FACESYNC_TEST_SURELY_UNSET_VAR", raising=False)
    assert_matches(case, validate(Path(name)))
