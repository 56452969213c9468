"""Count limits: 403 QuotaExceeded, by tier and with overrides."""

from __future__ import annotations

import pytest

from facesync.emulator import EmulatorSettings
from tests.emulator.emulator_helpers import OCTET, assert_error, make_person, png


def test_tier_defaults():
    s0, f0 = EmulatorSettings(), EmulatorSettings(tier="F0")
    assert s0.limit("faces_per_person") == 248 == f0.limit("faces_per_person")
    assert s0.limit("persons_per_persongroup") == 10_000
    assert f0.limit("persons_per_persongroup") == 1_000
    assert s0.limit("persons_per_largepersongroup") == 1_000_000
    assert f0.limit("faces_per_largefacelist") == 1_000
    assert s0.limit("facelists") == 64 == f0.limit("facelists")
    assert s0.limit("faces_per_facelist") == 1_000
    assert s0.limit("persongroups") == 1_000_000 and f0.limit("persongroups") == 1_000


def test_faces_per_person(client, app):
    app.state.emulator.settings.limits = {"faces_per_person": 2}
    pid = make_person(client)
    path = f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces"
    for seed in range(2):
        assert client.post(path, content=png(seed), headers=OCTET).status_code == 200
    r = client.post(path, content=png(3), headers=OCTET)
    assert_error(r, 403, "QuotaExceeded", "Persisted face number reached limit.")


@pytest.mark.parametrize(
    ("kind", "limit"), [("facelists", "faces_per_facelist"), ("largefacelists", "faces_per_largefacelist")]
)
def test_faces_per_list(client, app, kind, limit):
    app.state.emulator.settings.limits = {limit: 1}
    client.put(f"/face/v1.2/{kind}/l", json={"name": "n"})
    assert (
        client.post(f"/face/v1.2/{kind}/l/persistedfaces", content=png(1), headers=OCTET).status_code == 200
    )
    r = client.post(f"/face/v1.2/{kind}/l/persistedfaces", content=png(2), headers=OCTET)
    assert_error(r, 403, "QuotaExceeded", "Persisted face number reached limit.")


@pytest.mark.parametrize(
    ("kind", "limit"),
    [
        ("persongroups", "persongroups"),
        ("largepersongroups", "largepersongroups"),
        ("facelists", "facelists"),
        ("largefacelists", "largefacelists"),
    ],
)
def test_collection_counts(client, app, kind, limit):
    app.state.emulator.settings.limits = {limit: 2}
    for i in range(2):
        assert client.put(f"/face/v1.0/{kind}/c{i}", json={"name": "n"}).status_code == 200
    r = client.put(f"/face/v1.0/{kind}/c9", json={"name": "n"})
    assert_error(r, 403, "QuotaExceeded")
    assert "number reached" in r.json()["error"]["message"]
    client.delete(f"/face/v1.0/{kind}/c0")
    assert client.put(f"/face/v1.0/{kind}/c9", json={"name": "n"}).status_code == 200


@pytest.mark.parametrize("kind", ["persongroups", "largepersongroups"])
def test_persons_per_group_f0(client, app, kind):
    app.state.emulator.settings.tier = "F0"
    name = "persons_per_persongroup" if kind == "persongroups" else "persons_per_largepersongroup"
    app.state.emulator.settings.limits = {name: 3}
    make_person(client, kind=kind)
    for _ in range(2):
        assert client.post(f"/face/v1.0/{kind}/g/persons", json={"name": "n"}).status_code == 200
    r = client.post(f"/face/v1.0/{kind}/g/persons", json={"name": "n"})
    assert_error(r, 403, "QuotaExceeded")
    assert r.json()["error"]["message"].startswith("Person number reached")


def test_real_facelist_cap(client):
    for i in range(64):
        assert client.put(f"/face/v1.0/facelists/f{i}", json={"name": "n"}).status_code == 200
    assert_error(client.put("/face/v1.0/facelists/f64", json={"name": "n"}), 403, "QuotaExceeded")
