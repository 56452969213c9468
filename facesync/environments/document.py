"""The document of a run over several environments, and where the environments differ.

`{"format_version", "environments": [plan document + "environment", or an error], "summary",
"differences", "checksum"}`: each plan keeps its own checksum; the document's checksum covers
every environment's name and checksum, so a saved plan is stale when any of them is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from facesync.plan import PLAN_FORMAT_VERSION, Action

IDS = frozenset({"personId", "persistedFaceId"})
"""Ids the service assigns: they differ between resources that hold the same thing."""

_STATE = {
    Action.CREATE: "is missing",
    Action.UPDATE: "differs from the configuration",
    Action.REPLACE: "differs from the configuration (would be replaced)",
    Action.DELETE: "is there but not in the configuration",
    Action.TRAIN: "is not trained on what it holds",
}
IN_SYNC = "matches the configuration"


def combined_checksum(checksums: Mapping[str, str]) -> str:
    canonical = json.dumps(sorted(checksums.items()), separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def environments_document(
    plans: Sequence[tuple[str, Mapping[str, Any] | None, str | None]],
) -> dict[str, Any]:
    """`plans`: (name, plan document or None, error or None) per environment, in order. An
    environment with a plan and an error (a plan no apply can make there) keeps both: its plan
    still counts where the environments differ."""
    entries: list[dict[str, Any]] = []
    totals = {a.value: 0 for a in Action}
    for name, doc, error in plans:
        if doc is None:
            entries.append({"environment": name, "error": error or "not planned"})
            continue
        entries.append({"environment": name, **doc, **({"error": error} if error is not None else {})})
        for action, count in doc["summary"].items():
            totals[action] = totals.get(action, 0) + count
    planned = [e for e in entries if "changes" in e]
    return {
        "format_version": PLAN_FORMAT_VERSION,
        "environments": entries,
        "summary": totals,
        "differences": differences(planned),
        "checksum": combined_checksum({e["environment"]: e["checksum"] for e in planned}),
    }


def _holds(doc: Mapping[str, Any], address: str) -> bool:
    """Whether an environment manages the collection of `address` (its targets, else all)."""
    targets = (doc.get("scope") or {}).get("targets") or []
    if not targets:
        return True
    collection = address.split("/", 1)[0]
    return any(t == collection or collection.endswith(f".{t}") or address.startswith(t) for t in targets)


def _signature(change: Mapping[str, Any]) -> str:
    before = {k: v for k, v in (change.get("before") or {}).items() if k not in IDS}
    return json.dumps([change["action"], before], sort_keys=True)


def differences(docs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Addresses whose live state is not the same in every environment that holds them.

    Each plan compares one environment with the configuration, so two environments agree on an
    address when both plan the same change there (or none): an address changed alike everywhere
    is a configuration not applied yet, not a difference between environments.
    """
    if len(docs) < 2:
        return []
    per_env: list[tuple[str, dict[str, Mapping[str, Any]]]] = [
        (doc["environment"], {c["address"]: c for c in doc["changes"]}) for doc in docs
    ]
    addresses = list(dict.fromkeys(a for _, changes in per_env for a in changes))
    found: list[dict[str, Any]] = []
    for address in addresses:
        holders = [
            (name, changes)
            for (name, changes), doc in zip(per_env, docs, strict=True)
            if _holds(doc, address)
        ]
        if len(holders) < 2:
            continue
        signatures = {_signature(changes[address]) if address in changes else "" for _, changes in holders}
        if len(signatures) < 2:
            continue
        found.append(
            {
                "address": address,
                "environments": {
                    name: _STATE[Action(changes[address]["action"])] if address in changes else IN_SYNC
                    for name, changes in holders
                },
            }
        )
    return found


def plan_checksums(doc: Mapping[str, Any]) -> dict[str, str]:
    """The reviewed checksum of each environment in a saved document (one plan or several)."""
    if "environments" in doc:
        return {
            str(e["environment"]): str(e["checksum"])
            for e in doc["environments"]
            if isinstance(e, dict) and "checksum" in e
        }
    name = (doc.get("scope") or {}).get("environment")
    return {str(name): str(doc["checksum"])} if name else {}


def plan_scopes(doc: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    if "environments" in doc:
        return {
            str(e["environment"]): e.get("scope") or {}
            for e in doc["environments"]
            if isinstance(e, dict) and "checksum" in e
        }
    scope = doc.get("scope") or {}
    return {str(scope["environment"]): scope} if scope.get("environment") else {}
