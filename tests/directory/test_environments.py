"""The directory in a configuration with `environments:`: each environment plans and applies it on
its own resource, an environment's recognitionModel is the directory's one model there, and an
environment on an API version without the directory is refused before anything is sent."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.directory.helpers import FAMILY, PREVIEW, Family


@pytest.fixture
def regions() -> Iterator[dict[str, str]]:
    with ExitStack() as stack:
        urls = {}
        for name in ("home", "cabin"):
            app = create_app(EmulatorSettings(operation_seconds=0.05), recognition="deterministic")
            stack.callback(app.state.emulator.close)
            urls[name] = stack.enter_context(serve(app))
        yield urls


def _run(root: Path, *args: str) -> Result:
    env = {"NO_COLOR": "1", "FACESYNC_ENDPOINT": "", "FACESYNC_KEY": ""}
    return CliRunner().invoke(
        main, [*args, "--rate-limit", "0", "-f", str(root / "facesync.yaml")], env=env, catch_exceptions=False
    )


def _config(regions: dict[str, str], cabin: str = "recognitionModel: recognition_04") -> str:
    return FAMILY + (
        "environments:\n"
        f"  home: {{endpoint: {regions['home']}}}\n"
        f"  cabin: {{endpoint: {regions['cabin']}, {cabin}}}\n"
    )


def _models(url: str) -> set[str]:
    api = httpx.Client(base_url=f"{url}/face/{PREVIEW}", timeout=10)
    found = set()
    for person in api.get("/persons").json():
        for model in ("recognition_03", "recognition_04"):
            path = f"/persons/{person['personId']}/recognitionModels/{model}/persistedfaces"
            if api.get(path).json()["persistedFaceIds"]:
                found.add(model)
    return found


def test_each_environment_holds_the_directory_with_its_own_model(
    tmp_path: Path, regions: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    family = Family(tmp_path, "")
    family.write(_config(regions))
    applied = _run(tmp_path, "apply", "--all-envs", "--auto-approve")
    assert applied.exit_code == 0, applied.output + applied.stderr
    assert _models(regions["home"]) == {"recognition_03"}
    assert _models(regions["cabin"]) == {"recognition_04"}
    again = _run(tmp_path, "plan", "--all-envs", "--detailed-exitcode")
    assert again.exit_code == 0, again.output + again.stderr
    # Each environment keeps its own journal of running operations (none left here).
    for name in ("home", "cabin"):
        journal = tmp_path / ".facesync" / "environments" / name / "pending-operations.json"
        assert not journal.exists() or all(not v for v in json.loads(journal.read_text()).values())


def test_an_environment_on_a_version_without_the_directory_is_refused(
    tmp_path: Path, regions: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    family = Family(tmp_path, "")
    family.write(_config(regions, cabin="apiVersion: v1.2"))
    result = _run(tmp_path, "plan", "--env", "cabin")
    assert result.exit_code == 1
    assert (
        "environment 'cabin': API v1.2 has no PersonDirectory, which the configuration declares: set "
        "this environment's apiVersion to v1.2-preview.1" in result.stderr
    )
    assert httpx.get(f"{regions['cabin']}/_emulator/stats").json()["total"] == 0
