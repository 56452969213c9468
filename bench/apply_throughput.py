"""apply at the service's rate limit, side by side with the sequential script users write today.

Both load 1,000 faces over 200 persons into a fresh emulator run with `--rate-limit 10
--latency 150` (S0's 10 calls/s, a realistic round trip). facesync runs its normal apply; the
baseline creates each person, adds each face in turn, trains and polls, one call at a time.

    python bench/apply_throughput.py [--persons 200] [--faces-per-person 5]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from _emulator import emulator_process
from imagegen import face_image

from facesync.client import Endpoint
from facesync.config import load as load_config
from facesync.sync import Sync, SyncOptions

RATE = 10.0
KNOBS = ("--rate-limit", str(RATE), "--latency", "150", "--train-seconds", "1")


def write_config(root: Path, persons: int, per_person: int) -> Path:
    lines = ["version: 1", "personGroups:", "  bench:", "    name: Bench", "    persons:"]
    for p in range(persons):
        folder = root / "img" / f"p{p:04}"
        folder.mkdir(parents=True)
        for f in range(per_person):
            (folder / f"{f}.png").write_bytes(face_image(p * 100 + f, size=(96, 96)))
        lines.append(f"      person-{p:04}: {{faces: [img/p{p:04}]}}")
    config = root / "facesync.yaml"
    config.write_text("\n".join(lines) + "\n")
    return config


def stats(url: str) -> dict:
    return httpx.get(f"{url}/_emulator/stats").json()


async def facesync_apply(url: str, config: Path) -> tuple[float, int]:
    desired, _ = load_config(config)
    started = time.perf_counter()
    options = SyncOptions(rate_limit=RATE, parallelism=8)
    async with Sync(desired, Endpoint(url), options=options, state_root=config) as sync:
        plan = await sync.plan()
        result = await sync.apply(plan)
        assert result.ok, result.failed
        return time.perf_counter() - started, sync.client.total_calls


def sequential_script(url: str, config: Path, persons: int, per_person: int) -> tuple[float, int]:
    calls = 0
    started = time.perf_counter()
    with httpx.Client(base_url=f"{url}/face/v1.0", timeout=30) as api:

        def call(method: str, path: str, **kw) -> httpx.Response:
            nonlocal calls
            calls += 1
            response = api.request(method, path, **kw)
            response.raise_for_status()
            return response

        call("PUT", "/persongroups/bench", json={"name": "Bench"})
        for p in range(persons):
            pid = call("POST", "/persongroups/bench/persons", json={"name": f"person-{p:04}"}).json()[
                "personId"
            ]
            for f in range(per_person):
                call(
                    "POST",
                    f"/persongroups/bench/persons/{pid}/persistedfaces",
                    content=(config.parent / "img" / f"p{p:04}" / f"{f}.png").read_bytes(),
                    headers={"Content-Type": "application/octet-stream"},
                )
        call("POST", "/persongroups/bench/train")
        while call("GET", "/persongroups/bench/training").json()["status"] not in ("succeeded", "failed"):
            time.sleep(1)
    return time.perf_counter() - started, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--faces-per-person", type=int, default=5)
    args = parser.parse_args()
    faces = args.persons * args.faces_per_person
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), args.persons, args.faces_per_person)
        with emulator_process("--data", ":memory:", *KNOBS) as url:
            fs_seconds, fs_calls = asyncio.run(facesync_apply(url, config))
            fs_throttled = stats(url)["statuses"].get("429", 0)
        with emulator_process("--data", ":memory:", *KNOBS) as url:
            seq_seconds, seq_calls = sequential_script(url, config, args.persons, args.faces_per_person)
            seq_throttled = stats(url)["statuses"].get("429", 0)
    print(f"apply {faces:,} faces over {args.persons} persons; emulator at {RATE:g} calls/s, 150 ms latency")
    print(f"{'':22}{'wall s':>9}{'calls':>8}{'calls/s':>9}{'of limit':>10}{'429s':>6}")
    for label, seconds, calls, throttled in (
        ("facesync apply", fs_seconds, fs_calls, fs_throttled),
        ("sequential script", seq_seconds, seq_calls, seq_throttled),
    ):
        rate = calls / seconds
        print(f"{label:22}{seconds:9.1f}{calls:8,}{rate:9.2f}{rate / RATE:9.0%}{throttled:6}")
    print(
        f"speed-up: {seq_seconds / fs_seconds:.2f}x; "
        f"the ideal at the limit is {fs_calls / RATE:.1f} s for facesync's calls"
    )


if __name__ == "__main__":
    main()
