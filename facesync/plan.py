"""Changes, the plan that holds them, its checksum, and the safety gates.

A plan is a value: rendering, checking and applying it never change it. Each change carries what
the reviewer sees (address, before, after, reason) and what apply needs (live ids, desired face).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from facesync.model import CollectionKind, DesiredFace, LiveSummary

PLAN_FORMAT_VERSION = 1


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    TRAIN = "train"


_ACTION_ORDER = {a: i for i, a in enumerate(Action)}


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    kind: str
    """`personGroup`, `largePersonGroup`, `faceList`, `largeFaceList`, `person` or `face`."""
    address: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    reason: str
    collection_kind: CollectionKind
    collection_id: str
    person_name: str | None = None
    person_id: str | None = None
    """The live person the change acts on (or whose face it touches), when it exists."""
    persisted_face_id: str | None = None
    face: DesiredFace | None = None
    sort_key: tuple[Any, ...] = field(default=(), compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "kind": self.kind,
            "address": self.address,
            "before": self.before,
            "after": self.after,
            "reason": self.reason,
        }


# Display-only fields: where a face came from locally. The fingerprint in the address already
# pins the content, so a plan checked out at another path has the same checksum.
_NOT_CHECKSUMMED = frozenset({"image"})


def _checksum_view(change: Change) -> dict[str, Any]:
    data = change.to_dict()
    for side in ("before", "after"):
        if data[side] is not None:
            data[side] = {k: v for k, v in data[side].items() if k not in _NOT_CHECKSUMMED}
    return data


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """How much a live collection holds, for the delete-share gate."""

    address: str
    live_persons: int
    live_faces: int
    protected: bool


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[LiveSummary, ...] = ()
    warnings: tuple[str, ...] = ()
    stats: tuple[CollectionStats, ...] = ()
    prune: bool = False

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def checksum(self) -> str:
        canonical = json.dumps(
            [_checksum_view(c) for c in self.changes], sort_keys=True, separators=(",", ":")
        )
        return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def destroys(self) -> bool:
        return any(c.action in (Action.DELETE, Action.REPLACE) for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": PLAN_FORMAT_VERSION,
            "summary": self.summary,
            "changes": [c.to_dict() for c in self.changes],
            "unmanaged": [
                {"kind": u.kind.value, "id": u.id, "name": u.name, "address": f"{u.kind.value}.{u.id}"}
                for u in self.unmanaged
            ],
            "warnings": list(self.warnings),
            "checksum": self.checksum,
        }


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    delete_threshold: float = 0.30
    """Largest share of a collection's persons or faces one plan may delete without --force."""
    min_existing: int = 10
    """Collections smaller than this are never held by the share gate."""


def safety_refusals(plan: Plan, policy: SafetyPolicy) -> list[str]:
    """Why this plan needs --force; empty when it is safe."""
    reasons: list[str] = []
    by_address = {s.address: s for s in plan.stats}
    for change in plan.changes:
        if change.kind not in ("person", "face") and change.action in (Action.DELETE, Action.REPLACE):
            stats = by_address.get(change.address)
            if stats is not None and stats.protected:
                verb = "delete" if change.action is Action.DELETE else "replace"
                reasons.append(f"{change.address} is protected (protect: true): refusing to {verb} it")
            if change.reason.startswith("pruned"):
                reasons.append(f"{change.address} would be pruned: pruning deletes unmanaged collections")
    for stats in plan.stats:
        replaced_or_deleted = any(
            c.address == stats.address and c.action in (Action.DELETE, Action.REPLACE) for c in plan.changes
        )
        persons, faces = _deleted_inside(plan, stats.address)
        if replaced_or_deleted:
            persons, faces = stats.live_persons, stats.live_faces
        for noun, deleted, total in (
            ("persons", persons, stats.live_persons),
            ("faces", faces, stats.live_faces),
        ):
            if total >= policy.min_existing and deleted / total > policy.delete_threshold:
                reasons.append(
                    f"{stats.address}: deleting {deleted} of {total} {noun} "
                    f"({deleted / total:.0%}) is over the {policy.delete_threshold:.0%} threshold"
                )
    return reasons


def _deleted_inside(plan: Plan, collection_address: str) -> tuple[int, int]:
    """Persons and faces a plan deletes inside one collection (a deleted person takes its faces)."""
    prefix = collection_address + "/"
    persons = faces = 0
    for change in plan.changes:
        if change.action is not Action.DELETE or not change.address.startswith(prefix):
            continue
        if change.kind == "person":
            persons += 1
            faces += int((change.before or {}).get("faces", 0))
        elif change.kind == "face":
            faces += 1
    return persons, faces
