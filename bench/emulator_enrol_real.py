"""Enrolment pace of `facesync emulator` with the real (dlib) engine, beside a baseline revision.

8 clients (default) add distinct real photos to persons of a large person group over HTTP; the
figure is faces added per second, and its ratio to the 10 calls/s an S0 Face resource allows.
The photos are tests/data/faces/Family*.jpg, each in several variants (mirrored, cropped by a few
pixels, re-encoded) so that every upload is a different image with one face: no two uploads share
bytes, so no cache can help the first pass. A second pass uploads the same variants again (what a
suite re-enrolling its photos does), and the restart pass does it after restarting the emulator
on the same --data file. Also printed: seconds from process start to the first 200 on a GET, and
the engine alone in a thread pool beside a process pool (why the emulator uses processes).

    python bench/emulator_enrol_real.py [--clients 8] [--variants 6] [--baseline main] [--rounds 3]
                                        [--no-pools]

The baseline is extracted with `git archive` and run with PYTHONPATH, from the same interpreter.
Needs the `recognition` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import httpx
from PIL import Image, ImageOps

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._emulator import free_port  # noqa: E402

PHOTOS = sorted((REPO / "tests" / "data" / "faces").glob("Family*.jpg"))
OCTET = {"Content-Type": "application/octet-stream"}
GROUP = "/face/v1.2/largepersongroups/enrol"
S0_RATE = 10.0


def variants(count: int) -> list[bytes]:
    """`count` distinct encodings of each photo: mirrored or not, cropped by 0-4 px, quality 80-95."""
    images = []
    for path in PHOTOS:
        original = Image.open(path).convert("RGB")
        for i in range(count):
            img = ImageOps.mirror(original) if i % 2 else original
            crop = i // 2
            img = img.crop((crop, crop, img.width - crop, img.height - crop))
            buf = io.BytesIO()
            img.save(buf, "JPEG", quality=95 - i)
            images.append(buf.getvalue())
    assert len(set(images)) == len(images)
    return images


def extract(revision: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(REPO), "archive", revision, "facesync"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


class Emulator:
    """`python -m facesync emulator --recognition real` from a source tree, on a free port."""

    def __init__(self, source: Path, data: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(source)}
        cmd = [sys.executable, "-m", "facesync", "emulator", "--recognition", "real"]
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [*cmd, "--port", str(self.port), "--data", data],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=tempfile.gettempdir(),
        )
        while True:
            try:
                if httpx.get(f"{self.url}/face/v1.2/largepersongroups", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None or time.monotonic() - started > 60:
                raise RuntimeError("the emulator did not start")
            time.sleep(0.01)
        self.startup = time.monotonic() - started

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=30)


async def enrol(url: str, images: list[bytes], clients: int, setup: bool) -> tuple[float, int]:
    """(faces/s, failures): `clients` concurrent clients share the images, one person each."""
    limits = httpx.Limits(max_connections=clients)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as http:
        if setup:
            (await http.put(GROUP, json={"name": "enrol"})).raise_for_status()
        persons = []
        for i in range(clients):
            r = await http.post(f"{GROUP}/persons", json={"name": f"p{i}"})
            persons.append(r.json()["personId"])
        failures = 0

        async def client(index: int) -> None:
            nonlocal failures
            for image in images[index::clients]:
                r = await http.post(
                    f"{GROUP}/persons/{persons[index]}/persistedfaces", content=image, headers=OCTET
                )
                failures += r.status_code != 200

        started = time.perf_counter()
        await asyncio.gather(*(client(i) for i in range(clients)))
        return len(images) / (time.perf_counter() - started), failures


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process and its live descendants (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / tick
    return own + sum(cpu_seconds(int(child)) for child in children)


def settle(pid: int, timeout: float = 60.0) -> None:
    """Wait until the emulator's processes stop using CPU (at most `timeout` seconds)."""
    deadline = time.monotonic() + timeout
    before = cpu_seconds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = cpu_seconds(pid)
        if now - before < 0.05:
            return
        before = now


def run(source: Path, label: str, images: list[bytes], clients: int, again: bool) -> dict[str, float]:
    figures: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data = str(Path(tmp) / "emulator.sqlite")
        emulator = Emulator(source, data)
        figures["startup"] = emulator.startup
        try:
            settle(emulator.proc.pid)  # workers load their models first: not enrolment's CPU
            cpu = cpu_seconds(emulator.proc.pid)
            figures["first"], failed = asyncio.run(enrol(emulator.url, images, clients, True))
            figures["cpu_per_face"] = (cpu_seconds(emulator.proc.pid) - cpu) / len(images)
            if again:
                figures["again"], failed2 = asyncio.run(enrol(emulator.url, images, clients, False))
                failed += failed2
        finally:
            emulator.stop()
        if again:
            emulator = Emulator(source, data)
            try:
                figures["restart"], failed3 = asyncio.run(enrol(emulator.url, images, clients, False))
                failed += failed3
            finally:
                emulator.stop()
    if failed:
        print(f"  {label}: {failed} uploads failed")
    return figures


# ---- the engine alone: threads or processes ----------------------------------------------

_local = threading.local()


def _engine_detect(data: bytes) -> int:
    from facesync.emulator.recognition.dlib_engine import RealEngine

    if not hasattr(_local, "engine"):
        _local.engine = RealEngine()  # one per thread or process: dlib's models are not shared
    return len(_local.engine.detect(data))


def _count_until(done: threading.Event) -> float:
    """Iterations per second of a pure-Python loop in this thread until `done` is set: how much
    of the interpreter the main thread (the emulator's event loop) gets meanwhile."""
    count, started = 0, time.perf_counter()
    while not done.is_set():
        for _ in range(1000):
            pass
        count += 1
    return count / (time.perf_counter() - started)


def pools(images: list[bytes], workers: int) -> None:
    print(f"\nthe engine alone ({workers} workers, {len(images)} images, no HTTP):")
    idle = threading.Event()
    threading.Timer(1.0, idle.set).start()
    alone = _count_until(idle)
    executors: dict[str, Executor] = {
        "threads": ThreadPoolExecutor(workers),
        "processes": ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")),
    }
    for name, executor in executors.items():
        with executor:
            list(executor.map(_engine_detect, images[: workers * 2]))  # load the models first
            done = threading.Event()
            faces: list[int] = []

            def work(
                executor: Executor = executor, done: threading.Event = done, faces: list[int] = faces
            ) -> None:
                faces.append(sum(executor.map(_engine_detect, images)))
                done.set()

            started = time.perf_counter()
            worker = threading.Thread(target=work)
            worker.start()
            share = _count_until(done) / alone
            elapsed = time.perf_counter() - started
            worker.join()
        print(
            f"  {name:<9}  {faces[0] / elapsed:5.1f} faces/s; the main thread meanwhile runs at "
            f"{share:.0%} of its pace alone"
        )


def spread(values: list[float], digits: int = 1) -> str:
    """The median, and the range when there are several values."""
    middle = f"{statistics.median(values):.{digits}f}"
    if len(values) == 1:
        return middle
    return f"{middle} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--variants", type=int, default=6, help="encodings of each of the 16 photos")
    parser.add_argument("--baseline", default="main", help="git revision to compare with ('' for none)")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each; medians shown")
    parser.add_argument("--no-pools", action="store_true", help="skip the threads-vs-processes figure")
    args = parser.parse_args()
    images = variants(args.variants)
    print(
        f"{len(images)} distinct photos, {args.clients} clients, one add-face each; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}"
    )
    rows = [("now", REPO)]
    runs: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        if args.baseline:
            rows.append((f"baseline {args.baseline}", extract(args.baseline, Path(tmp))))
        for round_ in range(args.rounds):
            # Alternating which goes first cancels a drift in the machine's load between them.
            for label, source in rows if round_ % 2 == 0 else rows[::-1]:
                again = label == "now" and round_ == 0
                runs.setdefault(label, []).append(run(source, label, images, args.clients, again))
    print(
        f"\nmedian (range) of {args.rounds} alternating rounds:\n"
        f"| emulator | start to first 200 (s) | faces/s, new photos | ratio to {S0_RATE:g}/s "
        "| CPU s per face | same photos again | after a restart (--data) |"
    )
    print("|---|---|---|---|---|---|---|")
    for label, figures in runs.items():
        first = [f["first"] for f in figures]
        again = f"{figures[0]['again']:.1f} faces/s" if "again" in figures[0] else "-"
        restart = f"{figures[0]['restart']:.1f} faces/s" if "restart" in figures[0] else "-"
        print(
            f"| {label} | {spread([f['startup'] for f in figures], 2)} | {spread(first)} | "
            f"{statistics.median(first) / S0_RATE:.2f} | {spread([f['cpu_per_face'] for f in figures], 3)} "
            f"| {again} | {restart} |"
        )
    print(
        f"load average after the runs: {os.getloadavg()[0]:.1f}. On a shared machine faces/s follows "
        "the CPU the emulator gets; CPU s per face (all its processes) does not."
    )
    if not args.no_pools:
        from facesync.emulator.recognition.workers import cores

        pools(images, cores())


if __name__ == "__main__":
    main()
