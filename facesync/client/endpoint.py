"""Where the Face service is, and how to reach it.

An endpoint is an https URL of a Face resource, or `local:PATH`: the embedded emulator serving
from the SQLite file PATH, in-process, with no server and no Azure.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from facesync.client.errors import EndpointError

LOCAL_PREFIX = "local:"
_LOCAL_BASE_URL = "http://facesync-local"


@dataclass(frozen=True)
class Endpoint:
    url: str
    """The base URL (no `/face/...` suffix), or `local:PATH`."""
    key: str | None = None

    @property
    def is_local(self) -> bool:
        return self.url.startswith(LOCAL_PREFIX)

    @property
    def local_path(self) -> Path:
        return Path(self.url[len(LOCAL_PREFIX) :])

    def __repr__(self) -> str:
        # The key must never reach logs or tracebacks, even through a repr.
        return f"Endpoint(url={self.url!r}, key={'***' if self.key else None})"

    @property
    def display(self) -> str:
        return self.url


def resolve_endpoint(
    flag_endpoint: str | None,
    flag_key: str | None,
    config_endpoint: str | None,
    environ: dict[str, str] | None = None,
) -> Endpoint:
    """Flags win, then FACESYNC_ENDPOINT / FACESYNC_KEY, then the config's `service.endpoint`."""
    env = os.environ if environ is None else environ
    url = flag_endpoint or env.get("FACESYNC_ENDPOINT") or config_endpoint
    key = flag_key or env.get("FACESYNC_KEY") or None
    if not url:
        raise EndpointError(
            "no Face endpoint given. Give one of: the --endpoint flag, the FACESYNC_ENDPOINT "
            "environment variable, or `service: {endpoint: ...}` in the configuration "
            "(use `local:PATH` for the embedded emulator)"
        )
    url = url.strip()
    if url.startswith(LOCAL_PREFIX):
        if not url[len(LOCAL_PREFIX) :]:
            raise EndpointError(
                "endpoint `local:` needs a path for the emulator's data, e.g. local:.facesync/emulator.sqlite"
            )
        return Endpoint(url=url, key=key)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- parsing the port is what rejects 127.0.0.1:99999
    except ValueError as exc:
        raise EndpointError(f"endpoint {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.netloc or not parts.hostname:
        raise EndpointError(
            f"endpoint {url!r} is not an http(s) URL or local:PATH "
            "(expected e.g. https://my-face.cognitiveservices.azure.com)"
        )
    path = parts.path.rstrip("/")
    # People paste the full API URL from the portal; accept it.
    for suffix in ("/face/v1.0", "/face/v1.2", "/face"):
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return Endpoint(url=f"{parts.scheme}://{parts.netloc}{path}", key=key)


def build_transport(endpoint: Endpoint) -> tuple[str, httpx.AsyncBaseTransport | None]:
    """The base URL for httpx and, for `local:`, an in-process transport to the emulator."""
    if not endpoint.is_local:
        return endpoint.url, None
    # The emulator is imported only here: facesync code never depends on it otherwise.
    from facesync.emulator import EmulatorSettings, create_app

    path = endpoint.local_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        app = create_app(EmulatorSettings(data=str(path), key=endpoint.key))
    except (OSError, sqlite3.Error) as exc:
        raise EndpointError(
            f"endpoint {endpoint.url}: cannot open the emulator's data file {path}: {exc}"
        ) from None
    return _LOCAL_BASE_URL, httpx.ASGITransport(app=app)
