"""Shared pytest configuration."""

from __future__ import annotations

import pytest

from facesync.client import RetryPolicy
from facesync.client import client as client_module


@pytest.fixture(autouse=True)
def short_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands run in-process back off for milliseconds, not seconds, between retries of 5xx and
    faults: what is tested is that they retry and converge, not how long they wait (tests of the
    waits themselves pass their own policy or clock)."""
    monkeypatch.setattr(
        client_module, "DEFAULT_RETRY", RetryPolicy(base_delay=0.01, max_delay=0.05, connect_timeout=3.5)
    )
