"""Regions for environment tests: emulators over real HTTP, each with its own key, recording the
key every request carried (to prove a key never reaches another environment's endpoint)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.sync.sync_helpers import STAFF_CONFIG, Workspace, write_staff
from tests.sync.test_apply import live_snapshot

KEY_HEADER = "ocp-apim-subscription-key"


class _RecordKeys:
    """ASGI middleware: remembers the key header of every request."""

    def __init__(self, app: Any, seen: list[str | None]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/_emulator"):
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            self.seen.append(headers.get(KEY_HEADER))
        await self.app(scope, receive, send)


@dataclass
class Region:
    name: str
    url: str
    key: str | None
    app: Any
    keys_seen: list[str | None] = field(default_factory=list)

    @property
    def api(self) -> httpx.Client:
        headers = {KEY_HEADER: self.key} if self.key else {}
        return httpx.Client(base_url=f"{self.url}/face/v1.0", timeout=10, headers=headers)

    @contextmanager
    def calm(self) -> Iterator[httpx.Client]:
        """The API with the region's faults and rate limit off: the test's own calls ("someone in
        the portal") must not fail."""
        knobs = {k: v for k, v in self.settings().items() if k in ("fault_rate", "rate_limit")}
        self.knobs(fault_rate=0, rate_limit=None)
        try:
            yield self.api
        finally:
            self.knobs(**knobs)

    def snapshot(self) -> dict[str, Any]:
        with self.calm():
            return live_snapshot(self)  # type: ignore[arg-type]

    @property
    def _headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.key} if self.key else {}

    def settings(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_emulator/settings", headers=self._headers).json()

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_emulator/stats", headers=self._headers).json()

    def knobs(self, **settings: Any) -> None:
        response = httpx.patch(f"{self.url}/_emulator/settings", json=settings, headers=self._headers)
        response.raise_for_status()


@contextmanager
def regions(*specs: tuple[str, dict[str, Any]]) -> Iterator[dict[str, Region]]:
    """One emulator per (name, EmulatorSettings fields), each on its own port."""
    with ExitStack() as stack:
        out: dict[str, Region] = {}
        for name, settings in specs:
            app = create_app(EmulatorSettings(train_seconds=0.05, seed=7, **settings))
            seen: list[str | None] = []
            app.add_middleware(_RecordKeys, seen=seen)
            url = stack.enter_context(serve(app))
            stack.callback(app.state.emulator.close)
            out[name] = Region(name, url, settings.get("key"), app, seen)
        yield out


def env_config(ws: Workspace, environments: str, extra: str = "") -> None:
    """The staff configuration of the sync tests with an `environments:` block."""
    write_staff(ws)
    ws.config(STAFF_CONFIG + extra + "environments:\n" + environments)


def show(path: Path, *args: str) -> Result:
    """`facesync show` (which takes no -f)."""
    return CliRunner().invoke(main, ["show", str(path), *args], env={"NO_COLOR": "1"}, catch_exceptions=False)


def plan_doc(result: Result) -> dict[str, Any]:
    assert result.exit_code in (0, 2, 3), result.output + result.stderr
    return json.loads(result.stdout)
