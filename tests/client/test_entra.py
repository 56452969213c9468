"""Issue 20.1: keyless access with Microsoft Entra ID, offline.

azure-identity's own AzureCliCredential runs a stand-in `az` put first on PATH, which prints what
`az account get-access-token --output json` prints; the Face API is the emulator behind a gate
that takes only `Authorization: Bearer <a token az handed out>`. Through the CLI,
DefaultAzureCredential is narrowed to the CLI credential with AZURE_TOKEN_CREDENTIALS, so nothing
probes a managed-identity endpoint off this machine.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.types import ASGIApp, Receive, Scope, Send

from facesync.client import Endpoint, FaceClient, require_key
from facesync.client.auth import ENTRA_SCOPE, REFRESH_MARGIN
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock, serve
from facesync.model import CollectionKind
from tests.client.hostile import Peer, hostile
from tests.hardening.test_errors import one_error_line
from tests.sync.sync_helpers import Workspace, write_staff

identity = pytest.importorskip("azure.identity", reason="the entra extra (azure-identity) is not installed")

PG = CollectionKind.PERSON_GROUP
REPO = Path(__file__).resolve().parents[2]
TOKEN_PREFIX = "eyJfake-entra-token-"

FAKE_AZ = """\
#!{python}
# A stand-in for the Azure CLI: `az account get-access-token --output json --resource R` prints a
# token as the real one does; each call hands out a new token. FAKE_AZ_FAIL makes it a CLI with
# nobody logged in.
import json, os, sys, time
state = os.environ["FAKE_AZ_STATE"]
with open(os.path.join(state, "calls.jsonl"), "a") as log:
    log.write(json.dumps(sys.argv[1:]) + "\\n")
if os.environ.get("FAKE_AZ_FAIL"):
    print("ERROR: Please run 'az login' to setup account.", file=sys.stderr)
    sys.exit(1)
n = sum(1 for _ in open(os.path.join(state, "calls.jsonl")))
expires = int(time.time()) + int(os.environ.get("FAKE_AZ_LIFETIME", "3600"))
print(json.dumps({{
    "accessToken": os.environ.get("FAKE_AZ_TOKEN") or "{prefix}%d-" % n + "x" * 40,
    "expiresOn": time.strftime("%Y-%m-%d %H:%M:%S.000000", time.localtime(expires)),
    "expires_on": expires,
    "subscription": "00000000-0000-0000-0000-000000000000",
    "tenant": "00000000-0000-0000-0000-000000000001",
    "tokenType": "Bearer",
}}, indent=2))
"""


def token(n: int) -> str:
    return f"{TOKEN_PREFIX}{n}-" + "x" * 40


@dataclass
class FakeAz:
    state: Path
    env: dict[str, str]

    @property
    def calls(self) -> list[list[str]]:
        log = self.state / "calls.jsonl"
        return [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []


@pytest.fixture
def fake_az(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> FakeAz:
    bin_dir, state = tmp_path / "bin", tmp_path / "az-state"
    bin_dir.mkdir()
    state.mkdir()
    az = bin_dir / "az"
    az.write_text(FAKE_AZ.format(python=sys.executable, prefix=TOKEN_PREFIX))
    az.chmod(az.stat().st_mode | stat.S_IXUSR)
    env = {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "FAKE_AZ_STATE": str(state),
        "AZURE_TOKEN_CREDENTIALS": "AzureCliCredential",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("FACESYNC_KEY", raising=False)
    return FakeAz(state, env)


@dataclass
class Seen:
    """What reached the Face API: each request's Authorization header, and any key header."""

    auth: list[str] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)


@dataclass
class BearerGate:
    """ASGI middleware: the Face API answers only requests with a bearer token az handed out."""

    app: ASGIApp
    seen: Seen

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/face/"):
            headers = dict(scope["headers"])
            if b"ocp-apim-subscription-key" in headers:
                self.seen.keys.append(headers[b"ocp-apim-subscription-key"].decode())
            auth = headers.get(b"authorization", b"").decode()
            self.seen.auth.append(auth)
            if not auth.startswith(f"Bearer {TOKEN_PREFIX}"):
                body = json.dumps({"error": {"code": "401", "message": "Access denied: no valid token"}})
                head = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 401, "headers": head})
                await send({"type": "http.response.body", "body": body.encode()})
                return
        await self.app(scope, receive, send)


@pytest.fixture
def gated() -> Iterator[tuple[str, Seen]]:
    """An emulator that takes bearer tokens only, over real HTTP, and what reached it."""
    emulator = create_app(EmulatorSettings(train_seconds=0.05))
    seen = Seen()
    app = Starlette(routes=[Mount("/", app=emulator)], middleware=[Middleware(BearerGate, seen=seen)])
    with serve(app) as url:
        yield url, seen
    emulator.state.emulator.close()


def test_a_token_is_fetched_once_and_renewed_before_it_expires(fake_az: FakeAz, gated):
    url, seen = gated
    clock = FakeClock()

    async def go() -> None:
        credential = identity.AzureCliCredential()
        async with FaceClient(
            Endpoint(url, auth="entra"),
            rate_limit=None,
            clock=clock,
            sleep=clock.sleep,
            credential=credential,
        ) as client:
            await client.create_collection(
                PG, "g", name="G", user_data=None, recognition_model="recognition_04"
            )
            for _ in range(5):
                await client.get_collection(PG, "g")
            clock.advance(3600 - REFRESH_MARGIN - 60)  # still a minute before the renewal point
            await client.get_collection(PG, "g")
            clock.advance(120)  # past it: within five minutes of expiry
            await client.get_collection(PG, "g")
            await client.get_collection(PG, "g")

    asyncio.run(go())
    assert seen.auth == [f"Bearer {token(1)}"] * 7 + [f"Bearer {token(2)}"] * 2
    assert seen.keys == []
    assert fake_az.calls[0][:4] == ["account", "get-access-token", "--output", "json"]
    assert fake_az.calls[0][4:] == ["--resource", ENTRA_SCOPE.removesuffix("/.default")]


def test_a_token_the_service_refuses_is_replaced_once(fake_az: FakeAz, gated, monkeypatch):
    url, seen = gated
    clock = FakeClock()

    class Revoked:
        """Hands out a token the gate refuses, then defers to az."""

        def __init__(self) -> None:
            self.inner = identity.AzureCliCredential()
            self.first = True

        def get_token(self, *scopes: str, **kwargs):
            if self.first:
                self.first = False
                real = self.inner.get_token(*scopes)
                return type(real)("revoked-token-" + "r" * 30, real.expires_on)
            return self.inner.get_token(*scopes)

    async def go() -> None:
        async with FaceClient(
            Endpoint(url, auth="entra"), rate_limit=None, clock=clock, sleep=clock.sleep, credential=Revoked()
        ) as client:
            await client.list_collections(PG)

    asyncio.run(go())
    assert seen.auth == ["Bearer revoked-token-" + "r" * 30, f"Bearer {token(2)}"]


def test_a_face_endpoint_with_entra_needs_no_key():
    require_key(Endpoint("https://my-face.cognitiveservices.azure.com", None, auth="entra"))


# -- through the CLI ----------------------------------------------------------------------------


def everything(ws: Workspace, *results) -> str:
    files = [p.read_text(errors="replace") for p in ws.root.rglob("*") if p.is_file() and p.suffix == ".json"]
    return "\n".join([*(r.stdout + r.stderr for r in results), *files])


def test_cli_plan_and_apply_with_auth_entra_send_a_token_never_shown(
    tmp_path: Path, fake_az: FakeAz, gated, monkeypatch: pytest.MonkeyPatch
):
    url, seen = gated
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    planned = ws.run("plan", "--auth", "entra", "--debug", "--out", "plan.json", env=fake_az.env)
    applied = ws.run("apply", "plan.json", "--auth", "entra", "--auto-approve", "--debug", env=fake_az.env)
    assert planned.exit_code == 0, planned.stderr
    assert applied.exit_code == 0, applied.stderr
    assert seen.auth and all(s.startswith(f"Bearer {TOKEN_PREFIX}") for s in seen.auth)
    assert seen.keys == []
    text = everything(ws, planned, applied)
    assert TOKEN_PREFIX not in text
    assert "got a Microsoft Entra ID token" in planned.stderr


def test_cli_service_auth_entra_in_the_config(tmp_path: Path, fake_az: FakeAz, gated, monkeypatch):
    url, seen = gated
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    config = ws.root / "facesync.yaml"
    config.write_text(config.read_text() + "service: {auth: entra}\n")
    result = ws.run("plan", env={**fake_az.env, "FACESYNC_KEY": "a-key-that-must-not-be-sent"})
    assert result.exit_code == 0, result.stderr
    assert seen.keys == [] and len(fake_az.calls) == 1


def test_cli_environment_auth_entra(tmp_path: Path, fake_az: FakeAz, gated, monkeypatch):
    url, seen = gated
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    config = ws.root / "facesync.yaml"
    config.write_text(
        config.read_text()
        + textwrap.dedent(f"""\
            environments:
              prod: {{endpoint: '{url}', auth: entra}}
              staging: {{endpoint: 'local:staging.sqlite'}}
            """)
    )
    result = ws.run("plan", "--all-envs", env=fake_az.env)
    assert result.exit_code == 0, result.stderr
    assert seen.auth and all(s.startswith("Bearer ") for s in seen.auth)


def test_cli_environment_auth_is_checked_at_its_line(tmp_path: Path, fake_az: FakeAz, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, "http://127.0.0.1:9")
    write_staff(ws)
    config = ws.root / "facesync.yaml"
    lines = len(config.read_text().splitlines())
    config.write_text(
        config.read_text() + "environments:\n  prod: {endpoint: 'https://x.example', auth: aad}\n"
    )
    result = ws.run("validate")
    assert result.exit_code == 1
    assert (
        f"facesync.yaml:{lines + 2}:" in result.stdout and "'auth' must be one of key, entra" in result.stdout
    )


def test_cli_without_a_login_is_one_line_and_sends_nothing(tmp_path, fake_az: FakeAz, gated, monkeypatch):
    # A real process: azure-identity's multi-line warnings would reach stderr through logging's
    # last-resort handler there (pytest's own log capture hides it in-process).
    url, seen = gated
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    env = {
        **os.environ,
        **fake_az.env,
        "FAKE_AZ_FAIL": "1",
        "PYTHONPATH": str(REPO),
        "FACESYNC_ENDPOINT": url,
    }
    result = subprocess.run(
        [sys.executable, "-m", "facesync", "plan", "--auth", "entra", "-f", str(ws.root / "facesync.yaml")],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    line = result.stderr.strip()
    assert "\n" not in line, result.stderr
    assert line.startswith(f"Error: cannot get a Microsoft Entra ID token for {url}: ")
    assert "az login" in line and line.endswith("nothing was sent")
    assert seen.auth == []


def test_cli_without_the_extra_names_it(tmp_path: Path, gated, monkeypatch: pytest.MonkeyPatch):
    url, seen = gated
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, "azure.identity", None)  # as if azure-identity were not installed
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    line = one_error_line(ws.run("plan", "--auth", "entra"))
    expected = "auth entra needs the azure-identity package: pip install 'facesync[entra]'; nothing was sent"
    assert line == f"Error: {expected}"
    assert seen.auth == []


def test_cli_an_unknown_auth_in_the_environment_variable_is_one_line(tmp_path: Path, gated, monkeypatch):
    url, _ = gated
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, url)
    write_staff(ws)
    line = one_error_line(ws.run("plan", env={"FACESYNC_AUTH": "password"}))
    assert line == "Error: auth 'password' is not one of key, entra"


def test_a_resource_without_key_auth_says_to_use_entra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    async def keys_disabled(peer: Peer) -> None:
        # The service's answer to a key while local auth is disabled (docs/emulator.md, "Auth").
        message = b"Key based authentication is disabled for this resource."
        body = b'{"error":{"code":"AuthenticationTypeDisabled","message": "' + message + b'"}}'
        await peer.json(403, body)

    monkeypatch.chdir(tmp_path)
    with hostile(keys_disabled) as server:
        ws = Workspace(tmp_path, server.url)
        write_staff(ws)
        line = one_error_line(ws.run("plan", env={"FACESYNC_KEY": "some-key-0123456789"}))
    assert (
        "HTTP 403 AuthenticationTypeDisabled: Key based authentication is disabled for this resource." in line
    )
    assert f"{server.url} takes Microsoft Entra ID tokens only: use --auth entra" in line


def test_cli_against_the_emulator_with_local_auth_disabled(tmp_path: Path, fake_az: FakeAz, monkeypatch):
    # `facesync emulator --bearer-token T --disable-local-auth`: the token gets in, a key is refused
    # with the service's 403, and facesync says what to do about it.
    fixed = "eyJ-the-one-token-the-emulator-takes-" + "t" * 20
    settings = EmulatorSettings(bearer_token=fixed, disable_local_auth=True, train_seconds=0.05)
    monkeypatch.chdir(tmp_path)
    with serve(settings) as url:
        ws = Workspace(tmp_path, url)
        write_staff(ws)
        keyed = ws.run("plan", env={"FACESYNC_KEY": "a-key-0123456789"})
        keyless = ws.run(
            "plan", "--auth", "entra", "--out", "plan.json", env={**fake_az.env, "FAKE_AZ_TOKEN": fixed}
        )
    line = one_error_line(keyed)
    assert "HTTP 403 AuthenticationTypeDisabled" in line and "use --auth entra" in line
    assert keyless.exit_code == 0, keyless.stderr
    assert fixed not in keyless.stdout + keyless.stderr + (ws.root / "plan.json").read_text()
