"""Recognition in worker processes, one per core, each holding its own copy of the models.

Why processes and not threads (bench/emulator_enrol_real.py measures both): dlib's face
descriptor, most of the cost of a face, holds the GIL for its ~75 ms, so threads neither run two
of them at once nor let the event loop answer meanwhile; and two threads sharing one dlib model
crash the process. A worker loads the models as it starts, so the first request does not wait for
them and the emulator's own process never loads them at all.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, TypeVar

from facesync.emulator.detection import Rect
from facesync.emulator.errors import ApiError
from facesync.emulator.recognition.engines import load_engine
from facesync.emulator.recognition.faces import Engine, Face

log = logging.getLogger(__name__)

T = TypeVar("T")
WORKER_FAILED = (500, "InternalServerError", "An internal server error occurred. Please try again later.")
# Pools in a row that broke before doing any work: then workers cannot start here at all.
GIVE_UP_AFTER = 3

# ---- inside a worker ---------------------------------------------------------------------

_engine: Engine | None = None


def _start(mode: str) -> None:
    global _engine
    _engine = load_engine(mode)
    load = getattr(_engine, "load", None)
    if callable(load):
        load()


def _worker_engine() -> Engine:
    if _engine is None:  # pragma: no cover - the pool's initializer always ran
        raise RuntimeError("recognition worker was not started")
    return _engine


def _ready() -> int:
    return os.getpid()


def _detect(data: bytes) -> list[Face]:
    return _worker_engine().detect(data)


def _face_for_add(data: bytes, target: Rect | None) -> Face:
    return _worker_engine().face_for_add(data, target)


# ---- the emulator's side -----------------------------------------------------------------


def cores() -> int:
    """The cores this process may run on (a container's CPU set, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def can_spawn() -> bool:
    """Whether a spawned worker can start here: it imports the parent's main module again, which
    works for `python -m`, a script file, `-c` and the REPL, but not for a program read from stdin
    or a deleted file."""
    main_file = getattr(sys.modules.get("__main__"), "__file__", None)
    return main_file is None or os.path.isfile(main_file)


class WorkerPool:
    """Runs an engine's detect and face_for_add in `workers` processes (0 = one per core).

    `broken` turns true when GIVE_UP_AFTER pools in a row die before finishing any call (workers
    cannot start on this system): the caller then runs the engine itself.
    """

    def __init__(self, mode: str, workers: int = 0) -> None:
        self.mode = mode
        self.size = workers or cores()
        self._executor = self._new()
        self._worked = False
        self._failures = 0
        self.broken = False

    def _new(self) -> Executor:
        # spawn, not fork: the emulator may already run threads (uvicorn, tests), and a forked
        # child of a threaded process can inherit a held lock.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.size, mp_context=context, initializer=_start, initargs=(self.mode,))

    def warm(self) -> None:
        """Start every worker now, in the background: returns at once, and the models load while
        the emulator already answers."""
        for _ in range(self.size):
            self._executor.submit(_ready)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        executor = self._executor
        try:
            result = await loop.run_in_executor(executor, fn, *args)
        except BrokenProcessPool:
            # A worker died (killed, or a crash inside the native code): answer this call as the
            # service answers its own failures, and give the next call a fresh pool (once, however
            # many calls the dead pool held).
            if executor is self._executor:
                self._replace()
            raise ApiError(*WORKER_FAILED) from None
        self._worked = True
        self._failures = 0
        return result

    def _replace(self) -> None:
        # Only pools that never finished a call count towards giving up: an image that crashes
        # the native code must not move the engine into the emulator's own process.
        self._failures = 0 if self._worked else self._failures + 1
        self.broken = self._failures >= GIVE_UP_AFTER
        log.warning(
            "a recognition worker died; %s",
            "running the engine in this process from now on" if self.broken else "starting a new pool",
        )
        self._executor.shutdown(wait=False, cancel_futures=True)
        self._executor = self._new()
        self._worked = False

    def pids(self) -> list[int]:
        """Process ids of the live workers (for diagnostics and tests)."""
        processes = getattr(self._executor, "_processes", None) or {}
        return sorted(pid for pid, proc in processes.items() if proc.is_alive())

    async def detect(self, data: bytes) -> list[Face]:
        return await self._run(_detect, data)

    async def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        return await self._run(_face_for_add, data, target)

    def close(self) -> None:
        # Waiting (for a worker still loading its models, at most): not waiting leaves the
        # executor's exit hook writing to closed pipes at interpreter exit.
        self._executor.shutdown(wait=True, cancel_futures=True)
