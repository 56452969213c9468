"""Fixtures of the emulator conformance suite (official examples, recorded traffic, e2e)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from facesync.emulator.testing import FakeClock
from tests.emulator_conformance.conformance_harness import ImageServer, make_client


@pytest.fixture
def clock() -> FakeClock:
    """The emulator's time: training advances only when a test moves this clock."""
    return FakeClock()


@pytest.fixture
def client(clock: FakeClock) -> Iterator[Any]:
    """An in-process client (TestClient) of a fresh emulator on `clock`, with no key."""
    with make_client(clock) as test_client:
        yield test_client
        test_client.app.state.emulator.close()


@pytest.fixture(scope="session")
def image_server() -> Iterator[ImageServer]:
    """A local HTTP server on 127.0.0.1 serving generated images (for add-face-from-URL)."""
    server = ImageServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
