"""Helpers to run the emulator in tests: over real HTTP (`serve`) or in-process (`asgi_client`),
and a `FakeClock` so that training, rate windows and timestamps move only when a test says so."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import uvicorn
from starlette.applications import Starlette

from facesync.emulator.app import Clock, create_app
from facesync.emulator.settings import EmulatorSettings

# 2026-01-01T00:00:00Z: a fixed, recognisable start so timestamps in failures are easy to read.
FAKE_EPOCH = 1_767_225_600.0


class FakeClock:
    """A clock for `create_app(settings, clock=...)`: `clock()` is `now`, moved only by `advance`.

    Thread-safe, so a test may advance it while `serve()` answers from another thread.
    """

    def __init__(self, now: float = FAKE_EPOCH) -> None:
        self._lock = threading.Lock()
        self._now = float(now)

    def __call__(self) -> float:
        with self._lock:
            return self._now

    @property
    def now(self) -> float:
        return self()

    def advance(self, seconds: float) -> float:
        """Move time forward by `seconds` (>= 0); returns the new `now`."""
        if seconds < 0:
            raise ValueError("a clock cannot go back")
        with self._lock:
            self._now += seconds
            return self._now

    def set(self, now: float) -> None:
        """Put the clock at `now`: only for an emulator just wiped with `/_emulator/reset`, whose
        stored times would otherwise lie in its future."""
        with self._lock:
            self._now = float(now)

    async def sleep(self, seconds: float) -> None:
        """An `asyncio.sleep` for clients sharing this clock: time passes, nobody waits."""
        self.advance(max(0.0, seconds))
        await asyncio.sleep(0)  # let other tasks run, as a real sleep would


@contextlib.contextmanager
def serve(
    app_or_settings: EmulatorSettings | Starlette | None = None,
    host: str = "127.0.0.1",
    *,
    clock: Clock | None = None,
) -> Iterator[str]:
    """Run uvicorn in a background thread on a free port; yields "http://127.0.0.1:PORT".

    Accepts settings (a fresh app is built with `clock`, and closed afterwards) or an app made
    with `create_app`, which the caller owns.
    """
    if isinstance(app_or_settings, Starlette):
        if clock is not None:
            raise TypeError("pass the clock to create_app() when serving an existing app")
        app, owned = app_or_settings, False
    else:
        app, owned = create_app(app_or_settings, clock=clock), True
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are TCP,
    # and accepted sockets inherit it. With proto 0, Nagle holds each response body back until
    # the client's delayed ACK of the headers: 40 ms per call on Linux.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    # Real time on purpose: this waits for a thread to bind, not for emulated time to pass.
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the emulator did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
        if owned:
            app.state.emulator.close()


@contextlib.asynccontextmanager
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx.AsyncClient talking to the app in-process (base_url http://emulator.local)."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://emulator.local") as client:
        yield client
