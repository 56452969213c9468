"""`${VAR}` is expanded only in endpoints, when a connection is built (issue 17.2, issue 20.5).

Anyone who can open a pull request writes the configuration; the PR workflow runs with the Face
key and posts the plan. A `${FACESYNC_KEY}` in a userData must therefore stay text everywhere:
plan text, markdown, JSON, the step summary, the service.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import serve
from tests.sync.sync_helpers import Service, Workspace

KEY = "fs-key-4f1c0ffee"
TOKEN = "ghp_token_9b7e"


class RecordRequests:
    """ASGI middleware: every request's path, query string and body, as the emulator received them
    (the key header aside: sending the key there is its job)."""

    def __init__(self, app: Any, seen: list[bytes]) -> None:
        self.app = app
        self.seen = seen

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.seen.append(scope["path"].encode() + b"?" + scope.get("query_string", b""))

        async def recording_receive() -> Any:
            message = await receive()
            if message.get("type") == "http.request":
                self.seen.append(message.get("body", b""))
            return message

        await self.app(scope, recording_receive, send)


@pytest.fixture
def received() -> list[bytes]:
    return []


@pytest.fixture
def recording_service(received: list[bytes]) -> Iterator[Service]:
    app = create_app(EmulatorSettings(train_seconds=0.05, seed=7, key=KEY))
    app.add_middleware(RecordRequests, seen=received)
    with serve(app) as url:
        yield Service(url, app)
    app.state.emulator.close()


@pytest.fixture
def ws(tmp_path: Path, recording_service: Service, monkeypatch: pytest.MonkeyPatch) -> Workspace:
    monkeypatch.chdir(tmp_path)
    return Workspace(tmp_path, recording_service.url)


LEAKY = """
version: 1
personGroups:
  staff:
    name: Staff ${GITHUB_TOKEN}
    userData: 'k=${FACESYNC_KEY}'
    persons:
      Alice:
        userData: 'home=${HOME:-none}'
        faces:
          - image: images/alice.png
            userData: 'note ${FACESYNC_KEY}'
"""


def test_a_variable_outside_an_endpoint_is_text_everywhere(
    ws: Workspace, received: list[bytes], tmp_path: Path
) -> None:
    ws.image("images/alice.png", 1)
    ws.config(LEAKY)
    summary = tmp_path / "step-summary.md"
    env = {"FACESYNC_KEY": KEY, "GITHUB_TOKEN": TOKEN, "GITHUB_STEP_SUMMARY": str(summary)}

    validated = ws.run("validate", env=env)
    assert validated.exit_code == 0, validated.output
    assert validated.output.splitlines()[:4] == [
        "facesync.yaml:4:11: warning: '${GITHUB_TOKEN}' is not expanded: facesync expands variables "
        "only in endpoints, so this text is sent as written",
        "facesync.yaml:5:15: warning: '${FACESYNC_KEY}' is not expanded: facesync expands variables "
        "only in endpoints, so this text is sent as written",
        "facesync.yaml:8:19: warning: '${HOME:-none}' is not expanded: facesync expands variables "
        "only in endpoints, so this text is sent as written",
        "facesync.yaml:11:23: warning: '${FACESYNC_KEY}' is not expanded: facesync expands variables "
        "only in endpoints, so this text is sent as written",
    ]

    outputs: list[str] = []
    for fmt in ("text", "markdown", "json"):
        plan = ws.run("plan", "--format", fmt, "--rate-limit", "0", "--out", f"plan-{fmt}.json", env=env)
        assert plan.exit_code == 0, plan.output + plan.stderr
        outputs += [plan.stdout, plan.stderr, (tmp_path / f"plan-{fmt}.json").read_text()]
    assert "k=${FACESYNC_KEY}" in outputs[0]  # the text the reviewer sees is what will be sent
    applied = ws.run("apply", "--auto-approve", "--rate-limit", "0", env=env)
    assert applied.exit_code == 0, applied.output + applied.stderr
    outputs += [applied.stdout, applied.stderr, summary.read_text()]

    home = str(Path.home())
    for text in outputs:
        assert KEY not in text and TOKEN not in text
    sent = b"\n".join(received)
    assert KEY.encode() not in sent and TOKEN.encode() not in sent and home.encode() not in sent
    group = ws_get(ws, "/persongroups/staff")
    assert (group["name"], group["userData"]) == ("Staff ${GITHUB_TOKEN}", "k=${FACESYNC_KEY}")
    assert ws.run("plan", "--detailed-exitcode", "--rate-limit", "0", env=env).exit_code == 0


def ws_get(ws: Workspace, path: str) -> Any:
    import httpx

    response = httpx.get(f"{ws.endpoint}/face/v1.0{path}", headers={"Ocp-Apim-Subscription-Key": KEY})
    response.raise_for_status()
    return response.json()


ENDPOINT_CONFIG = """
version: 1
service:
  endpoint: ${FS_TEST_ENDPOINT}
faceLists:
  vip: {name: VIP}
"""


def test_the_service_endpoint_is_expanded_when_the_connection_is_built(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    ws.config(ENDPOINT_CONFIG)
    monkeypatch.delenv("FS_TEST_ENDPOINT", raising=False)
    no_endpoint_env = {"FACESYNC_ENDPOINT": "", "FACESYNC_KEY": KEY}
    assert ws.run("validate", env=no_endpoint_env).exit_code == 0  # nothing to connect to: no variable needed

    unset = ws.run("plan", env=no_endpoint_env)
    assert unset.exit_code == 1
    assert unset.stderr.splitlines()[0] == (
        "facesync.yaml:3:13: error: service.endpoint: environment variable 'FS_TEST_ENDPOINT' is not set "
        "(write ${FS_TEST_ENDPOINT:-default} to give a default)"
    )
    # The --endpoint flag (or FACESYNC_ENDPOINT) wins: the config's variable is not needed then.
    flagged = ws.run("plan", "--endpoint", ws.endpoint, "--rate-limit", "0", env=no_endpoint_env)
    assert flagged.exit_code == 0, flagged.output + flagged.stderr
    expanded = ws.run("plan", "--rate-limit", "0", env={**no_endpoint_env, "FS_TEST_ENDPOINT": ws.endpoint})
    assert expanded.exit_code == 0, expanded.output + expanded.stderr
    assert "1 to create" in expanded.stdout


def test_an_endpoint_may_not_read_a_key_variable(ws: Workspace, received: list[bytes]) -> None:
    ws.config(ENDPOINT_CONFIG.replace("${FS_TEST_ENDPOINT}", "http://127.0.0.1:9/${FACESYNC_KEY}"))
    result = ws.run("plan", env={"FACESYNC_ENDPOINT": "", "FACESYNC_KEY": KEY})
    assert result.exit_code == 1
    assert (
        "facesync.yaml:3:13: error: service.endpoint: the endpoint may not use ${FACESYNC_KEY}"
        in result.stderr
    )
    assert KEY not in result.output + result.stderr


@pytest.mark.parametrize(
    ("key", "what"),
    [
        (KEY + "\n", "a line break"),
        ("clé-" + KEY, "a non-ASCII character"),
        (KEY[:5] + " " + KEY[5:], "a space or tab"),
    ],
)
def test_a_key_no_header_can_carry_is_refused_before_any_call(
    ws: Workspace, received: list[bytes], key: str, what: str
) -> None:
    ws.config("version: 1\nfaceLists:\n  vip: {name: VIP}\n")
    result = ws.run("plan", env={"FACESYNC_KEY": key})
    assert result.exit_code == 1
    assert result.stderr == (
        f"Error: FACESYNC_KEY holds {what}, which no Face key has and no HTTP header can carry (check "
        "how the secret was set); nothing was sent\n"
    )
    assert KEY[5:] not in result.output + result.stderr
    assert received == []


def test_an_environment_key_no_header_can_carry_names_its_variable(
    ws: Workspace, received: list[bytes]
) -> None:
    ws.config(
        "version: 1\nfaceLists:\n  vip: {name: VIP}\nenvironments:\n"
        "  prod: {endpoint: '${PROD_EP}', keyEnv: PROD_FACE_KEY}\n"
    )
    env = {"PROD_EP": ws.endpoint, "PROD_FACE_KEY": "ключ" + KEY}
    result = ws.run("plan", "--env", "prod", env=env)
    assert result.exit_code == 1
    assert "PROD_FACE_KEY (the key of environment 'prod') holds a non-ASCII character" in result.stderr
    assert KEY not in result.output + result.stderr
    assert received == []


def test_json_plan_keeps_the_literal_text(ws: Workspace) -> None:
    ws.config(
        "version: 1\nfaceLists:\n  vip: {name: VIP, userData: 'price: $${AMOUNT} and ${FACESYNC_KEY}'}\n"
    )
    plan = ws.run("plan", "--format", "json", "--rate-limit", "0", env={"FACESYNC_KEY": KEY})
    assert plan.exit_code == 0, plan.stderr
    doc = json.loads(plan.stdout)
    (change,) = doc["changes"]
    assert change["after"]["userData"] == "price: $${AMOUNT} and ${FACESYNC_KEY}"


@pytest.mark.parametrize("endpoint", ['"local:a\\0b.sqlite"', '"${FS_TEST_ENDPOINT}"'])
def test_an_endpoint_with_a_control_character_is_one_error(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch, endpoint: str
) -> None:
    monkeypatch.setenv("FS_TEST_ENDPOINT", "http://127.0.0.1:9/\nHost: elsewhere")
    ws.config(ENDPOINT_CONFIG.replace("${FS_TEST_ENDPOINT}", endpoint))
    result = ws.run("plan", env={"FACESYNC_ENDPOINT": "", "FACESYNC_KEY": KEY})
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0] == (
        "facesync.yaml:3:13: error: service.endpoint: the endpoint holds a control character "
        "(a line break, a NUL?)"
    )
