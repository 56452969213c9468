"""A misbehaving HTTP server on 127.0.0.1, for the client's bounds.

Starlette cannot hold headers back or trickle a body byte by byte, so this speaks HTTP/1.1 itself
on raw asyncio streams, in a thread of its own: each test gives the coroutine that answers.
Time is a `FakeClock` shared with the client: a "slow" server advances it instead of waiting.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field


@dataclass
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Peer:
    """What an answering coroutine gets: the request, the socket's writer, and an event set when
    the test is over (a server that "never answers" waits for it)."""

    request: Request
    writer: asyncio.StreamWriter
    stop: asyncio.Event
    sent: list[int] = field(default_factory=lambda: [0])

    async def send(self, data: bytes) -> None:
        self.writer.write(data)
        await self.writer.drain()
        self.sent[0] += len(data)

    async def head(self, status: int = 200, headers: dict[str, str] | None = None) -> None:
        lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
        await self.send(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def json(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        length = {"Content-Type": "application/json", "Content-Length": str(len(body))}
        await self.head(status, {**length, **(headers or {})})
        await self.send(body)

    async def hang(self) -> None:
        await self.stop.wait()


Answer = Callable[[Peer], Awaitable[None]]


class HostileServer:
    def __init__(self, answer: Answer) -> None:
        self.answer = answer
        self.requests: list[Request] = []
        self.bytes_sent = [0]
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.url = ""

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._stop = asyncio.Event()
        server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
        self._ready.set()
        self._loop.run_until_complete(self._stop.wait())
        server.close()
        pending = [t for t in asyncio.all_tasks(self._loop) if not t.done()]
        for task in pending:
            task.cancel()
        self._loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self._loop.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {}
                for header in filter(None, header_lines):
                    name, _, value = header.partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                request = Request(method, target, headers, body)
                self.requests.append(request)
                await self.answer(Peer(request, writer, self._stop, self.bytes_sent))
        writer.close()

    def __enter__(self) -> HostileServer:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)


@contextlib.contextmanager
def hostile(answer: Answer) -> Iterator[HostileServer]:
    with HostileServer(answer) as server:
        yield server
