"""How long `facesync plan` takes to give up on an endpoint it cannot reach, per cause.

    python bench/unreachable.py

Three endpoints on this machine only: a closed port (connection refused), a name that cannot
resolve (`.invalid` is reserved for that), and a listener whose accept queue is full, so that
connection attempts are dropped and time out. Each is run through the CLI, as CI would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CONFIG = "version: 1\nfaceLists: {}\n"


def full_listener() -> tuple[socket.socket, list[socket.socket], int]:
    """A listening socket that never accepts, its queue filled: new SYNs are dropped."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        with contextlib.suppress(BlockingIOError):  # the connect completes in the background
            filler.connect(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.2)
    return server, fillers, port


def run(endpoint: str, config: Path) -> tuple[float, int, str]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "facesync", "plan", "-f", str(config), "--endpoint", endpoint],
        capture_output=True,
        text=True,
        env={**os.environ, "FACESYNC_KEY": "bench-key"},
        timeout=120,
    )
    lines = done.stderr.strip().splitlines()
    return time.perf_counter() - started, done.returncode, lines[-1] if lines else ""


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "facesync.yaml"
        config.write_text(CONFIG)
        server, fillers, port = full_listener()
        try:
            cases = [
                ("connection refused", "http://127.0.0.1:9"),
                ("name does not resolve", "https://no-such-face-resource.invalid"),
                ("no answer (full accept queue)", f"http://127.0.0.1:{port}"),
            ]
            print("facesync plan against an unreachable endpoint (wall clock, incl. interpreter start):")
            for label, endpoint in cases:
                seconds, code, last = run(endpoint, config)
                print(f"  {label:<31} {seconds:6.2f} s  exit {code}  {last}")
        finally:
            for sock in (*fillers, server):
                sock.close()
    print("  budget: 15 s; worst case by construction: 3 connects x 3.5 s timeout + < 1.5 s backoff")


if __name__ == "__main__":
    main()
