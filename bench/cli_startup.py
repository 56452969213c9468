"""How long `facesync --help`, `--version` and `validate` (on the quickstart) take, beside
`python -c "import click"` (the floor: the interpreter plus click) and beside a baseline revision of
facesync run the same way.

    python bench/cli_startup.py [--runs 15] [--baseline ede821f]

The baseline is extracted with `git archive` into a temporary folder and run with PYTHONPATH, so
both versions start from the same interpreter and site-packages; the default baseline is the last
commit before issue 18 (one run path, lazy deepdiff). Issue 18's goal: `validate` within 3x the
floor, in both modes (the figure printed beside it).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GOAL = 3.0
"""`facesync validate` on the quickstart, in multiples of `python -c "import click"`."""


def median_seconds(argv: list[str], runs: int, pythonpath: Path) -> float:
    return timed(argv, runs, pythonpath)[0]


def timed(argv: list[str], runs: int, pythonpath: Path, *, cached: bool = True) -> tuple[float, float]:
    """Median wall seconds and median CPU seconds (user + system of the child) over `runs`.

    `cached`: as after `pip install facesync`, bytecode on disk. Else as an editable install where
    PYTHONDONTWRITEBYTECODE is set (this sandbox, some CI images): every facesync module imported
    is compiled again on every run (site-packages, click's included, keep their bytecode)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if not cached:
        env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONPATH"] = str(pythonpath)
    walls, cpus = [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
        walls.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def extract(revision: str, into: Path) -> Path:
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "facesync"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--baseline", default="ede821f", help="git revision to compare with")
    args = parser.parse_args()
    python = sys.executable
    print(f"median of {args.runs} runs each (wall clock; CPU of the process, steadier on a busy machine):")
    with tempfile.TemporaryDirectory() as tmp:
        baseline = extract(args.baseline, Path(tmp) / "baseline")
        # This working tree, copied without its bytecode, so that both start alike.
        current = Path(tmp) / "now"
        shutil.copytree(REPO / "facesync", current / "facesync", ignore=shutil.ignore_patterns("__pycache__"))
        quickstart = str(REPO / "examples" / "quickstart" / "facesync.yaml")
        for cached in (False, True):
            print(
                "bytecode cached (an installed facesync):"
                if cached
                else "compiled on every run (an editable install with PYTHONDONTWRITEBYTECODE):"
            )
            floor, floor_cpu = timed([python, "-c", "import click"], args.runs, REPO)
            print(f"  python -c 'import click'  {floor:6.3f} s, CPU {floor_cpu:6.3f} s")
            for label, command in (
                ("--help", ["--help"]),
                ("--version", ["--version"]),
                ("validate", ["validate", "-f", quickstart]),
            ):
                argv = [python, "-m", "facesync", *command]
                timed(argv, 1, current, cached=cached)  # the image cache (and bytecode, when kept)
                timed(argv, 1, baseline, cached=cached)
                now, now_cpu = timed(argv, args.runs, current, cached=cached)
                before, before_cpu = timed(argv, args.runs, baseline, cached=cached)
                goal = f"   goal {GOAL:.1f}x: {'met' if now_cpu / floor_cpu <= GOAL else 'NOT met'}"
                print(
                    f"  facesync {label:<9}  now {now:6.3f} s ({now / floor:3.1f}x the floor), CPU "
                    f"{now_cpu:.3f} s ({now_cpu / floor_cpu:3.1f}x)   baseline {args.baseline} "
                    f"{before:6.3f} s ({before / floor:3.1f}x), CPU {before_cpu:.3f} s "
                    f"({before_cpu / floor_cpu:3.1f}x){goal if label == 'validate' else ''}"
                )


if __name__ == "__main__":
    main()
