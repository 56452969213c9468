"""Fixtures for `facesync test` and `facesync audit`: a workspace and a deterministic emulator."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.checks.checks_helpers import Checks
from tests.sync.sync_helpers import Service


@pytest.fixture
def service() -> Iterator[Service]:
    app = create_app(EmulatorSettings(train_seconds=0.05, seed=7), recognition="deterministic")
    with serve(app) as url:
        yield Service(url, app)
    app.state.emulator.close()


@pytest.fixture
def ws(tmp_path: Path, service: Service, monkeypatch: pytest.MonkeyPatch) -> Checks:
    monkeypatch.chdir(tmp_path)
    return Checks(tmp_path, service.url)
