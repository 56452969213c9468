"""Benchmark: how long facesync takes to refuse each hostile configuration.

    python bench/hostile_configs.py [--glob-cap SECONDS] [--big-mb MB]

Runs `facesync.config.validate` on every case of `tests/config/hostile/` (in a temporary copy,
so no image cache is written into the repository) and prints the wall time and the one
diagnostic of each. Issue 9 asks for each to be refused in under a second.

Then two attacks of issue 17.5, each before (what facesync did) and after, side by side, every
measurement in a child process (its own peak RSS):

- the symlink glob: `faces: ["images/**/*.jpg"]` where `images/` holds two symlinks to `..`.
  Before, the `glob` module followed both links at every level (2^40 paths): the child is stopped
  after --glob-cap seconds. After, facesync's own matcher enters each real folder once.
- a big YAML (--big-mb, default 37): before, parsed to the end (seconds and memory before the
  first error); after, refused by its size before a byte is parsed.

And unclosed variable syntax (--unclosed-kb, default 300): `${a:-` repeated, without a `}`, in a
person's userData and in service.endpoint. Before, the regular expressions that looked for
`${NAME:-default}` (the literal-variable warning; the endpoint's pattern) backtracked: quadratic
in the string's length. After, one linear scan, and the endpoint's length is checked first.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from facesync.config import validate

REPO = Path(__file__).resolve().parents[1]
HOSTILE = REPO / "tests" / "config" / "hostile"
PHOTOS = REPO / "tests" / "data" / "faces"

_MEASURE = """
import resource, sys, time
start = time.perf_counter()
{work}
elapsed = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(f"{{elapsed:.2f}} {{peak:.0f}} {{outcome}}")
"""


def measure(work: str, cwd: Path, cap: float) -> str:
    """Run `work` (Python setting `outcome`) in a child process; its seconds, peak RSS, outcome."""
    code = _MEASURE.format(work=work)
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    try:
        done = subprocess.run(
            [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=cap
        )
    except subprocess.TimeoutExpired:
        return f"> {cap:.0f} s (stopped; it had not finished)"
    if done.returncode != 0:
        return f"failed after {time.perf_counter() - start:.1f} s: {done.stderr.strip().splitlines()[-1]}"
    seconds, peak, outcome = done.stdout.strip().split(" ", 2)
    return f"{float(seconds):8.2f} s, peak RSS {int(peak):6,} MB  {outcome[:70]}"


def static_cases() -> None:
    with tempfile.TemporaryDirectory(prefix="facesync-hostile-") as tmp:
        for case in sorted(p for p in HOSTILE.iterdir() if (p / "facesync.yaml").exists()):
            copy = Path(shutil.copytree(case, Path(tmp) / case.name))
            os.chdir(copy)
            start = time.perf_counter()
            result = validate("facesync.yaml")
            elapsed = time.perf_counter() - start
            first = str(result.diagnostics[0]) if result.diagnostics else "(no diagnostic!)"
            print(f"{case.name:<26} {elapsed * 1000:8.1f} ms  {first[:90]}")
        os.chdir(REPO)


def symlink_glob(cap: float) -> None:
    with tempfile.TemporaryDirectory(prefix="facesync-glob-") as tmp:
        root = Path(tmp)
        (root / "images" / "team").mkdir(parents=True)
        shutil.copy(PHOTOS / "Family1-Dad1.jpg", root / "images" / "a.jpg")
        shutil.copy(PHOTOS / "Family1-Dad2.jpg", root / "images" / "team" / "b.jpg")
        os.symlink("..", root / "images" / "up")
        os.symlink("..", root / "images" / "again")
        (root / "facesync.yaml").write_text(
            'version: 1\nfaceLists:\n  vip:\n    name: VIP\n    faces: ["images/**/*.jpg"]\n'
        )
        before = (
            "import glob\nfound = glob.glob('images/**/*.jpg', recursive=True)\n"
            "outcome = f'{len(found)} paths'"
        )
        after = (
            "from facesync.config import validate\nr = validate('facesync.yaml')\n"
            "outcome = f'{len(r.state.collections[0].faces) if r.state else r.diagnostics[0]} face(s)'"
        )
        print("\nthe symlink glob (images/**/*.jpg, two symlinks to '..'):")
        print(f"  before (glob module)  {measure(before, root, cap)}")
        print(f"  after (facesync)      {measure(after, root, cap)}")


def big_yaml(megabytes: float, cap: float) -> None:
    with tempfile.TemporaryDirectory(prefix="facesync-big-") as tmp:
        root = Path(tmp)
        line = "  l{:07}: {{name: List number {:07}, userData: 'some text to make the line longer'}}\n"
        count = int(megabytes * 2**20 / len(line.format(0, 0)))
        with open(root / "facesync.yaml", "w") as out:
            out.write("version: 1\nfaceLists:\n")
            out.writelines(line.format(i, i) for i in range(count))
        size = (root / "facesync.yaml").stat().st_size
        before = (
            "from pathlib import Path\nfrom facesync.config.loader import load_yaml\n"
            "doc, diags = load_yaml(Path('facesync.yaml'), limit=1 << 40)\n"
            "outcome = 'parsed to the end' if doc is not None else diags[0].message"
        )
        after = (
            "from facesync.config import validate\noutcome = validate('facesync.yaml').diagnostics[0].message"
        )
        print(f"\na big YAML ({size / 2**20:.1f} MB, {count:,} face lists), to its first error:")
        print(f"  before (parsed whole) {measure(before, root, cap)}")
        print(f"  after (size cap)      {measure(after, root, cap)}")


def unclosed_variables(kilobytes: float, cap: float) -> None:
    with tempfile.TemporaryDirectory(prefix="facesync-unclosed-") as tmp:
        root = Path(tmp)
        text = "${a:-" * int(kilobytes * 1000 / 5)
        (root / "facesync.yaml").write_text(
            f"version: 1\nservice:\n  endpoint: '{text}'\n"
            f"personGroups:\n  staff:\n    name: Staff\n    persons:\n      Ann: {{userData: '{text}'}}\n"
        )
        before = (
            "import re\nfrom facesync.config.models import ENDPOINT_PATTERN\n"
            f"text = {text[:5]!r} * {len(text) // 5}\n"
            r"re.search(r'\$\$\{|\$\{[A-Za-z_][A-Za-z0-9_]*(?::-[^}]*)?\}', text)" "\n"
            "re.search(ENDPOINT_PATTERN, text)\noutcome = 'searched both'"
        )
        after = (
            "from facesync.config import validate\noutcome = validate('facesync.yaml').diagnostics[0].message"
        )
        print(f"\nunclosed '${{a:-' ({len(text):,} characters) in userData and service.endpoint:")
        print(f"  before (backtracking) {measure(before, root, cap)}")
        print(f"  after (linear scan)   {measure(after, root, cap)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--glob-cap", type=float, default=60.0, help="stop the old glob after this")
    parser.add_argument("--big-mb", type=float, default=37.0)
    parser.add_argument("--unclosed-kb", type=float, default=300.0)
    args = parser.parse_args()
    static_cases()
    symlink_glob(args.glob_cap)
    big_yaml(args.big_mb, cap=600.0)
    unclosed_variables(args.unclosed_kb, cap=args.glob_cap)


if __name__ == "__main__":
    main()
