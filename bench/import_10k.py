"""`facesync import` of one LargePersonGroup of N persons × K faces: requests and time vs. the ideal.

    python bench/import_10k.py [--persons 10000] [--faces-per-person 5] [--rate-limit 10]
                               [--budget 900]

The live state is seeded straight into the emulator's SQLite file (as bench/plan_noop_10k.py does),
every face carrying the fingerprint of a generated image, and import runs as a user runs it — the
CLI in its own process, `--images` pointing at those images — against `facesync emulator` in
another. The emulator's own counters give the requests made and prove none of them wrote.

The minimum the Face API allows: 4 collection lists (one page each), ceil((N+1)/1000) person pages
(a short page ends the list), one GET per face (person lists carry face ids, not face userData,
and there is no list-faces call for persons) and the training status (import says when a
collection was never trained). At R calls/s the ideal time is minimum / R.

At 10 calls/s the full 10,000 × 5 needs ~83 min. When the estimate exceeds --budget seconds the
run is refused (exit 3); run a smaller size at the limit, and the full size with --rate-limit 0
for the request count, which does not depend on the pace.
"""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))

from _emulator import emulator_process
from plan_noop_10k import seed
from validate_10k import generate

from facesync.config import load as load_config
from facesync.model import CollectionKind


def minimum_requests(persons: int, faces_per_person: int) -> int:
    person_pages = persons // 1000 + 1
    return len(CollectionKind) + person_pages + persons * faces_per_person + 1


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--faces-per-person", type=int, default=5)
    parser.add_argument("--rate-limit", type=float, default=10.0, help="0: unpaced")
    parser.add_argument("--parallelism", type=int, default=8)
    parser.add_argument("--budget", type=float, default=900.0, help="refuse runs whose ideal is longer")
    args = parser.parse_args()
    minimum = minimum_requests(args.persons, args.faces_per_person)
    ideal = minimum / args.rate_limit if args.rate_limit > 0 else None
    if ideal is not None and ideal > args.budget:
        print(
            f"refused: the ideal alone is {math.ceil(ideal / 60)} min at {args.rate_limit:g} calls/s "
            f"(budget {args.budget:.0f} s); use fewer --persons, or --rate-limit 0",
            file=sys.stderr,
        )
        sys.exit(3)
    with tempfile.TemporaryDirectory(prefix="facesync-bench-") as tmp:
        root = Path(tmp)
        config = generate(root / "config", args.persons, args.faces_per_person)
        desired, _ = load_config(config)
        seed(root / "emulator.sqlite", desired)
        out = root / "imported" / "facesync.yaml"
        with emulator_process("--data", str(root / "emulator.sqlite")) as url:
            before = httpx.get(f"{url}/_emulator/stats").json()
            started = time.perf_counter()
            result = subprocess.run(
                [
                    sys.executable, "-m", "facesync", "import", "--all",
                    "--images", str(root / "config" / "img"), "--out", str(out),
                    "--endpoint", url, "--rate-limit", str(args.rate_limit),
                    "--parallelism", str(args.parallelism),
                ],
                capture_output=True,
                text=True,
                env={**os.environ, "NO_COLOR": "1"},
                check=False,
            )  # fmt: skip
            seconds = time.perf_counter() - started
            after = httpx.get(f"{url}/_emulator/stats").json()
        if result.returncode != 0:
            sys.exit(f"import failed ({result.returncode}): {result.stderr.strip()}")
        written = out.read_text()
    requests = after["total"] - before["total"]
    writes = after["mutating"] - before["mutating"]
    faces = args.persons * args.faces_per_person
    matched = written.count("img/p")
    pace = f"{args.rate_limit:g} calls/s" if args.rate_limit > 0 else "unpaced"
    print(f"import: {args.persons:,} persons x {args.faces_per_person} faces ({faces:,}), one LPG, {pace}")
    print(f"  requests: {requests:,}, minimum {minimum:,} ({requests / minimum:.3f}x); writes: {writes}")
    print(f"  faces written as image paths: {matched:,} of {faces:,}")
    if ideal is not None:
        print(f"  time: {seconds:.1f} s, ideal {ideal:.1f} s ({seconds / ideal:.3f}x, incl. process start)")
    else:
        print(f"  time: {seconds:.1f} s ({requests / seconds:.0f} requests/s)")
    full = minimum_requests(10_000, 5)
    print(f"  at 10 calls/s, 10,000 x 5 needs at least {full:,} requests: {math.ceil(full / 10 / 60)} min")


if __name__ == "__main__":
    main()
