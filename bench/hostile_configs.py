"""Benchmark: how long facesync takes to refuse each hostile configuration.

    python bench/hostile_configs.py

Runs `facesync.config.validate` on every case of `tests/config/hostile/` (in a temporary copy,
so no image cache is written into the repository) and prints the wall time and the one
diagnostic of each. Issue 9 asks for each to be refused in under a second.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from facesync.config import validate

HOSTILE = Path(__file__).resolve().parents[1] / "tests" / "config" / "hostile"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="facesync-hostile-") as tmp:
        for case in sorted(p for p in HOSTILE.iterdir() if (p / "facesync.yaml").exists()):
            copy = Path(shutil.copytree(case, Path(tmp) / case.name))
            os.chdir(copy)
            start = time.perf_counter()
            result = validate("facesync.yaml")
            elapsed = time.perf_counter() - start
            first = str(result.diagnostics[0]) if result.diagnostics else "(no diagnostic!)"
            print(f"{case.name:<26} {elapsed * 1000:8.1f} ms  {first[:90]}")


if __name__ == "__main__":
    main()
