"""What a misbehaving Face endpoint costs `facesync plan`: peak memory and seconds, per attack.

    python bench/hostile_service.py [--baseline DIR] [--old-timeout 300] [--memory-cap-gb 4]

Each case is a server on 127.0.0.1 (in this process) and `python -m facesync plan` against it in
a child process, whose peak RSS comes from wait4(). With `--baseline DIR` (a checkout of an older
facesync, e.g. `git archive <commit> | tar -x -C DIR`) each case runs there too, side by side;
old runs are stopped at `--old-timeout` seconds and at `--memory-cap-gb` of address space (the
2 GB body once took 23 GB), and reported as such. The cases, from issue 17:

  100 MB body       a JSON list of collections, 100 MB, streamed
  2 GB body         the same, 2 GB
  gzip bomb         ~500 KB of gzip that inflates to 512 MiB
  slow-loris        headers, then one byte a second
  Retry-After       429 with Retry-After: 99999999, every time
  silent            reads the request, never answers
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "version: 1\npersonGroups: {}\n"
GROUP = b'{"personGroupId":"g%07d","name":"Group","recognitionModel":"recognition_04"}'
MIB = 1 << 20

Answer = Callable[[asyncio.StreamReader, asyncio.StreamWriter, asyncio.Event], Awaitable[None]]


def list_chunk() -> bytes:
    """1 MiB of `{…},{…},` list items."""
    items = b",".join(GROUP % i for i in range(MIB // len(GROUP % 0)))
    return items + b","


async def stream_list(writer: asyncio.StreamWriter, stop: asyncio.Event, total: int) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = list_chunk()
    sent = 0
    writer.write(b"1\r\n[\r\n")
    while sent < total and not stop.is_set():
        writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        await writer.drain()
        sent += len(chunk)
    last = GROUP % 0 + b"]"
    writer.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(last), last))
    await writer.drain()


def huge(total: int) -> Answer:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
        await stream_list(writer, stop, total)

    return answer


BOMB = gzip.compress(b"[" + b" " * (512 * MIB) + b"]", compresslevel=9)


async def bomb(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    head = (
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
        f"Content-Length: {len(BOMB)}\r\n\r\n"
    )
    writer.write(head.encode() + BOMB)
    await writer.drain()


async def slow_loris(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n[")
    while not stop.is_set():
        await writer.drain()
        await asyncio.sleep(1)
        writer.write(b" ")


async def retry_after(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
) -> None:
    body = b'{"error": {"code": "429", "message": "Rate limit is exceeded."}}'
    head = (
        "HTTP/1.1 429 Too Many Requests\r\nContent-Type: application/json\r\nRetry-After: 99999999\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event) -> None:
    await stop.wait()


class Server:
    """One raw HTTP/1.1 server on 127.0.0.1 in a thread; each request gets `answer`."""

    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.url = ""

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.stop = asyncio.Event()
        server = self.loop.run_until_complete(asyncio.start_server(self.serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self.ready.set()
        self.loop.run_until_complete(self.stop.wait())
        server.close()
        tasks = [t for t in asyncio.all_tasks(self.loop) if not t.done()]
        for task in tasks:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while not self.stop.is_set():
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length")
                    ),
                    0,
                )
                await reader.readexactly(length)
                await self.answer(reader, writer, self.stop)
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            pass
        finally:
            writer.close()

    def __enter__(self) -> Server:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.stop.set)
        self.thread.join(10)


def run_plan(tree: Path, url: str, config: Path, timeout: float, memory_cap: int) -> tuple[float, float, str]:
    """Seconds, peak RSS in MB, and how it ended (its last stderr line, or why it was stopped)."""

    def limits() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_cap, memory_cap))
        os.setsid()

    env = {**os.environ, "PYTHONPATH": str(tree), "FACESYNC_KEY": "bench-key-0123456789", "NO_COLOR": "1"}
    with tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "facesync",
                "plan",
                "-f",
                str(config),
                "--endpoint",
                url,
                "--rate-limit",
                "0",
            ],
            stdout=subprocess.DEVNULL,
            stderr=err,
            cwd=config.parent,
            env=env,
            preexec_fn=limits,
        )
        outcome = ""
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                os.killpg(child.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(child.pid, 0)
                outcome = f"stopped at {timeout:.0f} s"
                break
            time.sleep(0.05)
        seconds = time.perf_counter() - started
        err.seek(0)
        lines = [line for line in err.read().decode(errors="replace").splitlines() if line.strip()]
    if not outcome:
        code = os.waitstatus_to_exitcode(status)
        if any("MemoryError" in line for line in lines):
            outcome = f"exit {code}: out of memory at the {memory_cap >> 30} GB cap"
        elif code < 0:
            outcome = f"killed by signal {-code}"
        else:
            outcome = f"exit {code}: {lines[-1][:240] if lines else ''}"
    return seconds, usage.ru_maxrss / 1024, outcome


CASES: list[tuple[str, Answer]] = [
    ("100 MB body", huge(100 * 1000 * 1000)),
    ("2 GB body", huge(2 * 1000 * 1000 * 1000)),
    (f"gzip bomb ({len(BOMB) // 1000} KB)", bomb),
    ("slow-loris (1 B/s)", slow_loris),
    ("Retry-After: 99999999", retry_after),
    ("silent server", silent),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--baseline", type=Path, help="a checkout of an older facesync to compare with")
    parser.add_argument("--old-timeout", type=float, default=300, help="seconds before an old run is stopped")
    parser.add_argument("--timeout", type=float, default=300, help="seconds before a new run is stopped")
    parser.add_argument("--memory-cap-gb", type=int, default=4, help="address space cap for each run")
    parser.add_argument("--only", help="run only the cases whose name contains this")
    args = parser.parse_args()
    cap = args.memory_cap_gb << 30
    trees = [("after", ROOT, args.timeout)]
    if args.baseline:
        trees.insert(0, ("before", args.baseline.resolve(), args.old_timeout))
    with tempfile.TemporaryDirectory() as tmp:
        config = Path(tmp) / "facesync.yaml"
        config.write_text(CONFIG)
        print(f"{'case':<24} {'run':<7} {'seconds':>8} {'peak RSS':>10}  outcome")
        for name, answer in CASES:
            if args.only and args.only not in name:
                continue
            for label, tree, timeout in trees:
                with Server(answer) as server:
                    seconds, rss, outcome = run_plan(tree, server.url, config, timeout, cap)
                print(f"{name:<24} {label:<7} {seconds:>8.1f} {rss:>7.0f} MB  {outcome}", flush=True)


if __name__ == "__main__":
    main()
