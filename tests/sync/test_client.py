"""The Face client against the emulator over HTTP: retries, rate limits, uncertainty, secrets."""

from __future__ import annotations

import httpx
import pytest

from facesync.client import Endpoint, EndpointError, FaceAPIError, FaceClient, RetryPolicy, resolve_endpoint
from facesync.client import client as client_module
from facesync.client.client import retry_after_seconds
from facesync.model import CollectionKind
from tests.sync.sync_helpers import Service, Workspace, run, write_staff

PG = CollectionKind.PERSON_GROUP
FAST = RetryPolicy(max_attempts=8, base_delay=0.01, max_delay=0.05)


def make(service: Service, **kw) -> FaceClient:
    kw.setdefault("rate_limit", None)
    kw.setdefault("retry", FAST)
    return FaceClient(Endpoint(service.url, kw.pop("key", None)), **kw)


def test_endpoint_precedence_flag_then_environment_then_config():
    env = {"FACESYNC_ENDPOINT": "https://env.example", "FACESYNC_KEY": "k-env"}
    assert (
        resolve_endpoint("https://flag.example", None, "https://cfg.example", env).url
        == "https://flag.example"
    )
    assert resolve_endpoint(None, None, "https://cfg.example", env) == Endpoint(
        "https://env.example", "k-env"
    )
    assert resolve_endpoint(None, None, "https://cfg.example/face/v1.0/", {}).url == "https://cfg.example"
    assert resolve_endpoint(None, None, "local:.facesync/x.sqlite", {}).is_local
    with pytest.raises(EndpointError, match=r"--endpoint.*FACESYNC_ENDPOINT.*service"):
        resolve_endpoint(None, None, None, {})
    with pytest.raises(EndpointError, match="not an http"):
        resolve_endpoint("ftp://x", None, None, {})


def test_endpoint_repr_never_shows_the_key():
    assert "s3cret" not in repr(Endpoint("https://x", "s3cret"))


@pytest.mark.parametrize(
    ("headers", "message", "expected"),
    [
        ({"Retry-After": "3"}, None, 3.0),
        ({}, "Rate limit is exceeded. Try again in 21 seconds.", 21.0),
        (
            {},
            "... have exceeded rate limit of your current Face S0 pricing tier. Please retry after 1 second.",
            1.0,
        ),
        ({}, "Slow down.", None),
    ],
)
def test_retry_after_comes_from_header_or_message(headers, message, expected):
    response = httpx.Response(429, headers=headers)
    assert retry_after_seconds(response, message) == expected


def test_reads_are_retried_through_server_faults(service: Service):
    service.api.put("/persongroups/g", json={"name": "G"}).raise_for_status()
    service.knobs(fault_rate=0.5, seed=3)

    async def go() -> list[str]:
        async with make(service) as client:
            return [(await client.get_collection(PG, "g")).name for _ in range(20)]

    assert run(go()) == ["G"] * 20


def test_a_lost_create_person_response_is_uncertain_not_replayed(service: Service):
    service.api.put("/persongroups/g", json={"name": "G"}).raise_for_status()
    service.knobs(lost_response_rate=1.0)

    async def go() -> FaceAPIError:
        async with make(service) as client:
            with pytest.raises(FaceAPIError) as caught:
                await client.create_person(PG, "g", name="Alice", user_data=None)
            return caught.value

    error = run(go())
    assert error.uncertain and error.status == 500
    service.knobs(lost_response_rate=0.0)
    persons = service.api.get("/persongroups/g/persons").json()
    assert [p["name"] for p in persons] == ["Alice"]  # it happened once, and only once


def test_replayed_create_collection_and_delete_succeed_after_lost_responses(service: Service):
    service.knobs(lost_response_rate=1.0)

    async def go() -> None:
        async with make(service) as client:
            # The first attempt is performed then "lost"; the replay answers 409 Exists / 404: both ours.
            await client.create_collection(
                PG, "g", name="G", user_data=None, recognition_model="recognition_04"
            )
            await client.delete_collection(PG, "g")

    run(go())
    service.knobs(lost_response_rate=0.0)
    assert service.api.get("/persongroups/g").status_code == 404


def test_paging_reads_every_page_until_a_short_one(service: Service, monkeypatch: pytest.MonkeyPatch):
    service.api.put("/persongroups/g", json={"name": "G"}).raise_for_status()
    for i in range(5):
        service.api.post("/persongroups/g/persons", json={"name": f"P{i}"}).raise_for_status()
    monkeypatch.setattr(client_module, "PAGE_SIZE", 2)

    async def go() -> tuple[list[str], int]:
        async with make(service) as client:
            persons = await client.list_persons(PG, "g")
            return sorted(p.name for p in persons), client.calls["PersonGroupPerson.List"]

    names, pages = run(go())
    assert names == [f"P{i}" for i in range(5)] and pages == 3


def test_errors_carry_status_code_and_message(service: Service):
    async def go() -> FaceAPIError:
        async with make(service) as client:
            with pytest.raises(FaceAPIError) as caught:
                await client.get_collection(PG, "missing")
            return caught.value

    error = run(go())
    assert (error.status, error.code) == (404, "PersonGroupNotFound")
    assert "Person group is not found" in str(error) and error.not_found


def test_the_key_never_appears_in_errors_or_output(tmp_path, monkeypatch: pytest.MonkeyPatch):
    from facesync.emulator import EmulatorSettings
    from facesync.emulator.testing import serve

    secret = "facesync-test-secret-0123456789"
    with serve(EmulatorSettings(key="the-right-key")) as url:
        monkeypatch.chdir(tmp_path)
        ws = Workspace(tmp_path, url)
        write_staff(ws)
        for args in (
            ("plan", "--key", secret, "--debug"),
            ("drift", "-vv"),
            ("apply", "--auto-approve", "--debug"),
        ):
            result = ws.run(*args, env={"FACESYNC_KEY": secret})
            assert result.exit_code == 1
            assert "401" in result.stderr
            assert secret not in result.stdout + result.stderr
        assert "DEBUG" in result.stderr  # debug logging really ran
        for path in tmp_path.rglob("*"):
            if path.is_file() and path.suffix in (".json", ".yaml"):
                assert secret not in path.read_text()
