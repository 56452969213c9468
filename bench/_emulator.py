"""Run `facesync emulator` as a separate process for a benchmark (so client and server don't share a GIL)."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def emulator_process(*args: str) -> Iterator[str]:
    """The emulator with the deterministic engine unless `args` choose: the benchmarks' synthetic
    images hold no real face, and `--recognition auto` picks dlib when it is installed."""
    if "--recognition" not in args:
        args = (*args, "--recognition", "deterministic")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "facesync", "emulator", "--port", str(port), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{url}/_emulator/stats", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("the emulator did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=10)
