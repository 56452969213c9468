"""Helpers for import tests: a workspace, the emulator, and an SDK-style state builder.

The builder does what teams' own scripts do with the SDK: plain REST calls, no fingerprints in
face userData, training at the end; concurrently and in-process, so 1,000+ persons take under a second.
"""

from __future__ import annotations

import asyncio
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.emulator.testing import asgi_client
from tests.imagegen import face_image
from tests.sync import sync_helpers

OCTET = {"Content-Type": "application/octet-stream"}


class Service(sync_helpers.Service):
    def mutating(self) -> int:
        return int(self.stats()["mutating"])


class Workspace(sync_helpers.Workspace):
    """A directory where the CLI runs; each command names its config (import writes several)."""

    def config(self, text: str, name: str = "facesync.yaml") -> Path:
        path = self.root / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        full_env = {"FACESYNC_ENDPOINT": self.endpoint, "NO_COLOR": "1", **(env or {})}
        return CliRunner().invoke(main, list(args), env=full_env, catch_exceptions=False)

    def import_(self, *args: str) -> Result:
        return self.run("import", "--rate-limit", "0", *args)

    def plan(self, config: Path | str, *args: str) -> Result:
        return self.run("plan", "-f", str(config), "--rate-limit", "0", "--detailed-exitcode", *args)


@dataclass
class SdkScript:
    """State built the way an SDK script builds it; remembers what it wrote."""

    api: httpx.AsyncClient
    limit: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(16))
    images: dict[int, bytes] = field(default_factory=dict)

    async def call(self, method: str, path: str, **kwargs: Any) -> Any:
        async with self.limit:
            response = await self.api.request(method, path, **kwargs)
        response.raise_for_status()
        return response.json() if response.content else None

    def image(self, seed: int) -> bytes:
        if seed not in self.images:
            self.images[seed] = face_image(seed)
        return self.images[seed]

    async def collection(
        self, segment: str, cid: str, name: str, user_data: str | None, model: str = "recognition_04"
    ) -> None:
        body = {"name": name, "recognitionModel": model}
        if user_data is not None:
            body["userData"] = user_data
        await self.call("PUT", f"/{segment}/{cid}", json=body)

    async def person(
        self,
        segment: str,
        cid: str,
        name: str,
        user_data: str | None = None,
        faces: list[tuple[int, str | None]] = (),
    ) -> str:
        body = {"name": name} | ({"userData": user_data} if user_data is not None else {})
        pid = (await self.call("POST", f"/{segment}/{cid}/persons", json=body))["personId"]
        for seed, note in faces:
            await self.face(f"/{segment}/{cid}/persons/{pid}/persistedfaces", seed, note)
        return str(pid)

    async def face(self, path: str, seed: int, note: str | None = None, model: str | None = None) -> str:
        params = {"userData": note} if note is not None else {}
        if model:
            params["detectionModel"] = model
        added = await self.call("POST", path, content=self.image(seed), params=params, headers=OCTET)
        return str(added["persistedFaceId"])

    async def train(self, segment: str, cid: str) -> None:
        await self.call("POST", f"/{segment}/{cid}/train")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            status = await self.call("GET", f"/{segment}/{cid}/training")
            if status["status"].lower() == "succeeded":
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{segment}/{cid} did not finish training")


async def _sdk_script(app: Any, build: Any) -> Any:
    # In-process, through the same app the CLI reaches over HTTP: six times faster to build.
    async with asgi_client(app) as api:
        api.base_url = httpx.URL("http://emulator.local/face/v1.0")
        return await build(SdkScript(api))


def run_sdk(service: Service, build: Any) -> Any:
    """Run `build(sdk)` against the service's emulator, as a script with the SDK would."""
    return asyncio.run(_sdk_script(service.app, build))
