"""Fixtures for the PersonDirectory and DynamicPersonGroup tests: config workspaces and an
emulator over real HTTP (deterministic recognition, short directory operations)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.config.conftest import write_config
from tests.directory.helpers import Family
from tests.sync.sync_helpers import Service

__all__ = ["write_config"]


@pytest.fixture
def service() -> Iterator[Service]:
    app = create_app(EmulatorSettings(operation_seconds=0.05, seed=7), recognition="deterministic")
    with serve(app) as url:
        yield Service(url, app)
    app.state.emulator.close()


@pytest.fixture
def family(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> Family:
    monkeypatch.chdir(tmp_path)
    return Family(tmp_path, service.url)
