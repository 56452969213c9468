"""Runtime settings ("knobs") of the Face API emulator."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
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


@dataclass
class EmulatorSettings:
    """Knobs of the emulator. All but `data` can be changed at runtime (PATCH /_emulator/settings).

    data: SQLite path or ":memory:".
    key: when set, requests need header `Ocp-Apim-Subscription-Key` equal to it (else 401).
    rate_limit: transactions per second (token bucket, burst max(1, rate)); None = unlimited.
    latency_ms: added to every API call.
    fault_rate: probability of a random 500/503 before the call does anything.
    lost_response_rate: probability that a successful mutating call is committed, then answered 500.
    train_seconds: base training duration; a run takes train_seconds * (1 + items / 10_000)
        where items = persons + faces (groups) or faces (large face lists).
    operation_seconds: how long a PersonDirectory operation (202 + Operation-Location) takes.
    tier: "F0" or "S0" (count limits).
    seed: seeds the fault RNG.
    limits: overrides of individual count limits (see LIMIT_NAMES), e.g. {"faces_per_person": 2}.
    """

    data: str = ":memory:"
    key: str | None = None
    rate_limit: float | None = None
    latency_ms: float = 0
    fault_rate: float = 0
    lost_response_rate: float = 0
    train_seconds: float = 0.2
    operation_seconds: float = 0.2
    tier: str = "S0"
    seed: int | None = None
    limits: dict[str, int] = field(default_factory=dict)

    def limit(self, name: str) -> int:
        if name in self.limits:
            return int(self.limits[name])
        return _LIMITS.get(self.tier, _LIMITS["S0"])[name]

    def public(self) -> dict[str, Any]:
        """The runtime knobs as JSON (everything but `data`; the key is never echoed)."""
        out = asdict(self)
        out.pop("data")
        out["key"] = None if self.key is None else "***"
        return out

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a PATCH of knobs; raises ValueError on an unknown field or bad value."""
        checked: dict[str, Any] = {}
        for name, value in changes.items():
            if name == "key":
                if value is not None and not isinstance(value, str):
                    raise ValueError("key must be a string or null")
            elif name in ("rate_limit",):
                if value is not None and (not _is_number(value) or value <= 0):
                    raise ValueError("rate_limit must be a positive number or null")
            elif name in ("latency_ms", "train_seconds", "operation_seconds"):
                if not _is_number(value) or value < 0:
                    raise ValueError(f"{name} must be a number >= 0")
            elif name in ("fault_rate", "lost_response_rate"):
                if not _is_number(value) or not 0 <= value <= 1:
                    raise ValueError(f"{name} must be a number in [0, 1]")
            elif name == "tier":
                if value not in TIERS:
                    raise ValueError("tier must be F0 or S0")
            elif name == "seed":
                if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
                    raise ValueError("seed must be an integer or null")
            elif name == "limits":
                if not isinstance(value, dict) or any(
                    k not in LIMIT_NAMES or not isinstance(v, int) or v < 0 for k, v in value.items()
                ):
                    raise ValueError(f"limits must map names in {LIMIT_NAMES} to integers >= 0")
            else:
                raise ValueError(f"unknown or read-only setting: {name}")
            checked[name] = value
        for name, value in checked.items():
            setattr(self, name, value)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
