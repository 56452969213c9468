"""Auth: the key, a Microsoft Entra ID bearer token, and a resource with local auth disabled."""

from __future__ import annotations

import pytest

from facesync.emulator import EmulatorSettings
from facesync.emulator.errors import ACCESS_DENIED
from tests.emulator.emulator_helpers import assert_error

GROUPS = "/face/v1.2/persongroups"
KEY = {"Ocp-Apim-Subscription-Key": "the-key"}
TOKEN = {"Authorization": "Bearer the-token"}
# The service's answers (docs/emulator.md, "Auth", says where they come from).
LOCAL_AUTH_DISABLED_BODY = (
    b'{"error":{"code":"AuthenticationTypeDisabled","message": '
    b'"Key based authentication is disabled for this resource."}}'
)
TOKEN_MESSAGE = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)


@pytest.fixture
def settings() -> EmulatorSettings:
    return EmulatorSettings(train_seconds=1.0, seed=1, key="the-key", bearer_token="the-token")


def test_the_bearer_token_gets_in_beside_the_key(client):
    assert client.get(GROUPS, headers=TOKEN).status_code == 200
    assert client.get(GROUPS, headers={"Authorization": "bearer the-token"}).status_code == 200
    assert client.get(GROUPS, headers=KEY).status_code == 200


def test_a_wrong_bearer_token_gets_the_gateways_401(client):
    r = client.get(GROUPS, headers={"Authorization": "Bearer not-it"})
    assert r.status_code == 401
    assert r.json() == {"statusCode": 401, "message": TOKEN_MESSAGE}


def test_no_credentials_get_the_keys_401(client):
    assert_error(client.get(GROUPS), 401, "401", ACCESS_DENIED)
    assert_error(client.get(GROUPS, headers={"Authorization": "Basic the-token"}), 401, "401")


@pytest.mark.parametrize("key", ["the-key", "another"])
def test_with_local_auth_disabled_any_key_is_refused_as_the_service_does(client, app, key):
    app.state.emulator.settings.disable_local_auth = True
    r = client.get(GROUPS, headers={"Ocp-Apim-Subscription-Key": key})
    assert r.status_code == 403
    assert r.content == LOCAL_AUTH_DISABLED_BODY
    assert r.headers["x-ms-error-code"] == "AuthenticationTypeDisabled"
    assert client.get(GROUPS, headers=TOKEN).status_code == 200


def test_with_local_auth_disabled_the_control_endpoints_want_the_token_too(client, app):
    app.state.emulator.settings.disable_local_auth = True
    assert client.get("/_emulator/stats", headers=KEY).status_code == 403
    assert client.get("/_emulator/stats", headers=TOKEN).status_code == 200


def test_auth_is_switched_through_the_settings_endpoint(client, app):
    r = client.patch("/_emulator/settings", json={"disable_local_auth": True}, headers=KEY)
    assert r.status_code == 200, r.text
    assert r.json()["bearer_token"] == "***" and r.json()["disable_local_auth"] is True
    assert client.get(GROUPS, headers=KEY).status_code == 403
    r = client.patch("/_emulator/settings", json={"bearer_token": "new-token"}, headers=TOKEN)
    assert r.status_code == 200
    assert client.get(GROUPS, headers=TOKEN).status_code == 401
    assert client.get(GROUPS, headers={"Authorization": "Bearer new-token"}).status_code == 200


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"bearer_token": None, "disable_local_auth": True}, "disable_local_auth needs a bearer_token"),
        ({"bearer_token": ""}, "bearer_token must not be empty"),
        ({"bearer_token": "x" * 20_000}, "at most"),
        ({"disable_local_auth": "yes"}, "true or false"),
    ],
)
def test_settings_that_would_lock_every_client_out_are_refused(client, app, changes, says):
    r = client.patch("/_emulator/settings", json=changes, headers=KEY)
    assert_error(r, 400, "BadArgument")
    assert says in r.json()["error"]["message"]
    settings = app.state.emulator.settings
    assert (settings.bearer_token, settings.disable_local_auth) == ("the-token", False)


def test_in_process_settings_are_checked_too():
    with pytest.raises(ValueError, match="disable_local_auth needs a bearer_token"):
        EmulatorSettings(disable_local_auth=True)
    assert EmulatorSettings(bearer_token="t", disable_local_auth=True).public()["bearer_token"] == "***"
