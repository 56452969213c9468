"""How long `facesync --help` and `facesync --version` take to start, beside `python -c "import click"`
(the floor: the interpreter plus click) and beside a baseline revision of facesync run the same way.

    python bench/cli_startup.py [--runs 15] [--baseline 48a6ad8]

The baseline is extracted with `git archive` into a temporary folder and run with PYTHONPATH, so
both versions start from the same interpreter and site-packages; the default baseline is the last
commit before command modules imported their dependencies lazily.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def median_seconds(argv: list[str], runs: int, pythonpath: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "facesync"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default="48a6ad8", help="git revision to compare with")
    args = parser.parse_args()
    python = sys.executable
    floor = median_seconds([python, "-c", "import click"], args.runs, REPO)
    print(f"median of {args.runs} runs each (wall clock, this machine):")
    print(f"  python -c 'import click'          {floor:6.3f} s")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = extract(args.baseline, Path(tmp))
        for flag in ("--help", "--version"):
            now = median_seconds([python, "-m", "facesync", flag], args.runs, REPO)
            before = median_seconds([python, "-m", "facesync", flag], args.runs, baseline)
            print(
                f"  facesync {flag:<9}  now {now:6.3f} s   baseline {args.baseline} {before:6.3f} s   "
                f"now/baseline {now / before:4.2f}   above the floor: now {now - floor:+.3f} s, "
                f"baseline {before - floor:+.3f} s"
            )


if __name__ == "__main__":
    main()
