"""Over real HTTP (uvicorn via `serve`) and in-process via `asgi_client`: durability, concurrency."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import anyio
import httpx
import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.testing import FakeClock, asgi_client, serve
from tests.emulator.emulator_helpers import OCTET, png


def test_serve_roundtrip_and_chunked_upload():
    with (
        serve(EmulatorSettings(key="k")) as base,
        httpx.Client(base_url=base, headers={"Ocp-Apim-Subscription-Key": "k"}) as c,
    ):
        assert base.startswith("http://127.0.0.1:")
        assert c.put("/face/v1.2/largefacelists/l", json={"name": "L"}).status_code == 200
        data = png(4)

        def chunks():
            for i in range(0, len(data), 512):
                yield data[i : i + 512]

        r = c.post("/face/v1.2/largefacelists/l/persistedfaces", content=chunks(), headers=OCTET)
        assert r.status_code == 200, r.text
        r = c.post("/face/v1.2/largefacelists/l/train")
        assert r.status_code == 202
        assert r.headers["operation-location"] == f"{base}/face/v1.2/largefacelists/l/training"
        assert r.headers["content-length"] == "0"
        r = httpx.get(f"{base}/face/v1.2/largefacelists")
        assert r.status_code == 401 and r.json()["error"]["code"] == "401"


def test_serve_accepts_an_app():
    app = create_app(EmulatorSettings())
    with serve(app) as base:
        httpx.put(f"{base}/face/v1.0/persongroups/g", json={"name": "n"})
    assert app.state.emulator.stats()["operations"] == {"PersonGroup_Create": 1}


def test_fake_clock_moves_only_forward_and_only_when_advanced():
    clock = FakeClock(100.0)
    assert clock() == clock.now == 100.0
    assert clock.advance(2.5) == 102.5 and clock() == 102.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    assert clock() == 102.5


def test_serve_builds_the_app_on_the_given_clock():
    clock = FakeClock()
    with serve(EmulatorSettings(train_seconds=1.0), clock=clock) as base, httpx.Client(base_url=base) as c:
        c.put("/face/v1.2/largefacelists/l", json={"name": "n"})
        assert c.post("/face/v1.2/largefacelists/l/train").status_code == 202
        assert c.get("/face/v1.2/largefacelists/l/training").json()["status"] == "notStarted"
        clock.advance(1.0)
        assert c.get("/face/v1.2/largefacelists/l/training").json()["status"] == "failed"  # no faces
    with pytest.raises(TypeError), serve(create_app(EmulatorSettings()), clock=clock):
        pass


def test_restart_durability(tmp_path):
    path = str(tmp_path / "emu.sqlite")
    with serve(EmulatorSettings(data=path, train_seconds=0)) as base, httpx.Client(base_url=base) as c:
        c.put(
            "/face/v1.0/persongroups/g",
            json={"name": "G", "userData": "u", "recognitionModel": "recognition_03"},
        )
        pid = c.post("/face/v1.0/persongroups/g/persons", json={"name": "P"}).json()["personId"]
        fid = c.post(
            f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces?userData=f",
            content=png(1),
            headers=OCTET,
        ).json()["persistedFaceId"]
        c.put("/face/v1.0/facelists/fl", json={"name": "F"})
        c.post("/face/v1.0/facelists/fl/persistedfaces", content=png(2), headers=OCTET)
        assert c.post("/face/v1.0/persongroups/g/train").status_code == 202
        before = c.get("/face/v1.0/persongroups/g/training").json()
    with serve(EmulatorSettings(data=path)) as base, httpx.Client(base_url=base) as c:
        assert c.get("/face/v1.0/persongroups/g?returnRecognitionModel=true").json() == {
            "personGroupId": "g",
            "name": "G",
            "userData": "u",
            "recognitionModel": "recognition_03",
        }
        assert c.get(f"/face/v1.0/persongroups/g/persons/{pid}").json()["persistedFaceIds"] == [fid]
        assert (
            c.get(f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces/{fid}").json()["userData"] == "f"
        )
        assert len(c.get("/face/v1.0/facelists/fl").json()["persistedFaces"]) == 1
        assert c.get("/face/v1.0/persongroups/g/training").json() == before
        assert before["status"] == "succeeded"


def test_concurrent_writes_over_http():
    with serve(EmulatorSettings()) as base:
        httpx.put(f"{base}/face/v1.0/largepersongroups/g", json={"name": "n"})

        def create(i):
            with httpx.Client(base_url=base) as c:
                return [
                    c.post("/face/v1.0/largepersongroups/g/persons", json={"name": f"p{i}"}).status_code
                    for _ in range(10)
                ]

        with ThreadPoolExecutor(8) as pool:
            results = [code for codes in pool.map(create, range(8)) for code in codes]
        assert results == [200] * 80
        persons = httpx.get(f"{base}/face/v1.0/largepersongroups/g/persons").json()
        assert len(persons) == 80 and len({p["personId"] for p in persons}) == 80


def test_asgi_client_concurrency():
    app = create_app(EmulatorSettings())

    async def main():
        async with asgi_client(app) as client:
            assert str(client.base_url) == "http://emulator.local"
            await client.put("/face/v1.2/largefacelists/l", json={"name": "n"})
            results = await asyncio.gather(
                *(
                    client.post("/face/v1.2/largefacelists/l/persistedfaces", content=png(i), headers=OCTET)
                    for i in range(12)
                )
            )
            assert [r.status_code for r in results] == [200] * 12
            r = await client.post("/face/v1.2/largefacelists/l/train")
            assert (
                r.headers["operation-location"] == "http://emulator.local/face/v1.2/largefacelists/l/training"
            )
            faces = (await client.get("/face/v1.2/largefacelists/l/persistedfaces")).json()
            assert len(faces) == 12

    anyio.run(main)


def test_cli_help():
    from click.testing import CliRunner

    from facesync.cli import main

    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    for option in (
        "--data",
        "--key",
        "--rate-limit",
        "--latency",
        "--fault-rate",
        "--lost-response-rate",
        "--tier",
    ):
        assert option in result.output


def test_cli_serves(tmp_path, monkeypatch):
    """The command runs uvicorn with the configured app and prints one line (never the key)."""
    import uvicorn
    from click.testing import CliRunner

    from facesync.cli import main

    captured = {}

    def fake_run(app, host, port, **kwargs):
        captured.update(app=app, host=host, port=port)

    monkeypatch.setattr(uvicorn, "run", fake_run)
    monkeypatch.setenv("FACESYNC_EMULATOR_KEY", "topsecret")
    data = tmp_path / "sub" / "e.sqlite"
    result = CliRunner().invoke(main, ["emulator", "--port", "5123", "--data", str(data), "--tier", "F0"])
    assert result.exit_code == 0, result.output
    assert "topsecret" not in result.output
    assert "http://127.0.0.1:5123" in result.output and str(data) in result.output
    settings = captured["app"].state.emulator.settings
    assert settings.key == "topsecret" and settings.tier == "F0" and settings.data == str(data)
    assert data.exists()


def test_root_is_json_404():
    with serve(EmulatorSettings()) as base:
        r = httpx.get(f"{base}/")
        assert r.status_code == 404
        assert r.json() == {"error": {"code": "404", "message": "Resource not found"}}


def test_cli_warns_when_listening_beyond_loopback_without_a_key(monkeypatch):
    import uvicorn
    from click.testing import CliRunner

    from facesync.cli import main

    monkeypatch.setattr(uvicorn, "run", lambda app, host, port, **kwargs: None)
    monkeypatch.delenv("FACESYNC_EMULATOR_KEY", raising=False)
    runner = CliRunner()
    exposed = runner.invoke(main, ["emulator", "--host", "0.0.0.0", "--data", ":memory:"])
    assert exposed.exit_code == 0, exposed.output
    assert "no --key is set" in exposed.stderr
    for args in (["--host", "0.0.0.0", "--key", "k"], ["--host", "127.0.0.1"]):
        quiet = runner.invoke(main, ["emulator", "--data", ":memory:", *args])
        assert quiet.exit_code == 0 and "warning" not in quiet.stderr, args
