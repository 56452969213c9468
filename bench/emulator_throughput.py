"""Throughput of the Face API emulator over real HTTP.

Starts `facesync emulator` (uvicorn) in a subprocess on a free 127.0.0.1 port and drives it
with concurrent httpx clients for a bounded time or request count, with a mix of:
get person group, list persons, add face, create person. Prints requests/second sustained and latency p50/p99.

    python bench/emulator_throughput.py [--seconds 5] [--requests 5000] [--concurrency 16] [--data PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import io
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from facesync.emulator import EmulatorSettings
from facesync.emulator.testing import serve

GROUP = "/face/v1.2/largepersongroups/bench"


def make_image(seed: int) -> bytes:
    rng = random.Random(seed)
    small = Image.new("RGB", (32, 32))
    small.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(32 * 32)])
    buf = io.BytesIO()
    small.resize((128, 128), Image.Resampling.NEAREST).save(buf, "PNG")
    return buf.getvalue()


async def worker(client, deadline, budget, latencies, errors, persons, images, rng):
    while time.monotonic() < deadline and budget[0] > 0:
        budget[0] -= 1
        pick = rng.random()
        t0 = time.perf_counter()
        if pick < 0.35:
            r = await client.get(GROUP)
        elif pick < 0.55:
            r = await client.get(f"{GROUP}/persons", params={"top": 100})
        elif pick < 0.80:
            pid = rng.choice(persons)
            r = await client.post(
                f"{GROUP}/persons/{pid}/persistedfaces",
                content=rng.choice(images),
                headers={"Content-Type": "application/octet-stream"},
            )
        else:
            r = await client.post(f"{GROUP}/persons", json={"name": "bench"})
            if r.status_code == 200:
                persons.append(r.json()["personId"])
        latencies.append(time.perf_counter() - t0)
        if r.status_code != 200:
            errors.append(r.status_code)


async def drive(base: str, seconds: float, requests: int, concurrency: int) -> None:
    images = [make_image(i) for i in range(8)]
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as client:
        await client.put(GROUP, json={"name": "bench"})
        persons = [
            (await client.post(f"{GROUP}/persons", json={"name": f"p{i}"})).json()["personId"]
            for i in range(20)
        ]
        latencies: list[float] = []
        errors: list[int] = []
        budget = [requests]
        start = time.monotonic()
        deadline = start + seconds
        await asyncio.gather(
            *(
                worker(client, deadline, budget, latencies, errors, persons, images, random.Random(i))
                for i in range(concurrency)
            )
        )
        elapsed = time.monotonic() - start
        stats = (await client.get("/_emulator/stats")).json()
    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    print(f"requests: {len(latencies)} in {elapsed:.2f} s with {concurrency} concurrent clients")
    print(f"throughput: {len(latencies) / elapsed:.0f} requests/s")
    print(f"latency: p50 {p50:.1f} ms, p99 {p99:.1f} ms; non-200: {len(errors)}")
    print(f"operations: {stats['operations']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--data", default=None, help="SQLite file (default: a temp file; :memory: allowed)")
    parser.add_argument(
        "--in-process", action="store_true", help="serve from a thread of this process (shares the GIL)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or str(Path(tmp) / "bench.sqlite")
        print(f"emulator data: {data}")
        if args.in_process:
            with serve(EmulatorSettings(data=data)) as base:
                asyncio.run(drive(base, args.seconds, args.requests, args.concurrency))
            return
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, "-m", "facesync", "emulator", "--recognition", "deterministic"]
        cmd += ["--port", str(port), "--data", data]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        try:
            print(proc.stdout.readline().strip())
            base = f"http://127.0.0.1:{port}"
            for _ in range(200):
                try:
                    httpx.get(f"{base}/_emulator/stats")
                    break
                except httpx.TransportError:
                    time.sleep(0.05)
            asyncio.run(drive(base, args.seconds, args.requests, args.concurrency))
        finally:
            proc.terminate()
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
