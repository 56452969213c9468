"""Where the Face service is, and how to reach it.

An endpoint is an https URL of a Face resource, or `local:PATH`: the embedded emulator serving
from the SQLite file PATH, in-process, with no server and no Azure. It authenticates with a key
(`auth: key`, the default) or with Microsoft Entra ID tokens (`auth: entra`, no key at all).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from facesync import secrets
from facesync.client.errors import EndpointError
from facesync.model import AUTH_METHODS

LOCAL_PREFIX = "local:"
_LOCAL_BASE_URL = "http://facesync-local"


@dataclass(frozen=True)
class Endpoint:
    url: str
    """The base URL (no `/face/...` suffix), or `local:PATH`."""
    key: str | None = None
    auth: str = "key"
    """`key` (the `Ocp-Apim-Subscription-Key` header) or `entra` (a bearer token; no key sent)."""

    @property
    def is_local(self) -> bool:
        return self.url.startswith(LOCAL_PREFIX)

    @property
    def local_path(self) -> Path:
        return Path(self.url[len(LOCAL_PREFIX) :])

    def __repr__(self) -> str:
        # The key must never reach logs or tracebacks, even through a repr.
        return f"Endpoint(url={self.url!r}, key={'***' if self.key else None}, auth={self.auth!r})"

    @property
    def display(self) -> str:
        """Scheme and host only (or `local:PATH`): what plans and logs may show."""
        if self.is_local:
            return self.url
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}"


def resolve_endpoint(
    flag_endpoint: str | None,
    flag_key: str | None,
    config_endpoint: str | None,
    environ: Mapping[str, str] | None = None,
    *,
    config_root: Path | None = None,
    flag_auth: str | None = None,
    config_auth: str | None = None,
) -> Endpoint:
    """Flags win, then FACESYNC_ENDPOINT / FACESYNC_KEY / FACESYNC_AUTH, then the config's
    `service.endpoint` and `service.auth`; auth is `key` when nothing says otherwise.

    A relative `local:PATH` in the configuration is relative to the configuration's folder (like
    image paths), so a run from another directory finds the same emulator data; on the command
    line or in the environment it is relative to the working directory, as shells expect.
    """
    env = os.environ if environ is None else environ
    from_config = not (flag_endpoint or env.get("FACESYNC_ENDPOINT"))
    url = flag_endpoint or env.get("FACESYNC_ENDPOINT") or config_endpoint
    key = flag_key or env.get("FACESYNC_KEY") or None
    secrets.register(key)
    secrets.register_environment(env)
    problem = key_problem(key) if key else None
    if problem is not None:
        raise EndpointError(f"{'--key' if flag_key else 'FACESYNC_KEY'} {problem}; nothing was sent")
    auth = resolve_auth(flag_auth or env.get("FACESYNC_AUTH") or config_auth)
    if not url:
        raise EndpointError(
            "no Face endpoint given. Give one of: the --endpoint flag, the FACESYNC_ENDPOINT "
            "environment variable, or `service: {endpoint: ...}` in the configuration "
            "(use `local:PATH` for the embedded emulator)"
        )
    url = url.strip()
    if url.startswith(LOCAL_PREFIX):
        local = url[len(LOCAL_PREFIX) :]
        if not local:
            raise EndpointError(
                "endpoint `local:` needs a path for the emulator's data, e.g. local:.facesync/emulator.sqlite"
            )
        if from_config and config_root is not None and not os.path.isabs(os.path.expanduser(local)):
            local = os.path.normpath(os.path.join(config_root, local))
        return Endpoint(url=LOCAL_PREFIX + local, key=key, auth=auth)
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
    return Endpoint(url=f"{parts.scheme}://{parts.netloc}{path}", key=key, auth=auth)


def resolve_auth(value: str | None) -> str:
    """`key` or `entra` (any case, surrounding blanks ignored); an EndpointError for anything else."""
    auth = (value or "key").strip().lower()
    if auth not in AUTH_METHODS:
        raise EndpointError(f"auth {value!r} is not one of {', '.join(AUTH_METHODS)}")
    return auth


def key_problem(key: str) -> str | None:
    """Why `key` cannot be a Face key, or None. A key travels in an HTTP header, which holds visible
    ASCII only: a line break or a non-ASCII character would fail every request (or be retried).
    The message never quotes the key."""
    for char in key:
        if "!" <= char <= "~":
            continue
        if char in "\r\n":
            what = "a line break"
        elif char in " \t":
            what = "a space or tab"
        elif char.isascii():
            what = "a control character"
        else:
            what = "a non-ASCII character"
        return (
            f"holds {what}, which no Face key has and no HTTP header can carry "
            "(check how the secret was set)"
        )
    return None


_LOOPBACK = ("localhost", "127.0.0.1", "::1")


def require_key(endpoint: Endpoint) -> None:
    """A Face resource needs a key, unless it is reached with `auth: entra`: say so before the
    first call, not after the service's 401. The emulator (`local:`, or a server on this
    machine) may run without one."""
    if endpoint.key or endpoint.is_local or endpoint.auth == "entra":
        return
    host = urlsplit(endpoint.url).hostname or ""
    if host in _LOOPBACK or host.startswith("127."):
        return
    raise EndpointError(
        f"no Face key for {endpoint.display}: set the FACESYNC_KEY environment variable "
        "(or pass --key), or use Microsoft Entra ID with --auth entra; nothing was sent"
    )


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
    except ValueError:
        # The emulator refuses settings it cannot honour (a key no header can carry, …); its
        # words may quote the key, so they are not repeated.
        raise EndpointError(
            f"endpoint {endpoint.url}: the in-process emulator refuses this key (it must be a short "
            "single-line text)"
        ) from None
    return _LOCAL_BASE_URL, httpx.ASGITransport(app=app)
