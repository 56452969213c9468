"""Issue 9.6: bad endpoints, odd responses and unwritable plan files are one `Error:` line, exit 1."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import Result
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from facesync.emulator.testing import serve
from tests.sync.sync_helpers import Workspace, write_staff


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output + result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    errors = [line for line in lines if line.startswith("Error: ")]
    assert len(errors) == 1, result.stderr
    return errors[0]


@pytest.mark.parametrize(
    ("endpoint", "expected"),
    [
        ("http://127.0.0.1:99999", "Port out of range"),
        ("http://[::1", "Invalid IPv6 URL"),
        ("local:/proc/nonexistent/x.sqlite", "cannot open the emulator's data file"),
    ],
)
@pytest.mark.parametrize("command", ["plan", "drift", "apply"])
def test_a_bad_endpoint_is_one_line(workspace: Workspace, endpoint: str, expected: str, command: str):
    write_staff(workspace)
    args = [command, "--endpoint", endpoint] + (["--auto-approve"] if command == "apply" else [])
    assert expected in one_error_line(workspace.run(*args))


def test_plan_out_to_an_unwritable_file_is_one_line(workspace: Workspace):
    write_staff(workspace)
    line = one_error_line(workspace.run("plan", "--rate-limit", "0", "--out", "/dev/full"))
    assert "cannot write the plan file /dev/full" in line
    line = one_error_line(workspace.run("plan", "--rate-limit", "0", "--out", "/proc/nonexistent/dir/p.json"))
    assert "cannot write the plan file /proc/nonexistent/dir/p.json" in line


def test_plan_out_into_a_missing_folder_creates_it(workspace: Workspace):
    write_staff(workspace)
    result = workspace.run("plan", "--rate-limit", "0", "--out", "new/folder/plan.json")
    assert result.exit_code == 0, result.stderr
    assert json.loads((workspace.root / "new/folder/plan.json").read_text())["checksum"]


# -- an endpoint that answers, but not like a Face API -------------------------------------------

ODD: dict[str, Response] = {}


async def _odd(request: Request) -> Response:
    return ODD["response"]


@pytest.fixture(scope="module")
def odd_url() -> Iterator[str]:
    app = Starlette(routes=[Route("/{path:path}", _odd, methods=["GET", "PUT", "POST", "PATCH", "DELETE"])])
    with serve(app) as url:
        yield url


def _pg_list(body: object) -> Response:
    return JSONResponse(body)


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (Response("<html>Sign in</html>", media_type="text/html"), "expected JSON, got HTTP 200 text/html"),
        (Response(status_code=307), "HTTP 307 redirect to nowhere"),
        (
            Response(status_code=307, headers={"location": "https://login.example/"}),
            "HTTP 307 redirect to https://login.example/",
        ),
        (JSONResponse([{"foo": 1}]), "item 0 is an object, not an object with a string"),
        (JSONResponse([1, 2]), "item 0 is int 1"),
        (JSONResponse({}), "expected a JSON list, got an empty object {}"),
        (
            JSONResponse(
                [
                    {"personGroupId": "staff", "largePersonGroupId": "staff", "faceListId": "staff",
                     "largeFaceListId": "staff", "name": None}
                ]
            ),
            "unexpected response shape: name",
        ),
        (Response(b"not json", media_type="application/json"), "the body is not valid JSON"),
    ],
    ids=["html", "empty-307", "307", "wrong-objects", "numbers", "empty-object", "null-name", "bad-json"],
)
def test_an_odd_response_is_an_error_never_an_empty_resource(
    tmp_path: Path, odd_url: str, response: Response, expected: str, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, odd_url)
    write_staff(ws)
    ODD["response"] = response
    for command in ("plan", "drift"):
        line = one_error_line(ws.run(command, "--rate-limit", "0"))
        assert expected in line and ".List (GET /" in line, line


def test_a_key_the_in_process_emulator_refuses_is_one_line_without_the_key(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from facesync.cli import main

    (tmp_path / "facesync.yaml").write_text('version: 1\nservice: {endpoint: "local:e.sqlite"}\n')
    key = "k" * 20_000
    env = {"FACESYNC_KEY": key, "FACESYNC_ENDPOINT": ""}
    result = CliRunner().invoke(main, ["plan", "-f", str(tmp_path / "facesync.yaml")], env=env)
    line = one_error_line(result)
    assert "refuses this key" in line and key[:100] not in result.stderr + result.stdout
