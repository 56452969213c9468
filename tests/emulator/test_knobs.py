"""Knobs: key, rate limit, latency, faults, lost responses; the /_emulator endpoints."""

from __future__ import annotations

import json
import time

import pytest

from facesync.emulator.errors import ACCESS_DENIED
from tests.emulator.emulator_helpers import OCTET, assert_error, make_person, png


def test_key(client, app):
    app.state.emulator.settings.key = "secret"
    r = client.get("/face/v1.0/persongroups")
    assert_error(r, 401, "401", ACCESS_DENIED)
    assert_error(
        client.get("/face/v1.0/persongroups", headers={"Ocp-Apim-Subscription-Key": "no"}), 401, "401"
    )
    assert_error(client.get("/face/v1.0/unknown"), 401, "401")
    ok = client.get("/face/v1.0/persongroups", headers={"Ocp-Apim-Subscription-Key": "secret"})
    assert ok.status_code == 200
    stats = client.get("/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": "secret"}).json()
    assert stats["statuses"] == {"401": 3, "200": 1}


CONTROL_CALLS = [("GET", "/_emulator/stats"), ("POST", "/_emulator/reset"), ("GET", "/_emulator/settings")]


@pytest.mark.parametrize(("method", "path"), CONTROL_CALLS)
@pytest.mark.parametrize("given", [None, "wrong"])
def test_control_endpoints_need_the_key_when_one_is_set(client, app, method, path, given):
    app.state.emulator.settings.key = "secret"
    headers = {} if given is None else {"Ocp-Apim-Subscription-Key": given}
    assert_error(client.request(method, path, headers=headers), 401, "401", ACCESS_DENIED)
    ok = client.request(method, path, headers={"Ocp-Apim-Subscription-Key": "secret"})
    assert ok.status_code == 200


def test_without_the_key_nobody_can_switch_auth_off_or_wipe_data(client, app):
    key = {"Ocp-Apim-Subscription-Key": "secret"}
    app.state.emulator.settings.key = "secret"
    assert client.put("/face/v1.0/persongroups/g", json={"name": "n"}, headers=key).status_code == 200
    assert_error(client.patch("/_emulator/settings", json={"key": None}), 401, "401")
    assert_error(client.post("/_emulator/reset"), 401, "401")
    assert app.state.emulator.settings.key == "secret"
    assert [g["personGroupId"] for g in client.get("/face/v1.0/persongroups", headers=key).json()] == ["g"]
    # With the key, the same calls work; afterwards the emulator is open again.
    assert client.patch("/_emulator/settings", json={"key": None}, headers=key).status_code == 200
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/face/v1.0/persongroups").json() == []


def test_control_endpoints_are_open_without_a_key(client):
    for method, path in CONTROL_CALLS:
        assert client.request(method, path).status_code == 200, path


def test_rate_limit_window_moves_with_the_clock(client, app, clock):
    app.state.emulator.settings.rate_limit = 2
    codes = [client.get("/face/v1.0/persongroups").status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    r = client.get("/face/v1.0/persongroups")
    assert r.status_code == 429
    assert r.headers["retry-after"] == "1"
    assert r.headers["content-type"] == "application/json"
    assert (
        r.content == b'{"error":{"code":"429","message": "Rate limit is exceeded. Try again in 1 seconds."}}'
    )
    assert "x-ms-error-code" not in r.headers
    assert client.get("/face/v1.2/persongroups").headers["x-ms-error-code"] == "429"
    clock.advance(0.4)  # 0.8 of a token at 2 per second
    assert client.get("/face/v1.0/persongroups").status_code == 429
    clock.advance(0.2)
    assert client.get("/face/v1.0/persongroups").status_code == 200
    # special routes are never limited nor counted
    for _ in range(5):
        assert client.get("/_emulator/stats").status_code == 200
    stats = client.get("/_emulator/stats").json()
    assert stats["total"] == 7 and stats["statuses"] == {"200": 3, "429": 4}


def test_rate_limit_retry_after_grows_with_slow_rate(client, app):
    app.state.emulator.settings.rate_limit = 0.2
    assert client.get("/face/v1.0/persongroups").status_code == 200
    r = client.get("/face/v1.0/persongroups")
    assert r.status_code == 429 and r.headers["retry-after"] == "5"
    assert "Try again in 5 seconds." in r.json()["error"]["message"]


def test_latency_delays_api_calls(client, app):
    app.state.emulator.settings.latency_ms = 80
    t0 = time.monotonic()
    client.get("/face/v1.0/persongroups")
    # A lower bound only: a loaded machine can make the call slower, never faster.
    assert time.monotonic() - t0 >= 0.08


def test_latency_spares_control_endpoints(client, app):
    # An hour of latency: were the control endpoints delayed, this test would hang and time out.
    app.state.emulator.settings.latency_ms = 3_600_000
    assert client.get("/_emulator/stats").status_code == 200
    assert client.get("/_emulator/settings").json()["latency_ms"] == 3_600_000


def test_faults_are_seeded_and_happen_before_anything(app, client):
    emu = app.state.emulator
    emu.update_settings({"fault_rate": 0.5, "seed": 42})
    codes = [client.put(f"/face/v1.0/persongroups/g{i}", json={"name": "n"}).status_code for i in range(40)]
    assert {500, 503} <= set(codes) and 200 in codes
    created = {g["personGroupId"] for g in _list_all(client)}
    assert len(created) == codes.count(200)
    for c in codes:
        assert c in (200, 500, 503)
    # same seed, same sequence
    client.post("/_emulator/reset")
    again = [client.put(f"/face/v1.0/persongroups/g{i}", json={"name": "n"}).status_code for i in range(40)]
    assert again == codes


def _list_all(client):
    emu_settings = client.app.state.emulator.settings
    rate = emu_settings.fault_rate
    emu_settings.fault_rate = 0
    try:
        return client.get("/face/v1.0/persongroups").json()
    finally:
        emu_settings.fault_rate = rate


def test_fault_body(client, app):
    app.state.emulator.update_settings({"fault_rate": 1.0})
    r = client.get("/face/v1.2/persongroups")
    assert r.status_code in (500, 503)
    assert r.headers["x-ms-error-code"] == r.json()["error"]["code"]
    assert r.json()["error"]["code"] in ("InternalServerError", "ServiceUnavailable")


def test_lost_response(client, app):
    app.state.emulator.update_settings({"lost_response_rate": 1.0})
    r = client.put("/face/v1.0/persongroups/g", json={"name": "n"})
    assert_error(r, 500, "InternalServerError")
    assert client.get("/face/v1.0/persongroups/g").status_code == 200  # GETs are never lost
    r = client.post("/face/v1.0/persongroups/g/persons", json={"name": "p"})
    assert r.status_code == 500
    assert len(client.get("/face/v1.0/persongroups/g/persons").json()) == 1
    # failing writes are not turned into lost responses
    assert_error(client.put("/face/v1.0/persongroups/g", json={"name": "n"}), 409, "PersonGroupExists")


def test_lost_response_seeded(client, app):
    app.state.emulator.update_settings({"lost_response_rate": 0.5, "seed": 7})
    codes = [client.put(f"/face/v1.0/facelists/f{i}", json={"name": "n"}).status_code for i in range(20)]
    assert set(codes) == {200, 500}
    app.state.emulator.settings.lost_response_rate = 0
    assert len(client.get("/face/v1.0/facelists").json()) == 20


def test_stats_and_reset(client):
    pid = make_person(client)
    client.post(f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces", content=png(1), headers=OCTET)
    client.get("/face/v1.0/largefacelists/x/persistedfaces")
    client.get("/face/v1.0/persongroups/g/training")
    client.get("/face/v1.0/nothing")
    stats = client.get("/_emulator/stats").json()
    assert stats == {
        "total": 6,
        "mutating": 3,
        "operations": {
            "PersonGroup_Create": 1,
            "PersonGroupPerson_Create": 1,
            "PersonGroupPerson_AddFaceFromStream": 1,
            "LargeFaceList_ListFaces": 1,
            "PersonGroup_GetTrainingStatus": 1,
        },
        "statuses": {"200": 3, "404": 3},
        "recognition": "deterministic",
    }
    assert client.post("/_emulator/reset").status_code == 200
    assert client.get("/_emulator/stats").json() == {
        "total": 0,
        "mutating": 0,
        "operations": {},
        "statuses": {},
        "recognition": "deterministic",
    }
    assert client.get("/face/v1.0/persongroups").json() == []


def test_settings_endpoint(client, app):
    got = client.get("/_emulator/settings").json()
    assert "data" not in got
    assert got["tier"] == "S0" and got["key"] is None
    r = client.patch("/_emulator/settings", json={"key": "k", "rate_limit": 100, "tier": "F0"})
    assert r.status_code == 200
    assert r.json()["key"] == "***" and r.json()["rate_limit"] == 100
    assert app.state.emulator.settings.key == "k"
    key = {"Ocp-Apim-Subscription-Key": "k"}
    # a round trip of GET output does not overwrite the key with the mask
    assert client.patch("/_emulator/settings", json=r.json(), headers=key).status_code == 200
    assert app.state.emulator.settings.key == "k"
    for bad in ({"data": "x"}, {"tier": "E0"}, {"fault_rate": 2}, {"nope": 1}, {"limits": {"x": 1}}):
        r = client.patch("/_emulator/settings", json=bad, headers=key)
        assert_error(r, 400, "BadArgument")
    r = client.patch("/_emulator/settings", content=b"[]", headers=key)
    assert r.status_code == 400
    r = client.patch("/_emulator/settings", content=json.dumps({"key": None}), headers=key)
    assert r.status_code == 200
    assert client.get("/face/v1.0/persongroups").status_code == 200
