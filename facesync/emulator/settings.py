"""Runtime settings ("knobs") of the Face API emulator."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

TIERS = ("F0", "S0")

# Count limits by tier (identity-quotas-limits; see docs/emulator.md).
_LIMITS: dict[str, dict[str, int]] = {
    "S0": {
        "faces_per_person": 248,
        "faces_per_facelist": 1_000,
        "facelists": 64,
        "persongroups": 1_000_000,
        "persons_per_persongroup": 10_000,
        "largepersongroups": 1_000_000,
        "persons_per_largepersongroup": 1_000_000,
        "largefacelists": 1_000_000,
        "faces_per_largefacelist": 1_000_000,
        "persons_per_directory": 75_000_000,
    },
    "F0": {
        "faces_per_person": 248,
        "faces_per_facelist": 1_000,
        "facelists": 64,
        "persongroups": 1_000,
        "persons_per_persongroup": 1_000,
        "largepersongroups": 1_000,
        "persons_per_largepersongroup": 1_000,
        "largefacelists": 1_000,
        "faces_per_largefacelist": 1_000,
        "persons_per_directory": 1_000,
    },
}
LIMIT_NAMES = tuple(_LIMITS["S0"])


# Bounds of the knobs: past them a setting is a typo or a hang, not a test condition. A latency
# over a minute outlasts every client's timeout; a training base over an hour, every CI job.
LATENCY_MS_MAX = 60_000.0
TRAIN_SECONDS_MAX = 3_600.0
RATE_LIMIT_MAX = 100_000.0
URL_TIMEOUT_MAX = 60.0
LIMIT_MAX = 1_000_000_000
WORKERS_MAX = 64
# Far above a key (32 hex digits) or an Entra ID token (a few KB). Their characters are not
# checked: one a client cannot send simply never matches, as on the service.
SECRET_MAX = 16_384
HIDDEN = "***"


@dataclass
class EmulatorSettings:
    """Knobs of the emulator. All but `data` and `recognition_workers` can be changed at runtime
    (PATCH /_emulator/settings); every value is checked (ValueError) here and there alike.

    data: SQLite path or ":memory:".
    key: when set, requests need header `Ocp-Apim-Subscription-Key` equal to it (else 401).
        None means no key is asked for; an empty key is refused (it would lock every client out).
    bearer_token: when set, `Authorization: Bearer <token>` with this token is accepted too (as
        the service accepts a Microsoft Entra ID token).
    disable_local_auth: refuse the key header like a resource with local auth disabled (403
        AuthenticationTypeDisabled); only the bearer token gets in, so it needs one.
    rate_limit: transactions per second (token bucket, burst max(1, rate)); None = unlimited.
    latency_ms: added to every API call (0 to LATENCY_MS_MAX).
    fault_rate: probability of a random 500/503 before the call does anything.
    lost_response_rate: probability that a successful mutating call is committed, then answered 500.
    train_seconds: base training duration; a run takes train_seconds * (1 + items / 10_000)
        where items = persons + faces (groups) or faces (large face lists).
    operation_seconds: how long a PersonDirectory operation (202 + Operation-Location) takes.
    tier: "F0" or "S0" (count limits).
    seed: seeds the fault RNG.
    limits: overrides of individual count limits (see LIMIT_NAMES), e.g. {"faces_per_person": 2}.
    url_timeout_seconds: deadline of a whole `{"url"}` image download (then 400 InvalidURL).
    recognition_workers: processes running the real recognition engine; 0 = one per core.
    """

    data: str = ":memory:"
    key: str | None = None
    bearer_token: str | None = None
    disable_local_auth: bool = False
    rate_limit: float | None = None
    latency_ms: float = 0
    fault_rate: float = 0
    lost_response_rate: float = 0
    train_seconds: float = 0.2
    operation_seconds: float = 0.2
    tier: str = "S0"
    seed: int | None = None
    limits: dict[str, int] = field(default_factory=dict)
    url_timeout_seconds: float = 5.0
    recognition_workers: int = 0

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name not in READ_ONLY:
                check_setting(name, value)
        check_setting("recognition_workers", self.recognition_workers)
        _check_auth(self.key, self.bearer_token, self.disable_local_auth)

    def limit(self, name: str) -> int:
        if name in self.limits:
            return int(self.limits[name])
        return _LIMITS.get(self.tier, _LIMITS["S0"])[name]

    def public(self) -> dict[str, Any]:
        """The runtime knobs as JSON (not the read-only ones; the key and token are never echoed)."""
        out = asdict(self)
        for name in READ_ONLY:
            out.pop(name)
        out["key"] = None if self.key is None else HIDDEN
        out["bearer_token"] = None if self.bearer_token is None else HIDDEN
        return out

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a PATCH of knobs, all or nothing; ValueError on an unknown field or bad value."""
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name in READ_ONLY or name not in RUNTIME:
                raise ValueError(f"unknown or read-only setting: {name}")
            if name in ("key", "bearer_token") and value == HIDDEN:
                continue  # the value GET showed: unchanged
            check_setting(name, value)
            checked[name] = value
        _check_auth(
            checked.get("key", self.key),
            checked.get("bearer_token", self.bearer_token),
            checked.get("disable_local_auth", self.disable_local_auth),
        )
        for name, value in checked.items():
            setattr(self, name, value)


READ_ONLY = ("data", "recognition_workers")
RUNTIME = tuple(f.name for f in fields(EmulatorSettings) if f.name not in READ_ONLY)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _number_in(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    low_ok = _is_number(value) and (value > low if low_open else value >= low)
    # NaN fails every comparison, infinity the upper bound: neither gets through.
    if not (low_ok and value <= high and math.isfinite(value)):
        bound = f"> {low:g}" if low_open else f">= {low:g}"
        raise ValueError(f"{name} must be a number {bound} and <= {high:g}, not {value!r}")


def _check_secret(name: str, value: Any) -> None:
    if value is None:
        return
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string or null")
    if not value:
        raise ValueError(f"{name} must not be empty (leave it unset, null, for none)")
    if len(value) > SECRET_MAX:
        raise ValueError(f"{name} must be at most {SECRET_MAX} characters")


def check_setting(name: str, value: Any) -> None:
    """ValueError unless `value` is acceptable for setting `name` (shared with the CLI)."""
    if name in ("key", "bearer_token"):
        _check_secret(name, value)
    elif name == "disable_local_auth":
        if not isinstance(value, bool):
            raise ValueError("disable_local_auth must be true or false")
    elif name == "rate_limit":
        if value is not None:
            _number_in(name, value, 0, RATE_LIMIT_MAX, low_open=True)
    elif name == "latency_ms":
        _number_in(name, value, 0, LATENCY_MS_MAX)
    elif name in ("train_seconds", "operation_seconds"):
        _number_in(name, value, 0, TRAIN_SECONDS_MAX)
    elif name == "url_timeout_seconds":
        _number_in(name, value, 0, URL_TIMEOUT_MAX, low_open=True)
    elif name in ("fault_rate", "lost_response_rate"):
        _number_in(name, value, 0, 1)
    elif name == "tier":
        if value not in TIERS:
            raise ValueError("tier must be F0 or S0")
    elif name == "seed":
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            raise ValueError("seed must be an integer or null")
    elif name == "limits":
        if not isinstance(value, dict) or any(
            k not in LIMIT_NAMES or not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= LIMIT_MAX
            for k, v in value.items()
        ):
            raise ValueError(f"limits must map names in {LIMIT_NAMES} to integers from 0 to {LIMIT_MAX}")
    elif name == "recognition_workers":
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= WORKERS_MAX:
            raise ValueError(f"recognition_workers must be an integer from 0 (one per core) to {WORKERS_MAX}")
    elif name == "data":
        if not isinstance(value, str) or not value:
            raise ValueError("data must be a file path or :memory:")
    else:
        raise ValueError(f"unknown or read-only setting: {name}")


def _check_auth(key: str | None, bearer_token: str | None, disable_local_auth: bool) -> None:
    if disable_local_auth and bearer_token is None:
        raise ValueError(
            "disable_local_auth needs a bearer_token: with the key refused and no token, no call could get in"
        )
