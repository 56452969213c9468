"""What a small pull request's apply costs in requests, beside the minimum its writes need.

A PersonGroup of 19 persons (two faces each) is applied and trained; then the configuration gains
one person with two faces and `facesync apply --auto-approve` runs as CI runs it (a warm local
cache, as a CI job that restores `.facesync/` has). The emulator counts every request it answers.

    python bench/small_pr_apply.py [--persons 19] [--baseline REV]

With --baseline, the same run is made with the facesync of that git revision (extracted with
`git archive`, run with PYTHONPATH) side by side, e.g. --baseline ede821f (before issue 18).

The minimum is the writes themselves: create the person, add its two faces, train, and one poll
of the training status: 5 requests. Everything above it is reading (the plan), the lock, and the
check that the service converged.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _emulator import emulator_process
from imagegen import face_image

MINIMUM = 5  # create person, add two faces, train, one training poll


def write_config(root: Path, persons: int, extra: bool) -> Path:
    lines = ["version: 1", "personGroups:", "  team:", "    name: Team", "    persons:"]
    for p in range(persons + (1 if extra else 0)):
        folder = root / "img" / f"p{p:03}"
        if not folder.exists():
            folder.mkdir(parents=True)
            for f in range(2):
                (folder / f"{f}.png").write_bytes(face_image(p * 100 + f, size=(96, 96)))
        lines.append(f"      person-{p:03}: {{faces: [img/p{p:03}]}}")
    config = root / "facesync.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def facesync(url: str, config: Path, *args: str, pythonpath: Path | None = None) -> None:
    env = {**os.environ, "FACESYNC_ENDPOINT": url, "FACESYNC_KEY": "bench-key"}
    if pythonpath is not None:
        env["PYTHONPATH"] = str(pythonpath)
    subprocess.run(
        [sys.executable, "-m", "facesync", *args, "-f", str(config)],
        env=env,
        cwd=config.parent,  # not the repository: its facesync/ would shadow PYTHONPATH's
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": "bench-key"}).json()


def run_once(persons: int, pythonpath: Path | None = None) -> tuple[int, dict[str, int]]:
    knobs = ("--key", "bench-key", "--train-seconds", "0")
    with tempfile.TemporaryDirectory() as tmp, emulator_process(*knobs) as url:
        root = Path(tmp)
        config = write_config(root, persons, extra=False)
        facesync(url, config, "apply", "--auto-approve", pythonpath=pythonpath)
        config = write_config(root, persons, extra=True)
        before = stats(url)
        facesync(url, config, "apply", "--auto-approve", pythonpath=pythonpath)
        after = stats(url)
    operations = {
        op: after["operations"].get(op, 0) - before["operations"].get(op, 0)
        for op in after["operations"]
        if after["operations"].get(op, 0) - before["operations"].get(op, 0)
    }
    return after["total"] - before["total"], operations


def extract(revision: str, into: Path) -> Path:
    repo = Path(__file__).resolve().parents[1]
    archive = subprocess.run(
        ["git", "-C", str(repo), "archive", revision, "facesync"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def report(label: str, total: int, operations: dict[str, int], persons: int) -> None:
    print(
        f"{label}: adding 1 person with 2 faces to a group of {persons}: {total} requests "
        f"(minimum {MINIMUM}; {total / MINIMUM:.1f}x the minimum)"
    )
    for op, count in sorted(operations.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"    {count:4d}  {op}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=19)
    parser.add_argument("--baseline", help="git revision to run side by side")
    args = parser.parse_args()
    report("now", *run_once(args.persons), args.persons)
    if args.baseline:
        with tempfile.TemporaryDirectory() as tmp:
            base = extract(args.baseline, Path(tmp))
            report(f"baseline {args.baseline}", *run_once(args.persons, base), args.persons)


if __name__ == "__main__":
    main()
