"""Issue 17.2 (second half): every secret facesync knows stays out of every output — even when
the service echoes it back in an error message or in the names it returns."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from click.testing import Result

from facesync import secrets
from tests.client.hostile import Peer, hostile
from tests.sync.sync_helpers import Workspace, write_staff

KEY = "0123456789abcdef-the-face-key-42"
PROD_KEY = "prod-key-7f3a9c1e5b2d4f60a8b7"
DR_KEY = "dr-key-19e2c7a4b6d8f0e1c3a5"
UNCHOSEN_KEY = "staging-key-5d3c1b9a7e6f"


def said(peer: Peer) -> str:
    """The credential the request carried: a key, or a bearer token."""
    headers = peer.request.headers
    return headers.get("ocp-apim-subscription-key") or headers.get("authorization", "")


async def echo(peer: Peer) -> None:
    """A Face API stand-in that repeats the caller's credential wherever it can: in a name, in a
    userData, in error messages (the way a `BadArgument: key was …` does)."""
    path = peer.request.target.split("?")[0].removeprefix("/face/v1.0")
    credential = said(peer)
    if path == "/persongroups":
        group = {
            "personGroupId": "staff",
            "name": f"Staff (key was {credential})",
            "userData": credential,
            "recognitionModel": "recognition_04",
        }
        await peer.json(200, json.dumps([group]).encode())
    elif path in ("/largepersongroups", "/facelists", "/largefacelists") or path.endswith("/persons"):
        await peer.json(200, b"[]")
    elif path.endswith("/training"):
        error = {"error": {"code": "PersonGroupNotTrained", "message": f"not trained; key was {credential}"}}
        await peer.json(404, json.dumps(error).encode())
    else:
        error = {"error": {"code": "BadArgument", "message": f"key was {credential}\x1b]0;owned\x07"}}
        await peer.json(400, json.dumps(error).encode())


def everything(result: Result, ws: Workspace) -> str:
    files = [p.read_text(errors="replace") for p in ws.root.rglob("*") if p.is_file() and p.suffix != ".png"]
    return "\n".join([result.stdout, result.stderr, *files])


def test_a_key_the_service_echoes_is_in_no_output_plan_or_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    with hostile(echo) as server:
        ws = Workspace(tmp_path, server.url)
        write_staff(ws)
        env = {"FACESYNC_KEY": KEY}
        planned = ws.run("plan", "--debug", "--rate-limit", "0", "--out", "plan.json", env=env)
        shown = ws.run("show", "plan.json", "--format", "markdown", env=env)
        applied = ws.run("apply", "plan.json", "--auto-approve", "--debug", "--rate-limit", "0", env=env)
        requests = server.requests
    assert planned.exit_code == 0, planned.stderr
    assert applied.exit_code == 1, applied.stderr
    assert all(r.headers["ocp-apim-subscription-key"] == KEY for r in requests)  # it was sent
    for result in (planned, shown, applied):
        assert KEY not in everything(result, ws)
    assert "Staff (key was ***)" in planned.stdout
    error = [line for line in applied.stderr.splitlines() if line.startswith("Error:")]
    assert error and "key was ***\\x1b]0;owned\\x07" in error[0], applied.stderr


def test_each_environments_key_is_in_no_output(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    with hostile(echo) as prod, hostile(echo) as dr:
        ws = Workspace(tmp_path, prod.url)
        write_staff(ws)
        config = ws.root / "facesync.yaml"
        config.write_text(
            config.read_text() + f"environments:\n"
            f"  prod: {{endpoint: '{prod.url}', keyEnv: PROD_KEY}}\n"
            f"  dr: {{endpoint: '{dr.url}', keyEnv: DR_KEY}}\n"
            f"  staging: {{endpoint: 'local:staging.sqlite', keyEnv: STAGING_KEY}}\n"
        )
        env = {"PROD_KEY": PROD_KEY, "DR_KEY": DR_KEY, "STAGING_KEY": UNCHOSEN_KEY, "FACESYNC_KEY": KEY}
        planned = ws.run("plan", "--env", "prod", "--env", "dr", "--debug", "--out", "plan.json", env=env)
        applied = ws.run("apply", "plan.json", "--auto-approve", "--debug", env=env)
        sent = {r.headers["ocp-apim-subscription-key"] for r in prod.requests + dr.requests}
    assert planned.exit_code == 0, planned.stderr
    assert applied.exit_code == 1, applied.stderr
    assert sent == {PROD_KEY, DR_KEY}
    for result in (planned, applied):
        text = everything(result, ws)
        for secret in (PROD_KEY, DR_KEY, UNCHOSEN_KEY, KEY):
            assert secret not in text


def test_secrets_are_masked_in_text_logs_and_tracebacks(caplog: pytest.LogCaptureFixture):
    token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature"
    secrets.register(token)
    secrets.register("k9")  # a short test key: masked only where it stands alone
    assert secrets.scrub(f"Bearer {token}; key=k9; kiosk9 k9x") == "Bearer ***; key=***; kiosk9 k9x"
    assert secrets.scrub_bytes(f'{{"name": "{token}"}}'.encode()) == b'{"name": "***"}'
    assert secrets.scrub(f"url-encoded {token.replace('.', '%2E')}") != ""
    logger = logging.getLogger("facesync.test_secrets")
    handler = logging.Handler()
    records: list[str] = []
    handler.emit = lambda record: records.append(logging.Formatter().format(record))  # type: ignore[method-assign]
    handler.addFilter(secrets.RedactFilter())
    logger.addHandler(handler)
    try:
        logger.warning("sending %s", token)
        try:
            raise ValueError(f"the service said {token}")
        except ValueError:
            logger.exception("failed")
    finally:
        logger.removeHandler(handler)
    assert records and all(token not in r for r in records)
    assert "sending ***" in records[0] and "the service said ***" in records[1]


def test_ci_tokens_are_registered_with_the_endpoint():
    from facesync.client import resolve_endpoint

    github = "ghs_" + "A1b2C3d4" * 4
    resolve_endpoint("https://x.example", None, None, {"GITHUB_TOKEN": github, "FACESYNC_KEY": KEY})
    assert secrets.scrub(f"{github} {KEY}") == "*** ***"


@pytest.mark.parametrize("key", ["abc\ndef-0123456789", "clé-0123456789", "with space-0123456789"])
def test_a_key_no_header_can_carry_is_one_line_without_the_key(key: str, tmp_path: Path, monkeypatch):
    from tests.hardening.test_errors import one_error_line

    monkeypatch.chdir(tmp_path)
    with hostile(echo) as server:
        ws = Workspace(tmp_path, server.url)
        write_staff(ws)
        result = ws.run("plan", "--rate-limit", "0", env={"FACESYNC_KEY": key})
        sent = len(server.requests)
    line = one_error_line(result)
    assert "no HTTP header can carry" in line and "nothing was sent" in line
    assert key not in result.stderr and sent == 0
