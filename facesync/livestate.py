"""The live state: what the service holds, as immutable values (read by `facesync.live`).

Split from `facesync.model` so that reading a configuration (`facesync validate`) does not build
these classes: each dataclass costs start-up time.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from facesync.model import SERVICE_DEFAULT_RECOGNITION_MODEL, CollectionKind


class TrainingStatus(StrEnum):
    NOT_TRAINED = "nottrained"
    """The service answered 404 *NotTrained: training was never requested."""
    NOT_STARTED = "notstarted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"

    @classmethod
    def parse(cls, raw: str) -> TrainingStatus:
        """Service spelling differs per API version (`nonstarted`, `notstarted`, `notStarted`)."""
        value = raw.strip().lower()
        if value in ("nonstarted", "notstarted"):
            return cls.NOT_STARTED
        return cls(value)


@dataclass(frozen=True, slots=True)
class LiveTraining:
    status: TrainingStatus
    message: str | None = None


@dataclass(frozen=True, slots=True)
class LiveFace:
    persisted_face_id: str
    user_data: str | None
    fingerprint: str | None
    """Parsed from user_data; None for a face facesync did not write (or whose data is unknown)."""
    note: str | None = None
    """The user's part of user_data, beside the fingerprint."""
    known: bool = False
    """The local cache says facesync itself wrote this face with this userData: of two faces with
    one fingerprint, this is the genuine one (the other's userData was copied)."""
    recognition_model: str | None = None
    """Only for a directory person's face: the model it is enrolled in."""


@dataclass(frozen=True, slots=True)
class LivePerson:
    person_id: str
    name: str
    user_data: str | None = None
    faces: tuple[LiveFace, ...] = ()


@dataclass(frozen=True, slots=True)
class LiveMember:
    """A DynamicPersonGroup's member on the service: a personId, and the name of the directory
    person it refers to (None when the directory has no such person)."""

    person_id: str
    name: str | None


@dataclass(frozen=True, slots=True)
class LiveCollection:
    kind: CollectionKind
    id: str
    name: str
    user_data: str | None = None
    recognition_model: str = SERVICE_DEFAULT_RECOGNITION_MODEL
    persons: tuple[LivePerson, ...] = ()
    faces: tuple[LiveFace, ...] = ()
    training: LiveTraining | None = None
    """None for a FaceList (no training) or when not read."""
    members: tuple[LiveMember, ...] = ()
    """Only for a DynamicPersonGroup: the directory persons it references."""

    @property
    def face_count(self) -> int:
        return len(self.faces) + sum(len(p.faces) for p in self.persons)


@dataclass(frozen=True, slots=True)
class LiveSummary:
    """A collection the service holds that facesync only lists (unmanaged or not targeted)."""

    kind: CollectionKind
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class PlanWarning:
    """Something a plan found worth saying that is not a change: a code for scripts, the address
    it is about (None for the whole run), and a sentence for people."""

    code: str
    message: str
    address: str | None = None

    def __str__(self) -> str:
        return self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "address": self.address, "message": self.message}


@dataclass(frozen=True, slots=True)
class LiveState:
    collections: tuple[LiveCollection, ...] = ()
    """Fully read collections: the ones the configuration declares (and targets)."""
    others: tuple[LiveSummary, ...] = ()
    """Every other collection on the service."""
    warnings: tuple[PlanWarning, ...] = ()
    """What reading found suspicious (cached faces that differed from the service)."""
    verified: int = 0
    """Cached faces checked against the service on this read (the sample, and any escalation)."""

    def collection(self, kind: CollectionKind, collection_id: str) -> LiveCollection | None:
        for c in self.collections:
            if c.kind is kind and c.id == collection_id:
                return c
        return None
