"""Downloading the image of a `{"url": ...}` body within the service's limits.

The whole download (connect, headers, body) has one deadline, `timeout` seconds: httpx's own
timeout is per operation, so a server that trickles a byte now and then would otherwise hold the
call forever. A body over the image size limit stops at the first byte past it (a declared
Content-Length over it stops before reading at all), and the caller's detection answers 400
InvalidImageSize as for an uploaded image.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from facesync.emulator import detection, errors
from facesync.emulator.bodies import read_capped

log = logging.getLogger(__name__)

URL_TIMEOUT = 5.0
DOWNLOAD_FAILED = (
    "Invalid image URL or error downloading from target server. Remote server error returned: "
    '"An error occurred while sending the request."'
)


def _declared_length(reply: httpx.Response) -> int | None:
    try:
        return int(reply.headers["content-length"])
    except (KeyError, ValueError):
        return None


async def _download(url: str, timeout: float) -> bytes:
    async with (
        httpx.AsyncClient(timeout=timeout, trust_env=False, follow_redirects=True) as client,
        client.stream("GET", url) as reply,
    ):
        if not 200 <= reply.status_code < 300:
            raise errors.invalid_url(DOWNLOAD_FAILED)
        declared = _declared_length(reply)
        if declared is not None and declared > detection.MAX_BYTES:
            raise errors.invalid_image_size(detection.TOO_BIG)
        # MAX_BYTES + 1 at most: enough for detection to answer "too big".
        return await read_capped(reply.aiter_bytes(), detection.MAX_BYTES)


async def fetch_image(url: Any, timeout: float = URL_TIMEOUT) -> bytes:
    """The bytes at `url`, or 400 InvalidURL (bad URL, failure, non-2xx, past the deadline)."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise errors.invalid_url()
    try:
        async with asyncio.timeout(timeout):
            return await _download(url, timeout)
    except TimeoutError:
        log.debug("image download passed its %s s deadline", timeout)
        raise errors.invalid_url(DOWNLOAD_FAILED) from None
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        raise errors.invalid_url(DOWNLOAD_FAILED) from None
