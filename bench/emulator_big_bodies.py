"""Memory of the Face API emulator under hostile request bodies, over real HTTP.

Starts `facesync emulator` in a subprocess and sends, one at a time: a JSON body of --megabytes
MB (chunked), an octet-stream "image" of the same size, and a JSON array nested 100,000 levels
deep. Prints the answer, the time taken and the server's peak RSS (VmHWM) after each, so a body
that gets buffered whole shows up as a jump in the peak.

    python bench/emulator_big_bodies.py [--megabytes 300]
"""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

CHUNK = 64 * 1024


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def spaces(total: int, first: bytes = b"") -> Iterator[bytes]:
    yield first
    sent = 0
    while sent < total:
        chunk = b" " * min(CHUNK, total - sent)
        sent += len(chunk)
        yield chunk


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--megabytes", type=int, default=300)
    args = parser.parse_args()
    size = args.megabytes * 1024 * 1024
    port = free_port()
    cmd = [sys.executable, "-m", "facesync", "emulator", "--recognition", "deterministic"]
    cmd += ["--port", str(port), "--data", ":memory:"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            try:
                httpx.get(f"{base}/_emulator/stats", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        with httpx.Client(base_url=base, timeout=300) as client:
            client.put("/face/v1.0/largefacelists/l", json={"name": "n"})
            print(f"server peak RSS at start: {peak_rss_mb(proc.pid):.0f} MB")
            cases = [
                (
                    f"{args.megabytes} MB JSON body",
                    "PUT",
                    "/face/v1.0/persongroups/g",
                    {"Content-Type": "application/json"},
                    lambda: spaces(size, b'{"name": "n"'),
                ),
                (
                    f"{args.megabytes} MB image body",
                    "POST",
                    "/face/v1.0/largefacelists/l/persistedfaces",
                    {"Content-Type": "application/octet-stream"},
                    lambda: spaces(size),
                ),
                (
                    "JSON nested 100,000 deep",
                    "PUT",
                    "/face/v1.0/persongroups/g",
                    {"Content-Type": "application/json"},
                    lambda: iter([b"[" * 100_000 + b"]" * 100_000]),
                ),
            ]
            for label, method, path, headers, body in cases:
                t0 = time.perf_counter()
                try:
                    r = client.request(method, path, content=body(), headers=headers)
                    answer = f"{r.status_code} {r.text[:90]}"
                except httpx.TransportError as exc:
                    answer = f"transport error: {exc!r}"[:100]
                elapsed = time.perf_counter() - t0
                print(f"{label}: {answer}")
                print(f"  {elapsed:.2f} s; server peak RSS now {peak_rss_mb(proc.pid):.0f} MB")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    main()
