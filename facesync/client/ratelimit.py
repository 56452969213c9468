"""A token bucket shared by every call of one run, so the whole run stays under the service's rate."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class TokenBucket:
    """At most `rate` acquisitions per second on average, with bursts of up to `burst`.

    The bucket starts with one token, not a full burst: the service counts calls per second, and a
    full initial burst followed by the steady rate would overrun its window.
    """

    def __init__(
        self,
        rate: float,
        burst: float | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock = clock
        self._sleep = sleep
        self._tokens = 1.0
        self._updated = clock()
        self._lock = asyncio.Lock()

    async def acquire(self) -> None:
        async with self._lock:
            slept = 0.0
            while True:
                now = self._clock()
                # Credit at least the time slept: a clock coarser than the wait (a large float, a
                # fake) must not leave the bucket a hair short of a token forever.
                elapsed = max(now - self._updated, slept)
                self._tokens = min(self.burst, self._tokens + elapsed * self.rate)
                self._updated = now
                if self._tokens >= 1.0 - 1e-9:
                    self._tokens -= 1.0
                    return
                slept = (1.0 - self._tokens) / self.rate
                await self._sleep(slept)

    def penalise(self, seconds: float) -> None:
        """The service asked us to wait: drain the bucket so every caller backs off, not just one."""
        self._tokens = min(self._tokens, 1.0 - seconds * self.rate)
