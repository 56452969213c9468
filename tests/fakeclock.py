"""A clock for tests: time passes only when something sleeps on it, never with the machine's speed."""

from __future__ import annotations

import asyncio


class FakeClock:
    """Shared by the emulator (`create_app(clock=...)`) and the client (`clock=`, `sleep=`)."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def sleep(self, seconds: float) -> None:
        self.now += max(0.0, seconds)
        await asyncio.sleep(0)  # let the other tasks run, as a real sleep would
