"""Fixtures of the emulator conformance suite (official examples, recorded traffic, e2e)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from facesync.emulator.testing import FakeClock
from tests.emulator_conformance.conformance_harness import ImageServer


@pytest.fixture
def clock() -> FakeClock:
    """The emulator's time: training advances only when a test moves this clock."""
    return FakeClock()


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    """A local HTTP server on 127.0.0.1 serving generated images (for add-face-from-URL)."""
    server = ImageServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
