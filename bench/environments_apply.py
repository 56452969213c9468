"""apply to several environments at once: is two regions' wall time one region's?

Writes 1,000 faces (200 persons x 5) with an `environments:` block naming two emulators, each a
separate process at 10 calls/s with 150 ms latency and its own key, and runs the real CLI:
`facesync apply --env a` (one environment) and `facesync apply --all-envs` (both, in parallel,
each with its own rate limiter). The ideal for parallel environments is the slowest environment's
calls at its own limit: about one environment's time, not the sum.

    python bench/environments_apply.py [--persons 200] [--faces-per-person 5] [--skip-single]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

import apply_throughput
from _emulator import emulator_process

RATE = 10.0
KNOBS = (
    "--data",
    ":memory:",
    "--rate-limit",
    str(RATE),
    "--latency",
    "150",
    "--train-seconds",
    "1",
    "--recognition",
    "deterministic",
)
REPO = Path(__file__).parents[1]


def write_config(root: Path, persons: int, per_person: int) -> Path:
    """apply_throughput's configuration, applied to two environments."""
    config = apply_throughput.write_config(root, persons, per_person)
    lines = ["environments:"]
    for name in ("a", "b"):
        var = name.upper()
        endpoint = "${" + var + "_FACE_ENDPOINT}"
        lines.append(f'  {name}: {{endpoint: "{endpoint}", keyEnv: {var}_FACE_KEY, rateLimit: {RATE:g}}}')
    config.write_text(config.read_text() + "\n".join(lines) + "\n")
    return config


def calls(url: str, key: str) -> int:
    return int(
        httpx.get(f"{url}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": key}).json()["total"]
    )


def run(config: Path, urls: dict[str, str], *selection: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(REPO), "NO_COLOR": "1"}
    for name, url in urls.items():
        env[f"{name.upper()}_FACE_ENDPOINT"] = url
        env[f"{name.upper()}_FACE_KEY"] = f"key-{name}"
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "facesync", "apply", *selection, "--auto-approve", "-f", str(config)],
        env=env,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"apply failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    return seconds


def fleet(stack: ExitStack) -> dict[str, str]:
    return {
        name: stack.enter_context(emulator_process(*KNOBS, "--key", f"key-{name}")) for name in ("a", "b")
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=200)
    parser.add_argument("--faces-per-person", type=int, default=5)
    parser.add_argument("--skip-single", action="store_true", help="Only the two-environment run.")
    args = parser.parse_args()
    faces = args.persons * args.faces_per_person
    rows: list[tuple[str, float, dict[str, int]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(Path(tmp), args.persons, args.faces_per_person)
        if not args.skip_single:
            with ExitStack() as stack:
                urls = fleet(stack)
                seconds = run(config, urls, "--env", "a")
                rows.append(("one environment (a)", seconds, {"a": calls(urls["a"], "key-a")}))
        # A fresh start: the second run must not reuse the first one's face cache.
        shutil.rmtree(Path(tmp) / ".facesync" / "environments", ignore_errors=True)
        with ExitStack() as stack:
            urls = fleet(stack)
            seconds = run(config, urls, "--all-envs")
            rows.append(
                ("two environments (a, b)", seconds, {n: calls(u, f"key-{n}") for n, u in urls.items()})
            )
    print(f"apply {faces:,} faces over {args.persons} persons to each environment")
    print(f"each emulator: its own process and key, {RATE:g} calls/s, 150 ms latency")
    print(f"{'':26}{'wall s':>9}{'calls':>16}{'ideal s':>9}{'wall/ideal':>12}")
    for label, seconds, counted in rows:
        ideal = max(counted.values()) / RATE
        shown = " + ".join(f"{c:,}" for c in counted.values())
        print(f"{label:26}{seconds:9.1f}{shown:>16}{ideal:9.1f}{seconds / ideal:11.2f}x")
    if len(rows) == 2:
        single, both = rows[0][1], rows[1][1]
        print(
            f"two environments take {both / single:.2f}x one environment's wall time (ideal 1.00x; sum 2.00x)"
        )


if __name__ == "__main__":
    main()
