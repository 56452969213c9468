"""Time and network a lease test controls: each process's own monotonic clock (`Timeline`), and an
apply's connection to the emulator that can be held still or made to fail (`HoldingNetwork`)."""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable

import httpx

from facesync.lock import LOCK_ID

SETTLE_LIMIT = 60.0
"""Real seconds a woken task may take to go back to sleep: only a hung test ever waits this long."""


class Timeline:
    """One process's monotonic clock, moved only by the test.

    `sleep` (for `LockOptions(sleep=)`) wakes only when `advance` reaches its deadline; `advance`
    wakes the sleepers in deadline order and returns once each woken task has gone back to sleep
    or finished, so what happens between two instants is exact however slow the machine is.
    Processes that run at once share a timeline (each with its own `clock(origin)`); a stopped
    process gets its own, which `jump`s without waking anyone.
    """

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future[None], asyncio.Task[object]]] = []
        self._order = itertools.count()
        self._changed = asyncio.Event()
        self._watched: set[asyncio.Task[object]] = set()

    def clock(self, origin: float = 0.0) -> Callable[[], float]:
        """A monotonic clock reading `origin` at the timeline's start (machines differ)."""
        return lambda: origin + self.now

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._watch(task)
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (self.now + max(seconds, 0.0), next(self._order), woken, task)
        heapq.heappush(self._sleepers, entry)
        self._changed.set()
        try:
            await woken
        finally:
            if entry in self._sleepers:  # cancelled while asleep
                self._sleepers.remove(entry)
                heapq.heapify(self._sleepers)

    def jump(self, seconds: float) -> None:
        """Time passes and nobody wakes: the process was stopped (SIGSTOP) that long."""
        self.now += seconds

    async def advance(self, seconds: float) -> None:
        target = self.now + seconds
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, woken, task = heapq.heappop(self._sleepers)
            self.now = max(self.now, deadline)
            if not woken.done():
                woken.set_result(None)
            await self.settle(task)
        self.now = target

    async def settle(self, task: asyncio.Task[object]) -> None:
        """Until `task` sleeps on this timeline again, or is done."""
        self._watch(task)
        while not (task.done() or any(s[3] is task for s in self._sleepers)):
            self._changed.clear()
            await asyncio.wait_for(self._changed.wait(), SETTLE_LIMIT)

    async def run_until(self, task: asyncio.Task[object], step: float) -> float:
        """Advance by `step` until `task` is done; the time that took."""
        started = self.now
        await self.settle(task)
        while not task.done():
            await self.advance(step)
        return self.now - started

    def _watch(self, task: asyncio.Task[object]) -> None:
        if task not in self._watched:
            self._watched.add(task)
            task.add_done_callback(lambda _: self._changed.set())


class HoldingNetwork(httpx.AsyncBaseTransport):
    """One apply's connection to the emulator (real HTTP), recording each request it sends.

    After the `hold_after`-th write other than the lock's own has been answered, the answer waits
    for `resume()`: the process is stopped with nothing in flight. `fail_lock` answers every call
    on the lock 503 (the client's retries included)."""

    def __init__(self, hold_after: int | None = None) -> None:
        self._inner = httpx.AsyncHTTPTransport()
        self.hold_after = hold_after
        self.sent: list[tuple[str, str]] = []
        self.holding = asyncio.Event()
        self._resumed = asyncio.Event()
        self.resumed_at: int | None = None
        self.fail_lock = False

    @staticmethod
    def is_data_write(method: str, path: str) -> bool:
        return method != "GET" and LOCK_ID not in path

    def data_writes(self, since: int = 0) -> list[tuple[str, str]]:
        return [(m, p) for m, p in self.sent[since:] if self.is_data_write(m, p)]

    def resume(self) -> None:
        self.resumed_at = len(self.sent)
        self._resumed.set()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        method, path = request.method, request.url.path
        self.sent.append((method, path))
        if self.fail_lock and LOCK_ID in path:
            body = b'{"error": {"code": "ServiceUnavailable", "message": "the lock\'s region is down"}}'
            headers = {"content-type": "application/json"}
            return httpx.Response(503, headers=headers, stream=httpx.ByteStream(body))
        response = await self._inner.handle_async_request(request)
        if self.is_data_write(method, path) and len(self.data_writes()) == self.hold_after:
            # The service has answered (its headers are here): the write is done, not in flight.
            self.holding.set()
            await self._resumed.wait()
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


async def until_holding(network: HoldingNetwork, applying: asyncio.Task[object]) -> None:
    """Wait until the apply is held still; fail at once if it ended first."""
    holding = asyncio.ensure_future(network.holding.wait())
    await asyncio.wait({holding, applying}, timeout=SETTLE_LIMIT, return_when=asyncio.FIRST_COMPLETED)
    if not network.holding.is_set():
        holding.cancel()
        raise AssertionError(f"the apply ended before it was held: {applying.result()!r}")
