"""Shared pytest configuration."""

from __future__ import annotations

import pytest

from facesync.cli.options import RETRY_DELAY_VARIABLE


@pytest.fixture(autouse=True)
def short_retry_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands back off for milliseconds, not seconds, between retries of 5xx and faults: what is
    tested is that they retry and converge, not how long they wait (tests of the waits themselves
    pass their own policy or clock). The CLI turns the variable into `SyncOptions.retry`; library
    tests pass a `RetryPolicy` themselves."""
    monkeypatch.setenv(RETRY_DELAY_VARIABLE, "0.01")
