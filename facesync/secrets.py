"""Every secret facesync knows, in one registry, and `scrub` to take them out of any text.

The client registers each key and bearer token it is given; the environments' keys are
registered when the configuration's `environments:` are read; `register_environment` adds
FACESYNC_KEY and the tokens CI runners hold. Whatever leaves facesync — an exception's text,
a log line at any level, what the CLI prints — passes through `scrub`, so a service that echoes
the key back (`BadArgument: key was …`) shows `***` instead.

A value of fewer than `MIN_EMBEDDED_LENGTH` characters (an emulator's test key such as `k0`) is
masked only where it stands alone, between characters that cannot belong to a key: masking every
`k0` inside other words would garble the output and protect nothing a real key needs.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterable, Mapping
from urllib.parse import quote

from facesync.text import printable

MASK = "***"
MIN_EMBEDDED_LENGTH = 8
"""Secrets at least this long are masked wherever they appear, even inside other text."""

CI_SECRET_VARIABLES = (
    "FACESYNC_KEY",
    "GITHUB_TOKEN",
    "ACTIONS_ID_TOKEN_REQUEST_TOKEN",
    "ACTIONS_RUNTIME_TOKEN",
    "AZURE_CLIENT_SECRET",
    "ARM_CLIENT_SECRET",
    "ARM_OIDC_TOKEN",
    "SYSTEM_ACCESSTOKEN",
    "CI_JOB_TOKEN",
)
"""Variables whose values are secrets wherever facesync runs: its own key, and the tokens GitHub
Actions, Azure (service principals, OIDC), Azure Pipelines and GitLab hand to a job."""

_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None
_long_bytes: tuple[bytes, ...] = ()
_bytes_pattern: re.Pattern[bytes] | None = None


def _forms(secret: str) -> set[str]:
    """The secret as it may be echoed back: as sent, URL-encoded, and inside a JSON string."""
    return {secret, quote(secret, safe=""), json.dumps(secret)[1:-1]}


def register(secret: str | None) -> None:
    """Remember `secret` (a key, a token) so that `scrub` masks it from now on; None and empty
    (or blank) values are ignored."""
    global _pattern, _long_bytes, _bytes_pattern
    if secret is None or not secret.strip():
        return
    with _lock:
        new = _forms(secret) - _known
        if not new:
            return
        _known.update(new)
        # Longest first, so that a secret containing another is masked whole.
        ordered = sorted(_known, key=len, reverse=True)
        embedded = [re.escape(s) for s in ordered if len(s) >= MIN_EMBEDDED_LENGTH]
        alone = [re.escape(s) for s in ordered if len(s) < MIN_EMBEDDED_LENGTH]
        parts = []
        if embedded:
            parts.append("|".join(embedded))
        if alone:
            parts.append(r"(?<![\w-])(?:" + "|".join(alone) + r")(?![\w-])")
        _pattern = re.compile("|".join(parts))
        long = [s.encode() for s in ordered if len(s) >= MIN_EMBEDDED_LENGTH]
        _long_bytes = tuple(long)
        _bytes_pattern = re.compile(b"|".join(re.escape(s) for s in long)) if long else None


def register_environment(environ: Mapping[str, str] | None = None, names: Iterable[str] = ()) -> None:
    """Register the values of FACESYNC_KEY, the CI runners' token variables and `names` (an
    environment's `keyEnv`, for instance) found in `environ` (default: the process's)."""
    env = os.environ if environ is None else environ
    for name in (*CI_SECRET_VARIABLES, *names):
        register(env.get(name))


def scrub(text: str) -> str:
    """`text` with every registered secret replaced by `***`."""
    pattern = _pattern
    if pattern is None or not text:
        return text
    return pattern.sub(MASK, text)


def scrub_bytes(data: bytes) -> bytes:
    """`data` (a response body) with every registered secret of `MIN_EMBEDDED_LENGTH` characters
    or more replaced by `***`: the client does this before parsing, so nothing the service
    echoes reaches a plan, a cache or a log. Short test keys are left to `scrub`, which masks
    them only in text shown, never in data."""
    pattern, needles = _bytes_pattern, _long_bytes
    if pattern is None or not any(needle in data for needle in needles):
        return data
    return pattern.sub(MASK.encode(), data)


def clean(text: str) -> str:
    """Untrusted text (from the service, or built from it) made fit to show: secrets masked,
    control and bidi characters escaped (see `facesync.text.printable`)."""
    return printable(scrub(text))


class RedactFilter(logging.Filter):
    """A logging filter for any handler: no record it passes carries a secret or a raw control
    character, whatever its message interpolates (tracebacks are masked too)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = clean(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True
