"""Nonsense settings are refused, on the control endpoint, in-process and on the command line."""

from __future__ import annotations

import math

import pytest
from click.testing import CliRunner

from facesync.cli import main
from facesync.emulator import EmulatorSettings
from tests.emulator.emulator_helpers import assert_error

# Raw JSON text: Python's json reads NaN and Infinity, so the settings must refuse them.
NONSENSE = [
    ('{"latency_ms": -1}', "latency_ms"),
    ('{"latency_ms": NaN}', "latency_ms"),
    ('{"latency_ms": Infinity}', "latency_ms"),
    ('{"latency_ms": 7200000}', "latency_ms"),  # two hours
    ('{"train_seconds": -0.5}', "train_seconds"),
    ('{"train_seconds": 1e12}', "train_seconds"),
    ('{"rate_limit": 0}', "rate_limit"),
    ('{"rate_limit": Infinity}', "rate_limit"),
    ('{"fault_rate": NaN}', "fault_rate"),
    ('{"lost_response_rate": -Infinity}', "lost_response_rate"),
    ('{"url_timeout_seconds": 0}', "url_timeout_seconds"),
    ('{"limits": {"faces_per_person": true}}', "limits"),
    ('{"limits": {"faces_per_person": -1}}', "limits"),
    ('{"recognition_workers": 4}', "read-only"),
    ('{"key": 5}', "key"),
]


@pytest.mark.parametrize(("body", "named"), NONSENSE)
def test_the_settings_endpoint_refuses_nonsense(client, app, body, named):
    before = dict(vars(app.state.emulator.settings))
    r = client.patch("/_emulator/settings", content=body, headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BadArgument")
    assert named in r.json()["error"]["message"]
    assert vars(app.state.emulator.settings) == before


def test_a_patch_is_all_or_nothing(client, app):
    r = client.patch("/_emulator/settings", json={"latency_ms": 5, "train_seconds": -1})
    assert r.status_code == 400
    assert app.state.emulator.settings.latency_ms == 0


def test_an_empty_key_is_refused_and_locks_nobody_out(client, app):
    r = client.patch("/_emulator/settings", json={"key": ""})
    assert_error(r, 400, "BadArgument")
    assert "key must not be empty" in r.json()["error"]["message"]
    assert app.state.emulator.settings.key is None
    assert client.get("/face/v1.0/persongroups").status_code == 200


def test_null_key_means_no_key(client, app):
    app.state.emulator.settings.key = "k"
    key = {"Ocp-Apim-Subscription-Key": "k"}
    assert client.patch("/_emulator/settings", json={"key": None}, headers=key).status_code == 200
    assert client.get("/face/v1.0/persongroups").status_code == 200


def test_bounds_hold_at_their_edges(client):
    r = client.patch("/_emulator/settings", json={"latency_ms": 0, "train_seconds": 3600, "rate_limit": 0.5})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "field", [{"latency_ms": math.nan}, {"train_seconds": math.inf}, {"key": ""}, {"recognition_workers": -1}]
)
def test_in_process_settings_refuse_nonsense(field):
    with pytest.raises(ValueError):
        EmulatorSettings(**field)


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--latency", "nan"], "--latency"),
        (["--latency", "inf"], "--latency"),
        (["--latency", "-5"], "--latency"),
        (["--latency", "3600000"], "--latency"),
        (["--train-seconds", "1e9"], "--train-seconds"),
        (["--rate-limit", "0"], "--rate-limit"),
        (["--url-timeout", "0"], "--url-timeout"),
        (["--workers", "-1"], "--workers"),
        (["--key", ""], "--key"),
        (["--bearer-token", ""], "--bearer-token"),
        (["--disable-local-auth"], "--disable-local-auth needs --bearer-token"),
    ],
)
def test_the_command_line_refuses_nonsense(monkeypatch, args, says):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    monkeypatch.delenv("FACESYNC_EMULATOR_KEY", raising=False)
    result = CliRunner().invoke(
        main, ["emulator", "--data", ":memory:", "--recognition", "deterministic", *args]
    )
    assert result.exit_code == 1, result.output
    assert says in result.output
    assert "Traceback" not in result.output
    assert served == []


def test_the_command_line_passes_auth_settings_on(monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    args = ["emulator", "--data", ":memory:", "--recognition", "deterministic"]
    args += ["--bearer-token", "t0k3n", "--disable-local-auth", "--latency", "25", "--url-timeout", "2"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "t0k3n" not in result.output and "bearer token required" in result.output
    settings = served[0].state.emulator.settings
    assert settings.bearer_token == "t0k3n" and settings.disable_local_auth is True
    assert settings.latency_ms == 25 and settings.url_timeout_seconds == 2


def test_an_empty_key_variable_means_no_key(monkeypatch):
    import uvicorn

    served = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kwargs: served.append(app))
    monkeypatch.setenv("FACESYNC_EMULATOR_KEY", "")
    result = CliRunner().invoke(main, ["emulator", "--data", ":memory:", "--recognition", "deterministic"])
    assert result.exit_code == 0, result.output
    assert "no key required" in result.output
    assert served[0].state.emulator.settings.key is None
