"""Who may call: the subscription key, a Microsoft Entra ID bearer token, local auth disabled.

The answers are the service's (sources in docs/emulator.md, "Auth"):
* a missing or wrong key: 401 `{"error":{"code":"401","message":"Access denied due to invalid
  subscription key or wrong API endpoint. ..."}}`;
* any key while local auth is disabled on the resource: 403 AuthenticationTypeDisabled "Key based
  authentication is disabled for this resource." (body byte for byte as the service sends it);
* a bearer token that is not the accepted one: 401 with the gateway's own body
  `{"statusCode": 401, "message": "Unauthorized. Access token is missing, invalid, ..."}`.
"""

from __future__ import annotations

import hmac
import json

from starlette.datastructures import Headers

from facesync.emulator.errors import ACCESS_DENIED, ApiError
from facesync.emulator.settings import EmulatorSettings

KEY_HEADER = "ocp-apim-subscription-key"
LOCAL_AUTH_DISABLED = "Key based authentication is disabled for this resource."
TOKEN_INVALID = (
    "Unauthorized. Access token is missing, invalid, audience is incorrect "
    "(https://cognitiveservices.azure.com), or have expired."
)


def _same(given: str, expected: str) -> bool:
    # Constant-time, so response timing does not leak how much of a guess was right.
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


def _bearer(headers: Headers) -> str | None:
    """The token of an `Authorization: Bearer <token>` header, else None."""
    value = headers.get("authorization")
    if value is None:
        return None
    scheme, _, token = value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


def local_auth_disabled() -> ApiError:
    # Note the space after "message": the service's body, as quoted in the sources.
    body = '{"error":{"code":"AuthenticationTypeDisabled","message": ' + json.dumps(LOCAL_AUTH_DISABLED)
    body += "}}"
    return ApiError(403, "AuthenticationTypeDisabled", LOCAL_AUTH_DISABLED, raw_body=body.encode())


def token_invalid() -> ApiError:
    body = json.dumps({"statusCode": 401, "message": TOKEN_INVALID}, separators=(", ", ": "))
    return ApiError(401, "401", TOKEN_INVALID, raw_body=body.encode())


def authorize(settings: EmulatorSettings, headers: Headers) -> None:
    """Return if the request may go on, else raise the service's answer.

    An emulator with neither a key nor a token is open. A right bearer token gets in whatever
    else the request carries; a key header is refused outright while local auth is disabled.
    """
    token = _bearer(headers)
    if settings.bearer_token is not None and token is not None:
        if _same(token, settings.bearer_token):
            return
        raise token_invalid()
    given_key = headers.get(KEY_HEADER)
    if settings.disable_local_auth:
        if given_key is not None:
            raise local_auth_disabled()
        raise token_invalid()
    if settings.key is None and settings.bearer_token is None:
        return
    if settings.key is not None and given_key is not None and _same(given_key, settings.key):
        return
    if given_key is None and token is not None:
        raise token_invalid()
    raise ApiError(401, "401", ACCESS_DENIED)
