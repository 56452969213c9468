"""Helpers for identity tests: what the service holds for a person, and which writes a run made."""

from __future__ import annotations

import json
from typing import Any

from click.testing import Result

from tests.importing import import_helpers


class Service(import_helpers.Service):
    def person(self, group: str, name: str, segment: str = "persongroups") -> dict[str, Any]:
        """The one live person of that name (its personId and persistedFaceIds)."""
        (found,) = [p for p in self.api.get(f"/{segment}/{group}/persons").json() if p["name"] == name]
        return dict(found)

    def names(self, group: str, segment: str = "persongroups") -> list[str]:
        return sorted(p["name"] for p in self.api.get(f"/{segment}/{group}/persons").json())

    def operations(self) -> dict[str, int]:
        return dict(self.stats()["operations"])

    def writes_since(self, before: dict[str, int]) -> dict[str, int]:
        """Write operations made since `before`, without apply's lock (a FaceList of its own)."""
        after = self.operations()
        return {
            op: after[op] - before.get(op, 0)
            for op in sorted(after)
            if after[op] != before.get(op, 0)
            and not op.startswith("FaceList")
            and not any(read in op for read in ("_Get", "_List"))
        }


class Workspace(import_helpers.Workspace):
    """The CLI runs in this folder, so `-f facesync.yaml` is the default config."""

    def cli(self, *args: str) -> Result:
        return (
            self.run(*args[:1], "--rate-limit", "0", *args[1:]) if args[0] != "validate" else self.run(*args)
        )

    def plan_json(self, *args: str) -> tuple[int, dict[str, Any]]:
        result = self.cli("plan", "--format", "json", *args)
        return result.exit_code, json.loads(result.stdout)

    def applied(self) -> None:
        result = self.cli("apply", "--auto-approve")
        assert result.exit_code == 0, result.output + result.stderr
