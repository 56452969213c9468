"""Changes, the plan that holds them, its checksum, and the safety gates.

A plan is a value: rendering, checking and applying it never change it. Each change carries typed
data — an `Address`, an `Action`, a `Reason`, and the desired and live resources themselves — and
everything a person or a machine reads (the before/after fields, the JSON plan, the checksum) is
derived from that data here, in one place.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from facesync.address import Address, ResourceKind
from facesync.livestate import (
    LiveCollection,
    LiveFace,
    LiveMember,
    LivePerson,
    LiveSummary,
    PlanWarning,
    TrainingStatus,
)
from facesync.model import (
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredMember,
    DesiredPerson,
    SourcePos,
)

PLAN_FORMAT_VERSION = 2
"""2: the checksum covers reason codes and no longer the English explanation (1)."""


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    REPLACE = "replace"
    DELETE = "delete"
    TRAIN = "train"

    @property
    def destroys(self) -> bool:
        return self in (Action.DELETE, Action.REPLACE)


class Reason(StrEnum):
    """Why a change is planned, as a code (like Terraform's ActionReason).

    Logic — apply, the safety gates — compares these; people read `Change.explanation`.
    """

    DECLARED = "declared"
    ENSURE_ABSENT = "ensure_absent"
    PRUNED = "pruned"
    NOT_DECLARED = "not_declared"
    FIELDS_CHANGED = "fields_changed"
    RECOGNITION_MODEL_CHANGED = "recognition_model_changed"
    NOTE_CHANGED = "note_changed"
    TWIN = "twin"
    DUPLICATE_FACE = "duplicate_face"
    NO_FINGERPRINT = "no_fingerprint"
    NEW_COLLECTION = "new_collection"
    REPLACED_COLLECTION = "replaced_collection"
    CONTENTS_CHANGED = "contents_changed"
    NEVER_TRAINED = "never_trained"
    TRAINING_FAILED = "training_failed"
    TRAINING_PENDING = "training_pending"
    RENAMED = "renamed"
    """The configuration renames a live person (`renamedFrom`): one PATCH, personId kept."""
    RENAMED_ON_SERVICE = "renamed_on_service"
    """A configured person was renamed by hand on the service (recognised by its faces)."""
    KEPT_FACE_MISSING = "kept_face_missing"
    """A `persistedFaceId:` entry names a face the service does not hold: nothing can re-create it."""
    MODEL_ADDED = "model_added"
    """A directory face enrolled in a model newly listed in recognitionModels."""
    MODEL_REMOVED = "model_removed"
    """A directory face of a model no longer listed in recognitionModels."""


REPAIRS = frozenset({Reason.TWIN, Reason.DUPLICATE_FACE})
"""Deletes that clean up after facesync's own lost responses (a twin person, a duplicate face)."""
RENAMES = frozenset({Reason.RENAMED, Reason.RENAMED_ON_SERVICE})
"""Person updates that change its name in place (the old address is in `before`)."""
UNAPPLIABLE = frozenset({Reason.KEPT_FACE_MISSING})
"""Differences no apply can resolve: a plan holding one is an error, not a change to make."""

DesiredResource = DesiredCollection | DesiredPerson | DesiredFace | DesiredMember
LiveResource = LiveCollection | LiveSummary | LivePerson | LiveFace | LiveMember


@dataclass(frozen=True, slots=True)
class Change:
    action: Action
    address: Address
    reason: Reason
    explanation: str
    """The reason in words, with its particulars (what changed, what is lost)."""
    desired: DesiredResource | None = None
    """What the configuration asks for (None for a delete)."""
    live: LiveResource | None = None
    """What the service holds (None for a create)."""
    owner_id: str | None = None
    """For a face of a person: the live person it is in; for a DynamicPersonGroup's new member:
    the directory person it names (None when this plan creates that person)."""

    @property
    def kind(self) -> ResourceKind:
        return self.address.kind

    @property
    def person_id(self) -> str | None:
        """The live person this change acts on, or in."""
        if isinstance(self.live, LivePerson | LiveMember):
            return self.live.person_id
        return self.owner_id

    @property
    def is_repair(self) -> bool:
        """Deleting facesync's own leftovers (a twin person, a duplicate face): not a loss of data,
        so the delete-share gate does not count it."""
        return self.action is Action.DELETE and self.reason in REPAIRS

    @property
    def persisted_face_id(self) -> str | None:
        return self.live.persisted_face_id if isinstance(self.live, LiveFace) else None

    @property
    def appliable(self) -> bool:
        return self.reason not in UNAPPLIABLE

    @property
    def renamed_from(self) -> Address | None:
        """For a rename: the person's address under its live name."""
        if self.reason in RENAMES and isinstance(self.live, LivePerson):
            return self.address.collection.child_person(self.live.name)
        return None

    @property
    def before(self) -> dict[str, Any] | None:
        if self.action is Action.TRAIN:
            training = self.live.training if isinstance(self.live, LiveCollection) else None
            return {"status": training.status.value} if training is not None else None
        if self.live is None or self.action is Action.CREATE:
            return None
        live = self.live
        if isinstance(live, LiveSummary):
            return {"name": live.name}
        if isinstance(live, LiveMember):
            return {"name": live.name, "personId": live.person_id}
        if isinstance(live, LiveCollection) and live.kind is CollectionKind.DYNAMIC_PERSON_GROUP:
            group: dict[str, Any] = {"name": live.name, "userData": live.user_data}
            if self.action is not Action.UPDATE:
                group["members"] = len(live.members)
            return group
        if isinstance(live, LiveCollection):
            if self.action is Action.UPDATE:
                return _collection_fields(live.name, live.user_data, live.recognition_model)
            fields = _collection_fields(live.name, live.user_data, live.recognition_model)
            if live.kind.has_persons:
                fields["persons"] = len(live.persons)
            fields["faces"] = live.face_count
            return fields
        if isinstance(live, LivePerson):
            fields = {
                "name": live.name,
                "userData": live.user_data,
                "personId": live.person_id,
                "faces": len(live.faces),
            }
            renamed_from = self.renamed_from
            if renamed_from is not None:
                fields["address"] = str(renamed_from)
            return fields
        fields = {"persistedFaceId": live.persisted_face_id, "fingerprint": live.fingerprint}
        if live.recognition_model:
            fields["recognitionModel"] = live.recognition_model
        if live.note:
            fields["note"] = live.note
        return fields

    @property
    def after(self) -> dict[str, Any] | None:
        return self.after_fields()

    def after_fields(self, root: str | None = None) -> dict[str, Any] | None:
        """The configured values; a face's image is shown relative to `root` (the config root)
        when it lies inside it, else as written on disk."""
        if self.action is Action.TRAIN:
            return {"status": TrainingStatus.SUCCEEDED.value}
        desired = self.desired
        if desired is None or self.action is Action.DELETE:
            return None
        if isinstance(desired, DesiredCollection) and desired.kind is CollectionKind.DYNAMIC_PERSON_GROUP:
            return {"name": desired.name, "userData": desired.user_data}
        if isinstance(desired, DesiredCollection):
            return _collection_fields(desired.name, desired.user_data, desired.recognition_model)
        if isinstance(desired, DesiredPerson):
            return {"name": desired.name, "userData": desired.user_data}
        if isinstance(desired, DesiredMember):
            return {"name": desired.name}
        if desired.fingerprint is None:  # a kept face: known by its id alone
            kept: dict[str, Any] = {"persistedFaceId": desired.persisted_face_id}
            if desired.user_data:
                kept["note"] = desired.user_data
            return kept
        fields: dict[str, Any] = {"fingerprint": desired.fingerprint}
        if desired.image_path:
            fields["image"] = display_path(desired.image_path, root)
        if desired.url:
            fields["url"] = desired.url
        if desired.target_face:
            fields["targetFace"] = list(desired.target_face)
        fields["detectionModel"] = desired.detection_model
        if self.address.model:
            fields["recognitionModel"] = self.address.model
        if desired.user_data:
            fields["note"] = desired.user_data
        return fields

    @property
    def source(self) -> SourcePos | None:
        """Where the configuration declares what this change creates or changes."""
        return getattr(self.desired, "pos", None) if self.desired is not None else None

    def to_dict(self, root: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "action": self.action.value,
            "kind": self.kind.value,
            "address": str(self.address),
            "before": self.before,
            "after": self.after_fields(root),
            "reason": self.explanation,
            "reason_code": self.reason.value,
        }
        source = self.source
        if source is not None and self.action is not Action.TRAIN:
            data["source"] = {
                "file": display_path(source.file, root),
                "line": source.line,
                "column": source.column,
            }
        return data


def _collection_fields(name: str | None, user_data: str | None, model: str) -> dict[str, Any]:
    return {"name": name, "userData": user_data, "recognitionModel": model}


def display_path(path: str, root: str | None = None) -> str:
    """`path` relative to `root` (default: the working directory) when inside it, else as given."""
    try:
        rel = os.path.relpath(path, root) if root is not None else os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if rel.startswith("..") else rel


# The checksum covers what decides: what each change does (its action, address, before and after
# values) and why (the reason code). The English explanation is prose and left out, and so are
# local paths and source lines, so a plan made in one checkout verifies in another.
_CHECKSUMMED = ("action", "kind", "address", "before", "after", "reason_code")
_NOT_CHECKSUMMED = frozenset({"image"})


def _checksum_view(change: Mapping[str, Any]) -> dict[str, Any]:
    view = {key: change.get(key) for key in _CHECKSUMMED}
    for side in ("before", "after"):
        values = view[side]
        if isinstance(values, dict):
            view[side] = {k: v for k, v in values.items() if k not in _NOT_CHECKSUMMED}
    return view


def checksum_of(changes: Iterable[Mapping[str, Any]]) -> str:
    """The checksum of changes in their document form (`Change.to_dict()`, or a saved plan's)."""
    canonical = json.dumps(
        [_checksum_view(c) for c in changes], sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class CollectionStats:
    """How much a live collection holds, for the delete-share gate."""

    address: Address
    live_persons: int
    live_faces: int
    protected: bool
    person_faces: tuple[tuple[Address, int], ...] = ()
    """Each live person the plan keeps (by its configured address) and how many faces it holds,
    for the face-loss gate."""


@dataclass(frozen=True, slots=True)
class PlanScope:
    """What a plan was made against, so a saved plan is applied to the same thing."""

    endpoint: str
    """Scheme and host (or `local:PATH`): never a key, never a path with secrets."""
    api_version: str
    config_root: str
    targets: tuple[str, ...] = ()
    environment: str | None = None
    """The `environments:` entry the plan was made for (None without environments)."""

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "endpoint": self.endpoint,
            "api_version": self.api_version,
            "config_root": self.config_root,
            "targets": list(self.targets),
        }
        if self.environment is not None:
            data["environment"] = self.environment
        return data


class ImageProblem(StrEnum):
    """What a check of a new face's image found (`facesync.imagecheck`)."""

    NO_FACE = "no_face"
    SEVERAL_FACES = "several_faces"
    TARGET_TOO_SMALL = "target_too_small"
    TARGET_MATCHES_NO_FACE = "target_matches_no_face"
    FACE_BELOW_MINIMUM = "face_below_minimum"
    IMAGE_REFUSED = "image_refused"
    """The service refused the image itself (format, size, an unreachable URL)."""
    IMAGE_UNREADABLE = "image_unreadable"


@dataclass(frozen=True, slots=True)
class ImageFinding:
    """Why the service would refuse (error) or may mishandle (warning) a face this plan adds."""

    address: Address
    problem: ImageProblem
    error: bool
    """True: adding the face would fail, so the plan cannot be applied; False: a warning."""
    message: str
    image: str
    """The image's path on disk, or its URL."""
    detection_model: str
    source: SourcePos | None = None
    faces: tuple[tuple[int, int, int, int], ...] = ()
    """The face rectangles detection found (left, top, width, height)."""

    def to_dict(self, root: str | None = None) -> dict[str, Any]:
        data: dict[str, Any] = {
            "address": str(self.address),
            "severity": "error" if self.error else "warning",
            "code": self.problem.value,
            "message": self.message,
            "image": self.image if "://" in self.image else display_path(self.image, root),
            "detectionModel": self.detection_model,
            "faces": [list(rect) for rect in self.faces],
        }
        if self.source is not None:
            data["source"] = {
                "file": display_path(self.source.file, root),
                "line": self.source.line,
                "column": self.source.column,
            }
        return data


@dataclass(frozen=True, slots=True)
class ImageChecks:
    """The images of the faces a plan adds, each detected once before anything is written."""

    checked: int
    findings: tuple[ImageFinding, ...] = ()

    @property
    def errors(self) -> tuple[ImageFinding, ...]:
        return tuple(f for f in self.findings if f.error)

    def to_dict(self, root: str | None = None) -> dict[str, Any]:
        return {"checked": self.checked, "findings": [f.to_dict(root) for f in self.findings]}


@dataclass(frozen=True, slots=True)
class Plan:
    changes: tuple[Change, ...] = ()
    unmanaged: tuple[LiveSummary, ...] = ()
    warnings: tuple[PlanWarning, ...] = ()
    stats: tuple[CollectionStats, ...] = ()
    refusals: tuple[Refusal, ...] = ()
    """What the safety gates hold, for the policy the plan was made with (--force lifts them)."""
    scope: PlanScope | None = None
    image_checks: ImageChecks | None = None
    """What detecting the new faces' images found; None when they were not checked. Not in the
    checksum: the images are (their digests are in the fingerprints), and what a detector says of
    them is an opinion of the moment, not a change to review."""

    @property
    def image_errors(self) -> tuple[ImageFinding, ...]:
        return self.image_checks.errors if self.image_checks is not None else ()

    @property
    def empty(self) -> bool:
        return not self.changes

    @property
    def blockers(self) -> tuple[Change, ...]:
        """Changes no apply can make (a kept face the service lost): the plan cannot be applied."""
        return tuple(c for c in self.changes if not c.appliable)

    @property
    def summary(self) -> dict[str, int]:
        counts = {a.value: 0 for a in Action}
        for change in self.changes:
            counts[change.action.value] += 1
        return counts

    @property
    def checksum(self) -> str:
        return checksum_of(c.to_dict() for c in self.changes)

    def to_dict(self) -> dict[str, Any]:
        root = self.scope.config_root if self.scope is not None else None
        data = {
            "format_version": PLAN_FORMAT_VERSION,
            "summary": self.summary,
            "changes": [c.to_dict(root) for c in self.changes],
            "refusals": [r.to_dict() for r in self.refusals],
            "unmanaged": [
                {
                    "kind": u.kind.value,
                    "id": u.id,
                    "name": u.name,
                    "address": str(Address(u.kind, u.id)),
                }
                for u in self.unmanaged
            ],
            "warnings": [w.to_dict() for w in self.warnings],
            "checksum": self.checksum,
        }
        if self.scope is not None:
            data["scope"] = self.scope.to_dict()
        if self.image_checks is not None:
            data["image_checks"] = self.image_checks.to_dict(root)
        return data


class PlanBlocked(Exception):
    """A plan that holds differences no apply can resolve (exit code 1, whatever --force says)."""

    def __init__(self, blockers: tuple[Change, ...]) -> None:
        self.blockers = blockers
        named = "; ".join(_blocker_text(c) for c in blockers[:5])
        more = f"; and {len(blockers) - 5} more" if len(blockers) > 5 else ""
        super().__init__(
            f"{len(blockers)} kept face(s) are not on the service, and a face cannot be re-created "
            f"from its persistedFaceId: {named}{more}. Replace each entry by an image of that face, "
            "or remove it; nothing was written"
        )


class ImagesRefused(PlanBlocked):
    """New faces whose images the service would refuse (exit code 1): found by detecting them at
    plan time, so apply stops before its first write instead of failing halfway."""

    def __init__(self, findings: tuple[ImageFinding, ...]) -> None:
        self.blockers = ()
        self.findings = findings
        named = "; ".join(_finding_text(f) for f in findings[:5])
        more = f"; and {len(findings) - 5} more" if len(findings) > 5 else ""
        Exception.__init__(
            self,
            f"the service would refuse {len(findings)} new face image(s): {named}{more}. Fix or "
            "remove each, or skip the check with --no-check-images; nothing was written",
        )


def _finding_text(finding: ImageFinding) -> str:
    image = finding.image if "://" in finding.image else display_path(finding.image)
    source = finding.source
    where = f", {display_path(source.file)}:{source.line}" if source is not None else ""
    return f"{image} ({finding.address.owner}{where}): {finding.message}"


def _blocker_text(change: Change) -> str:
    source = change.source
    where = f" ({display_path(source.file)}:{source.line})" if source is not None else ""
    return f"{change.address}{where}"


class Gate(StrEnum):
    """The safety gates a plan can trip; each needs --force."""

    PROTECTED = "protected"
    DELETE_SHARE = "delete_share"
    PRUNE = "prune"
    FACE_LOSS = "face_loss"
    """A person that has faces would be left with none (identify could no longer find it)."""
    PROTECTED_ENVIRONMENT = "protected_environment"
    """Needs --force-env NAME, not --force: see `facesync.fleet`."""


@dataclass(frozen=True, slots=True)
class Refusal:
    gate: Gate
    address: Address
    message: str

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str]:
        return {"gate": self.gate.value, "address": str(self.address), "message": self.message}


@dataclass(frozen=True, slots=True)
class SafetyPolicy:
    delete_threshold: float = 0.30
    """Largest share of a collection's persons or faces one plan may delete without --force."""
    min_existing: int = 10
    """Collections smaller than this are never held by the share gate."""


def safety_refusals(plan: Plan, policy: SafetyPolicy) -> list[Refusal]:
    """Why this plan needs --force; empty when it is safe."""
    refusals: list[Refusal] = []
    by_address = {s.address: s for s in plan.stats}
    for change in plan.changes:
        if not change.kind.is_collection or not change.action.destroys:
            continue
        stats = by_address.get(change.address)
        if stats is not None and stats.protected:
            verb = "delete" if change.action is Action.DELETE else "replace"
            refusals.append(
                Refusal(
                    Gate.PROTECTED,
                    change.address,
                    f"{change.address} is protected (protect: true): refusing to {verb} it",
                )
            )
        if change.reason is Reason.PRUNED:
            refusals.append(
                Refusal(
                    Gate.PRUNE,
                    change.address,
                    f"{change.address} would be pruned: pruning deletes unmanaged collections",
                )
            )
    refusals.extend(_face_losses(plan))
    for stats in plan.stats:
        whole = any(c.address == stats.address and c.action.destroys for c in plan.changes)
        persons, faces = (
            (stats.live_persons, stats.live_faces) if whole else _deleted_inside(plan, stats.address)
        )
        for noun, deleted, total in (
            ("persons", persons, stats.live_persons),
            ("faces", faces, stats.live_faces),
        ):
            if total >= policy.min_existing and deleted / total > policy.delete_threshold:
                refusals.append(
                    Refusal(
                        Gate.DELETE_SHARE,
                        stats.address,
                        f"{stats.address}: deleting {deleted} of {total} {noun} "
                        f"({deleted / total:.0%}) is over the {policy.delete_threshold:.0%} threshold",
                    )
                )
    return refusals


def _face_losses(plan: Plan) -> list[Refusal]:
    """A person that holds faces and would hold none after the plan, whatever the group's size:
    its personId survives, but identify can no longer return it."""
    deleted: dict[Address, int] = {}
    added: set[Address] = set()
    for change in plan.changes:
        if change.kind is not ResourceKind.FACE or change.address.person is None:
            continue
        owner = change.address.owner
        if change.action is Action.DELETE:
            deleted[owner] = deleted.get(owner, 0) + 1
        elif change.action in (Action.CREATE, Action.REPLACE) and change.appliable:
            added.add(owner)
    refusals: list[Refusal] = []
    for stats in plan.stats:
        for person, held in stats.person_faces:
            if held and deleted.get(person, 0) >= held and person not in added:
                refusals.append(
                    Refusal(
                        Gate.FACE_LOSS,
                        person,
                        f"{person} would be left with no faces (its {held} face(s) are deleted and "
                        "none is added): identify could no longer find this person",
                    )
                )
    return refusals


def _deleted_inside(plan: Plan, collection: Address) -> tuple[int, int]:
    """Persons and faces a plan deletes inside one collection (a deleted person takes its faces);
    repairs (twins, duplicate faces) do not count."""
    persons = faces = 0
    for change in plan.changes:
        if change.action is not Action.DELETE or not collection.contains(change.address):
            continue
        if change.is_repair:
            continue
        if change.kind is ResourceKind.PERSON:
            persons += 1
            faces += len(change.live.faces) if isinstance(change.live, LivePerson) else 0
        elif change.kind is ResourceKind.FACE:
            faces += 1
    return persons, faces
