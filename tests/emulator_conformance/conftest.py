"""Fixtures of the emulator conformance suite (official examples, recorded traffic, e2e)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[1]))  # tests/ (imagegen)
sys.path.insert(0, str(Path(__file__).parent))  # this folder (conformance_harness)

from conformance_harness import ImageServer


@pytest.fixture(scope="session")
def image_server():
    """A local HTTP server on 127.0.0.1 serving generated images (for add-face-from-URL)."""
    server = ImageServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
