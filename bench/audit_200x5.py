"""facesync audit of 200 persons × 5 faces against the emulator at 10 calls/s.

Prints the transactions the audit used beside the minimum its checks need (one detect per image,
k − 1 find-similar calls per person of k faces, one group call per 1,000 faces) and the time beside
the ideal (that minimum at the rate limit). The emulator runs as a separate process with
`--rate-limit 10` and the deterministic engine; a few planted problems (a misfiled photo, a person
enrolled twice, a near-duplicate) show that the findings come out.

    python bench/audit_200x5.py [--persons 200] [--faces-per-person 5] [--rate 10]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _emulator import emulator_process
from imagegen import face_image

from facesync.checks.audit import AuditOptions, estimate, run_audit
from facesync.client import Endpoint, FaceClient
from facesync.config import load as load_config


def write_config(root: Path, persons: int, per_person: int) -> Path:
    lines = [
        "version: 1",
        "defaults: {recognitionModel: recognition_04, detectionModel: detection_03}",
        "personGroups:",
        "  bench:",
        "    name: Bench",
        "    persons:",
    ]
    for p in range(persons):
        folder = root / "img" / f"p{p:04}"
        folder.mkdir(parents=True)
        for f in range(per_person):
            identity = f"p{p}"
            seed = p * 100 + f
            if p == 1 and f == 0:
                identity = "p2"  # person 2's photo filed under person 1
            if p == 3:
                identity = "p4"  # person 4 enrolled a second time as person 3
            if p == 5 and f == 1:
                seed = p * 100  # the same picture twice (as PNG and JPEG)
            fmt, suffix = ("JPEG", "jpg") if (p == 5 and f == 1) else ("PNG", "png")
            (folder / f"{f}.{suffix}").write_bytes(
                face_image(seed, size=(128, 128), fmt=fmt, identity=identity)
            )
        lines.append(f"      person-{p:04}: {{faces: [img/p{p:04}]}}")
    config = root / "facesync.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


async def audit(url: str, config: Path, rate: float) -> None:
    desired, _ = load_config(config)
    cost = estimate(desired)
    per_person = [
        sum(f.image_path is not None for f in p.faces) for c in desired.collections for p in c.persons
    ]
    faces = sum(per_person)
    minimum = faces + sum(k - 1 for k in per_person if k > 1) + math.ceil(faces / 1000)
    async with FaceClient(Endpoint(url), rate_limit=rate, parallelism=8) as client:
        started = time.perf_counter()
        report = await run_audit(client, desired, options=AuditOptions(rate_limit=rate))
        elapsed = time.perf_counter() - started
    checks = Counter(f.check for f in report.findings)
    groups = math.ceil(faces / 1000)
    used = ", ".join(f"{n} {op}" for op, n in sorted(report.calls.items()))
    ideal = minimum / rate
    print(
        f"audit of {len(per_person)} persons x {faces // max(1, len(per_person))} faces at {rate:g} calls/s"
    )
    print(f"  estimate shown before the run : {cost.total} transactions")
    print(f"  transactions used             : {report.transactions} ({used})")
    similar = minimum - faces - groups
    print(
        f"  minimum the checks need       : {minimum} ({faces} detect + {similar} find similar"
        f" + {groups} group)"
    )
    print(f"  time                          : {elapsed:.1f} s")
    print(f"  ideal (minimum at the limit)  : {ideal:.1f} s  -> {elapsed / ideal:.2f}x ideal")
    print(f"  findings                      : {dict(sorted(checks.items()))}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--faces-per-person", type=int, default=5)
    parser.add_argument("--rate", type=float, default=10.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), args.persons, args.faces_per_person)
        with emulator_process("--rate-limit", f"{args.rate:g}") as url:
            asyncio.run(audit(url, config, args.rate))


if __name__ == "__main__":
    main()
