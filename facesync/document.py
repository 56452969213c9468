"""The document a run produces, and plan files read back.

A run over one resource (a configuration without `environments:`) produces the plan document
(`Plan.to_dict()`, schemas/plan.schema.json). A run over environments produces
`{"format_version", "environments": [plan document + "environment", or an error], "summary",
"differences", "checksum"}`: each plan keeps its own checksum; the document's checksum covers every
environment's name and checksum, so a saved plan is stale when any of them is.

A plan file is evidence of what was reviewed: `read_plan_file` checks its shape, refuses another
format version, and recomputes every checksum from the file's own changes — a file edited after it
was made (a delete removed, a checksum kept) is refused, never shown or applied as it stands.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facesync.model import API_VERSIONS
from facesync.plan import PLAN_FORMAT_VERSION, Action, checksum_of

IDS = frozenset({"personId", "persistedFaceId"})
"""Ids the service assigns: they differ between resources that hold the same thing."""

MAX_PLAN_FILE_BYTES = 256 * 1024 * 1024
"""A plan of 10,000 persons × 248 faces is about 2 GB of changes in the worst case nobody reviews;
real plans are far smaller. Past this a file is refused before it is parsed."""

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


def is_environments(doc: Mapping[str, Any]) -> bool:
    return "environments" in doc


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


# -- plan files ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Saved:
    """What a saved plan fixes for the run that applies it, per resource (None: no environments)."""

    checksums: Mapping[str | None, str]
    targets: Mapping[str | None, tuple[str, ...]]
    api_versions: Mapping[str | None, str]


class PlanFileError(ValueError):
    """A plan file that cannot be used. `refused` (exit 3): it was changed after it was made."""

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused


@dataclass(frozen=True)
class PlanFile:
    path: Path
    doc: dict[str, Any]

    @property
    def checksum(self) -> str:
        return str(self.doc["checksum"])

    @property
    def plans(self) -> dict[str | None, dict[str, Any]]:
        """Each resource's plan document by environment (None: a configuration without them)."""
        return plans_by_name(self.doc)

    def saved(self) -> Saved:
        """What the file fixes for the apply that honours it, per resource."""
        by_name = self.plans
        return Saved(
            checksums={name: str(p["checksum"]) for name, p in by_name.items()},
            targets={name: tuple(p["scope"]["targets"]) for name, p in by_name.items() if p.get("scope")},
            api_versions={name: p["scope"]["api_version"] for name, p in by_name.items() if p.get("scope")},
        )

    def endpoint(self, name: str | None) -> str | None:
        scope = (self.plans.get(name) or {}).get("scope")
        return str(scope["endpoint"]) if scope else None


def plans_by_name(doc: Mapping[str, Any]) -> dict[str | None, dict[str, Any]]:
    """The plans of a document: its environments' (those planned), or the one plan by None."""
    if is_environments(doc):
        return {e["environment"]: e for e in doc["environments"] if "changes" in e}
    return {None: dict(doc)}


def read_plan_file(path: Path) -> PlanFile:
    """A plan file written by `plan --out`, checked: its shape (one line for anything else), its
    format version, and that every checksum still matches the changes beside it."""
    from facesync.localfiles import read_regular_file

    try:
        # A regular file of bounded size: a FIFO or a link to /dev/zero must not hang the read.
        raw = read_regular_file(path, limit=MAX_PLAN_FILE_BYTES)
    except OSError as exc:
        raise PlanFileError(f"cannot read plan file {path}: {exc.strerror or exc}") from None
    try:
        doc = json.loads(raw)
    except RecursionError:
        raise PlanFileError(f"{path} is not a facesync plan: its JSON nests too deeply") from None
    except ValueError as exc:
        raise PlanFileError(f"{path} is not a facesync plan: not JSON ({exc})") from None
    problem = _shape_problem(doc)
    if problem is not None:
        raise PlanFileError(f"{path} is not a plan this version of facesync can read: {problem}")
    plans = plans_by_name(doc)
    for name, plan in plans.items():
        if checksum_of(plan["changes"]) != plan["checksum"]:
            where = f" (environment {name})" if name is not None else ""
            raise PlanFileError(
                f"the plan file {path} was modified after it was made: its changes{where} no longer "
                "match its checksum; make the plan again with `facesync plan --out FILE`",
                refused=True,
            )
    if is_environments(doc):
        planned = {str(name): plan["checksum"] for name, plan in plans.items()}
        if combined_checksum(planned) != doc["checksum"]:
            raise PlanFileError(
                f"the plan file {path} was modified after it was made: its environments no longer "
                "match its checksum; make the plan again with `facesync plan --out FILE`",
                refused=True,
            )
    return PlanFile(path, doc)


_ACTIONS = frozenset(a.value for a in Action)


def _shape_problem(doc: Any) -> str | None:
    """What makes `doc` unusable as a plan document, in a few words; None when it is usable."""
    if not isinstance(doc, dict):
        return "the document is not a JSON object"
    version = doc.get("format_version")
    if version != PLAN_FORMAT_VERSION:
        if isinstance(version, int) and not isinstance(version, bool) and version < PLAN_FORMAT_VERSION:
            return (
                f"it has plan format {version}, made by an older facesync; this one reads format "
                f"{PLAN_FORMAT_VERSION}: make the plan again with `facesync plan --out FILE`"
            )
        return f"format_version {json.dumps(version)[:40]} is not {PLAN_FORMAT_VERSION}"
    if not isinstance(doc.get("checksum"), str):
        return "no checksum"
    if is_environments(doc):
        entries = doc["environments"]
        if not isinstance(entries, list) or not entries:
            return "'environments' is not a list of plans"
        names: set[str] = set()
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("environment"), str):
                return "an environment entry has no name"
            if entry["environment"] in names:
                return f"environment {entry['environment']!r} appears twice"
            names.add(entry["environment"])
            if "changes" not in entry:
                continue
            problem = _plan_problem(entry)
            if problem is not None:
                return f"environment {entry['environment']!r}: {problem}"
        return None
    return _plan_problem(doc)


def _plan_problem(doc: Mapping[str, Any]) -> str | None:
    if not isinstance(doc.get("checksum"), str):
        return "no checksum"
    changes = doc.get("changes")
    if not isinstance(changes, list):
        return "'changes' is not a list"
    for i, change in enumerate(changes):
        if not isinstance(change, dict):
            return f"change {i + 1} is not an object"
        if change.get("action") not in _ACTIONS:
            return f"change {i + 1} has no known action"
        for key in ("kind", "address", "reason", "reason_code"):
            if not isinstance(change.get(key), str):
                return f"change {i + 1} has no {key}"
        for side in ("before", "after"):
            if change.get(side) is not None and not isinstance(change.get(side), dict):
                return f"change {i + 1}: '{side}' is not an object"
    for key in ("unmanaged", "warnings", "refusals"):
        if not isinstance(doc.get(key, []), list):
            return f"'{key}' is not a list"
    if doc.get("image_checks") is not None:
        problem = _image_checks_problem(doc["image_checks"])
        if problem is not None:
            return f"'image_checks': {problem}"
    scope = doc.get("scope")
    if scope is not None:
        if not isinstance(scope, dict):
            return "'scope' is not an object"
        for key in ("endpoint", "api_version", "config_root"):
            if not isinstance(scope.get(key), str):
                return f"'scope' has no {key}"
        if not isinstance(scope.get("targets", []), list) or not all(
            isinstance(t, str) for t in scope.get("targets", [])
        ):
            return "'scope.targets' is not a list of addresses"
        if scope["api_version"] not in API_VERSIONS:
            return f"unknown api_version {json.dumps(scope['api_version'])[:40]}"
    return None


def _image_checks_problem(checks: Any) -> str | None:
    """What makes a saved plan's image checks unrenderable (they are not in the checksum: shown
    as they are, but never trusted to be of the right shape)."""
    if not isinstance(checks, dict):
        return "not an object"
    if not isinstance(checks.get("checked"), int) or not isinstance(checks.get("findings"), list):
        return "no 'checked' count or 'findings' list"
    for i, finding in enumerate(checks["findings"]):
        if not isinstance(finding, dict):
            return f"finding {i + 1} is not an object"
        for key in ("address", "severity", "message", "image"):
            if not isinstance(finding.get(key), str):
                return f"finding {i + 1} has no {key}"
        source = finding.get("source")
        if source is not None and not (
            isinstance(source, dict)
            and isinstance(source.get("file"), str)
            and all(type(source.get(k)) is int for k in ("line", "column"))
        ):
            return f"finding {i + 1} has a malformed source"
    return None


def with_summary(doc: dict[str, Any]) -> dict[str, Any]:
    """A plan document whose summary is counted from its changes (a saved file's own summary is
    not trusted: the checksum does not cover it)."""
    if is_environments(doc):
        entries = [with_summary(e) if "changes" in e else e for e in doc["environments"]]
        totals = {a.value: 0 for a in Action}
        for entry in entries:
            for action, count in (entry.get("summary") or {}).items():
                totals[action] = totals.get(action, 0) + count
        return {**doc, "environments": entries, "summary": totals}
    counts = {a.value: 0 for a in Action}
    for change in doc["changes"]:
        counts[change["action"]] += 1
    return {**doc, "summary": counts}
