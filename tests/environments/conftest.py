"""Fixtures for environments: three regions (prod, a DR copy with faults and a low rate limit,
staging), each an emulator with its own key, and a workspace whose config names them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.environments.helpers import Region, regions
from tests.sync.sync_helpers import Workspace


@pytest.fixture
def fleet() -> Iterator[dict[str, Region]]:
    with regions(
        ("prod", {"key": "prod-secret-1"}),
        # Faults, and a rate limit lower than the others' (none) yet high enough that pacing
        # does not dominate the test's time.
        ("dr", {"key": "dr-secret-2", "rate_limit": 100.0, "fault_rate": 0.15}),
        ("staging", {"key": "staging-secret-3"}),
    ) as found:
        yield found


@pytest.fixture
def keys(fleet: dict[str, Region]) -> dict[str, str]:
    """The process environment a CI job would have: each region's endpoint and key variable."""
    out: dict[str, str] = {}
    for name, region in fleet.items():
        out[f"{name.upper()}_FACE_ENDPOINT"] = region.url
        out[f"{name.upper()}_FACE_KEY"] = region.key or ""
    return out


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, keys: dict[str, str]) -> Workspace:
    monkeypatch.chdir(tmp_path)
    for name, value in keys.items():
        monkeypatch.setenv(name, value)
    # Any generic key in the environment must never be sent to an environment's endpoint.
    monkeypatch.setenv("FACESYNC_KEY", "generic-secret-0")
    return Workspace(tmp_path, "http://127.0.0.1:9")


THREE = """\
  prod:    {endpoint: "${PROD_FACE_ENDPOINT}", keyEnv: PROD_FACE_KEY, rateLimit: 0}
  dr:      {endpoint: "${DR_FACE_ENDPOINT}", keyEnv: DR_FACE_KEY, rateLimit: 50}
  staging: {endpoint: "${STAGING_FACE_ENDPOINT}", keyEnv: STAGING_FACE_KEY, rateLimit: 0}
"""
