"""How requests prove who sends them: a Face key, or a Microsoft Entra ID token.

A key goes in the `Ocp-Apim-Subscription-Key` header. With `auth: entra` no key exists: a token
for the Cognitive Services scope comes from azure-identity's `DefaultAzureCredential` (workload
identity federation — GitHub Actions' azure/login with OIDC —, a managed identity, the Azure
CLI's login) and is sent as `Authorization: Bearer …`. The token is fetched before the first
request, kept, and fetched again before it expires, as measured on the client's own clock; every
token is registered as a secret, so no output ever shows it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from facesync import secrets
from facesync.client.errors import AuthError, EndpointError

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

log = logging.getLogger(__name__)
# azure-identity logs each failed credential as a warning over several lines; facesync says what
# failed in its own one line (AuthError). Without a handler of its own, Python's last-resort
# handler would print those lines to stderr.
logging.getLogger("azure").addHandler(logging.NullHandler())

ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
ENTRA_EXTRA = "pip install 'facesync[entra]'"
REFRESH_MARGIN = 300.0
"""A token is replaced this many seconds before it expires (or at half its life, if shorter),
so no request carries one that runs out in flight: azure-core's own policies use five minutes."""


class Auth(Protocol):
    async def headers(self) -> dict[str, str]:
        """The headers that authenticate the next request."""

    def rejected(self) -> bool:
        """The service answered 401: True when trying again with fresh credentials may help."""


class KeyAuth:
    def __init__(self, key: str | None) -> None:
        secrets.register(key)
        if key and not all("!" <= char <= "~" for char in key):
            # httpx would fail to encode it on the first request, or send a broken header.
            raise EndpointError(
                "the Face key holds a space, a line break, a control or a non-ASCII character, "
                "which no key has and no HTTP header can carry (check how the secret was set); "
                "nothing was sent"
            )
        self._headers = {"Ocp-Apim-Subscription-Key": key} if key else {}

    async def headers(self) -> dict[str, str]:
        return self._headers

    def rejected(self) -> bool:
        return False


def default_credential() -> TokenCredential:
    """azure-identity's DefaultAzureCredential, or an error naming the extra that brings it."""
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise EndpointError(
            f"auth entra needs the azure-identity package: {ENTRA_EXTRA}; nothing was sent"
        ) from None
    return DefaultAzureCredential()


class EntraAuth:
    """Bearer tokens from `credential`, refreshed on `clock` before they expire.

    `wall` is the time the token's `expires_on` (seconds since the epoch) is measured against,
    once, when the token arrives; from then on only `clock` (the client's, which tests drive)
    decides when the token is old."""

    def __init__(
        self,
        host: str,
        credential: TokenCredential | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._host = host
        self._credential = credential if credential is not None else default_credential()
        self._clock = clock
        self._wall = wall
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = asyncio.Lock()
        self.fetched = 0
        """Tokens fetched so far (tests read it)."""

    async def headers(self) -> dict[str, str]:
        async with self._lock:
            if self._token is None or self._clock() >= self._renew_at:
                await self._fetch()
            assert self._token is not None
            return {"Authorization": f"Bearer {self._token}"}

    def rejected(self) -> bool:
        had = self._token is not None
        self._token = None
        return had

    async def _fetch(self) -> None:
        fetching_at = self._clock()
        try:
            # The credential blocks (it may run `az` or call the identity endpoint): off the loop.
            token = await asyncio.to_thread(self._credential.get_token, ENTRA_SCOPE)
        except Exception as exc:
            raise AuthError(self._host, _credential_failure(exc)) from None
        secrets.register(token.token)
        lifetime = max(0.0, float(token.expires_on) - self._wall())
        margin = min(REFRESH_MARGIN, lifetime / 2)
        self._token = token.token
        self._renew_at = fetching_at + lifetime - margin
        self.fetched += 1
        log.info(
            "got a Microsoft Entra ID token for %s, valid for %.0f s; renewing it after %.0f s",
            *(self._host, lifetime, lifetime - margin),
        )


def _credential_failure(exc: Exception) -> str:
    """azure-identity explains a failure over several lines (one per credential it tried): one
    line of it, without the troubleshooting links."""
    lines = [line.strip() for line in str(exc).splitlines()]
    kept = [line for line in lines if line and "aka.ms/" not in line and not line.startswith("To mitigate")]
    text = " ".join(kept) or type(exc).__name__
    return secrets.clean(text if len(text) <= 600 else text[:600] + "…")
