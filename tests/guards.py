"""A guard for tests of input that could make facesync hang: a regression fails the test instead
of blocking the suite. Not a timing claim: the bound is far above any honest run."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def without_hanging(run: Callable[[], T], seconds: float, what: str) -> T:
    """`run()`'s result; fails with `what` ("validate did not return…") if it takes `seconds`."""
    box: list[T] = []
    worker = threading.Thread(target=lambda: box.append(run()), daemon=True)
    worker.start()
    worker.join(seconds)
    assert box, what
    return box[0]
