"""Helpers to run the emulator in tests: over real HTTP (`serve`) or in-process (`asgi_client`)."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import uvicorn
from starlette.applications import Starlette

from facesync.emulator.app import create_app
from facesync.emulator.settings import EmulatorSettings


@contextlib.contextmanager
def serve(settings: EmulatorSettings | Starlette | None = None, host: str = "127.0.0.1") -> Iterator[str]:
    """Run uvicorn in a background thread on a free port; yields "http://127.0.0.1:PORT".

    Accepts settings (a fresh app is built) or an app made with `create_app`.
    """
    owned = not isinstance(settings, Starlette)
    app = create_app(settings) if owned else settings
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
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
