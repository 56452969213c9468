"""The knobs a real service does not have: rate limit and faults (auth is in `auth`)."""

from __future__ import annotations

import math
import random
import threading
import time

FAULTS = (
    (500, "InternalServerError", "An internal server error occurred. Please try again later."),
    (503, "ServiceUnavailable", "The service is temporarily unavailable. Please try again later."),
)
LOST_RESPONSE = FAULTS[0]


class TokenBucket:
    """`rate` tokens per second, burst max(1, rate); thread-safe."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rate: float | None = None
        self.tokens = 0.0
        self.stamp = 0.0

    def take(self, rate: float | None, now: float | None = None) -> int:
        """0 when a token was taken; else the whole seconds (>= 1) to wait."""
        if rate is None:
            self.rate = None
            return 0
        now = time.monotonic() if now is None else now
        burst = max(1.0, rate)
        with self.lock:
            if self.rate != rate:
                self.rate, self.tokens, self.stamp = rate, burst, now
            self.tokens = min(burst, self.tokens + (now - self.stamp) * rate)
            self.stamp = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0
            return max(1, math.ceil((1 - self.tokens) / rate))


class FaultRng:
    """A seeded RNG shared by the fault and lost-response knobs."""

    def __init__(self, seed: int | None) -> None:
        self.lock = threading.Lock()
        self.reseed(seed)

    def reseed(self, seed: int | None) -> None:
        self.seed = seed
        self.rng = random.Random(seed)

    def fault(self, rate: float) -> tuple[int, str, str] | None:
        if rate <= 0:
            return None
        with self.lock:
            if self.rng.random() >= rate:
                return None
            return FAULTS[self.rng.randrange(2)]

    def lost(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.rng.random() < rate
