"""Fixtures for identity: a workspace and the emulator over real HTTP, shared and emptied per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.identity.identity_helpers import Service, Workspace


@pytest.fixture(scope="session")
def served() -> Iterator[Service]:
    app = create_app(EmulatorSettings(train_seconds=0.05, seed=7))
    with serve(app) as url:
        yield Service(url, app)
    app.state.emulator.close()


@pytest.fixture
def service(served: Service) -> Service:
    served.app.state.emulator.reset()
    return served


@pytest.fixture
def workspace(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    return Workspace(tmp_path, service.url)
