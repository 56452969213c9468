"""A family's directory config (deterministic identities), run through the CLI, and raw reads of
the emulator's directory to check what apply did."""

from __future__ import annotations

from typing import Any

import httpx
from click.testing import CliRunner, Result

from facesync.cli import main
from tests.sync.sync_helpers import Service, Workspace

PREVIEW = "v1.2-preview.1"

FAMILY = """
version: 1
service: {apiVersion: v1.2-preview.1}
defaults: {detectionModel: detection_03}
personDirectory:
  recognitionModels: [recognition_03]
  persons:
    Dad: {userData: '{"role": "parent"}', faces: [images/dad/1.png, images/dad/2.png]}
    Mum: {faces: [images/mum/1.png]}
    Kid: {faces: [images/kid/1.png]}
dynamicPersonGroups:
  parents:
    name: Parents
    members: [Dad, Mum]
"""


def directory_api(service: Service) -> httpx.Client:
    return httpx.Client(base_url=f"{service.url}/face/{PREVIEW}", timeout=10)


class Family(Workspace):
    def write(self, text: str = FAMILY) -> None:
        self.image("images/dad/1.png", 1, identity="dad")
        self.image("images/dad/2.png", 2, identity="dad")
        self.image("images/mum/1.png", 3, identity="mum")
        self.image("images/kid/1.png", 4, identity="kid")
        self.image("probes/dad-door.png", 11, identity="dad")
        self.image("probes/kid-door.png", 12, identity="kid")
        self.config(text)

    def apply(self, *args: str) -> None:
        result = self.run("apply", "--auto-approve", "--rate-limit", "0", *args)
        assert result.exit_code == 0, result.output + result.stderr

    def cli(self, *args: str) -> Result:
        """A command as typed, without the workspace's `-f`."""
        env = {"FACESYNC_ENDPOINT": self.endpoint, "NO_COLOR": "1"}
        return CliRunner().invoke(main, list(args), env=env, catch_exceptions=False)


def snapshot(service: Service) -> dict[str, Any]:
    """name → {userData, faces per model: sorted fingerprints}; group → sorted member names."""
    api = directory_api(service)
    persons = api.get("/persons").json()
    names = {p["personId"]: p["name"] for p in persons}
    directory: dict[str, Any] = {}
    for p in persons:
        faces: dict[str, list[str]] = {}
        for model in ("recognition_02", "recognition_03", "recognition_04"):
            ids = api.get(f"/persons/{p['personId']}/recognitionModels/{model}/persistedfaces").json()
            prints = [
                api.get(f"/persons/{p['personId']}/recognitionModels/{model}/persistedfaces/{fid}")
                .json()
                .get("userData", "")[:16]
                for fid in ids["persistedFaceIds"]
            ]
            if prints:
                faces[model] = sorted(prints)
        directory.setdefault(p["name"], []).append({"userData": p.get("userData"), "faces": faces})
    groups = {
        g["dynamicPersonGroupId"]: sorted(
            names.get(pid, pid)
            for pid in api.get(f"/dynamicpersongroups/{g['dynamicPersonGroupId']}/persons").json()[
                "personIds"
            ]
        )
        for g in api.get("/dynamicpersongroups").json()
    }
    return {"directory": directory, "groups": groups}
