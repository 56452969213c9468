"""Helpers for plan, drift and apply tests: a config workspace and the emulator over real HTTP."""

from __future__ import annotations

import asyncio
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from click.testing import CliRunner, Result

from facesync.cli import main
from tests.imagegen import face_image


@dataclass
class Service:
    """The emulator, its URL and a raw httpx client for out-of-band edits ("someone in the portal")."""

    url: str
    app: Any

    @property
    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"{self.url}/face/v1.0", timeout=10)

    def stats(self) -> dict[str, Any]:
        return httpx.get(f"{self.url}/_emulator/stats").json()

    def managed_writes(self) -> int:
        """Writes to anything but FaceLists: apply's lock is a FaceList of its own, taken and
        released even by a run that is refused once it has planned under it. Tests whose
        configuration declares FaceLists compare live snapshots instead."""
        stats = self.stats()
        lock_writes = sum(
            count
            for op, count in stats["operations"].items()
            if op in ("FaceList_Create", "FaceList_Delete", "FaceList_Update")
        )
        return int(stats["mutating"]) - lock_writes

    def knobs(self, **settings: Any) -> None:
        httpx.patch(f"{self.url}/_emulator/settings", json=settings).raise_for_status()


class Workspace:
    """A directory holding facesync.yaml and its images, where the CLI runs."""

    def __init__(self, root: Path, endpoint: str) -> None:
        self.root = root
        self.endpoint = endpoint

    def image(self, relative: str, seed: int, **kwargs: Any) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fmt = "JPEG" if path.suffix.lower() in (".jpg", ".jpeg") else "PNG"
        path.write_bytes(face_image(seed, fmt=fmt, **kwargs))
        return path

    def config(self, text: str) -> Path:
        path = self.root / "facesync.yaml"
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        runner = CliRunner()
        full_env = {"FACESYNC_ENDPOINT": self.endpoint, "NO_COLOR": "1", **(env or {})}
        return runner.invoke(
            main, [*args, "-f", str(self.root / "facesync.yaml")], env=full_env, catch_exceptions=False
        )

    def plan_json(self, *args: str) -> dict[str, Any]:
        result = self.run("plan", "--format", "json", "--rate-limit", "0", *args)
        assert result.exit_code in (0, 2, 3), result.output + result.stderr
        return json.loads(result.stdout)


STAFF_CONFIG = """
version: 1
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  staff:
    name: Staff
    userData: '{"owner": "facilities"}'
    persons:
      Alice Smith:
        userData: '{"employeeId": 1001}'
        faces: [images/alice/*.png]
      Bob Jones:
        faces:
          - image: images/bob/badge.jpg
            userData: badge photo
largePersonGroups:
  visitors:
    name: Visitors
    persons:
      V-0001: {faces: [images/visitors/v1.png]}
faceLists:
  vip:
    name: VIP
    faces:
      - image: images/vip/ambassador.png
        userData: ambassador
largeFaceLists:
  lookalikes:
    name: Lookalikes
    faces: [images/lookalikes]
"""


def write_staff(ws: Workspace) -> None:
    ws.image("images/alice/1.png", 1)
    ws.image("images/alice/2.png", 2)
    ws.image("images/bob/badge.jpg", 3)
    ws.image("images/visitors/v1.png", 4)
    ws.image("images/vip/ambassador.png", 5)
    ws.image("images/lookalikes/a.png", 6)
    ws.image("images/lookalikes/b.png", 7)
    ws.config(STAFF_CONFIG)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
