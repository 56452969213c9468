"""The desired state (from the configuration), and the kinds, models and names it shares with the
live state (`facesync.livestate`, from the service).

Everything here is immutable: desired and live state are values, and the planner only compares them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class CollectionKind(StrEnum):
    """What facesync manages; the value is the config key's singular (used in addresses).

    The four classic collections, and the preview APIs' PersonDirectory (one per resource: its
    id is empty) and DynamicPersonGroups (ids like a collection's; members are directory persons).
    """

    PERSON_GROUP = "personGroup"
    LARGE_PERSON_GROUP = "largePersonGroup"
    FACE_LIST = "faceList"
    LARGE_FACE_LIST = "largeFaceList"
    PERSON_DIRECTORY = "personDirectory"
    DYNAMIC_PERSON_GROUP = "dynamicPersonGroup"

    @property
    def config_key(self) -> str:
        """Top-level key in the YAML config, e.g. `personGroups` (`personDirectory`: one)."""
        return self.value if self.singleton else f"{self.value}s"

    @property
    def path_segment(self) -> str:
        """URL segment under the API prefix, e.g. `persongroups` (`persons` for the directory)."""
        return "persons" if self.singleton else f"{self.value.lower()}s"

    @property
    def id_field(self) -> str:
        """JSON field that carries the collection id, e.g. `personGroupId`."""
        return f"{self.value}Id"

    @property
    def has_persons(self) -> bool:
        return self in (
            CollectionKind.PERSON_GROUP,
            CollectionKind.LARGE_PERSON_GROUP,
            CollectionKind.PERSON_DIRECTORY,
        )

    @property
    def trainable(self) -> bool:
        # A FaceList needs no training, and the directory updates itself.
        return self in (
            CollectionKind.PERSON_GROUP,
            CollectionKind.LARGE_PERSON_GROUP,
            CollectionKind.LARGE_FACE_LIST,
        )

    @property
    def classic(self) -> bool:
        """One of the four collections every API version serves (listed with `GET /{segment}`)."""
        return self not in DIRECTORY_KINDS

    @property
    def singleton(self) -> bool:
        """The PersonDirectory: one per resource, no id, never created or deleted."""
        return self is CollectionKind.PERSON_DIRECTORY

    @property
    def label(self) -> str:
        """Human name: `PersonGroup`, `LargeFaceList`, ..."""
        return self.value[0].upper() + self.value[1:]


CLASSIC_KINDS: tuple[CollectionKind, ...] = (
    CollectionKind.PERSON_GROUP,
    CollectionKind.LARGE_PERSON_GROUP,
    CollectionKind.FACE_LIST,
    CollectionKind.LARGE_FACE_LIST,
)
DIRECTORY_KINDS: tuple[CollectionKind, ...] = (
    CollectionKind.PERSON_DIRECTORY,
    CollectionKind.DYNAMIC_PERSON_GROUP,
)
DIRECTORY_ID = ""
"""The PersonDirectory's collection id: there is one per resource."""

RECOGNITION_MODELS: tuple[str, ...] = (
    "recognition_01",
    "recognition_02",
    "recognition_03",
    "recognition_04",
)
DETECTION_MODELS: tuple[str, ...] = ("detection_01", "detection_02", "detection_03")
# What the service uses when a create call names no model.
SERVICE_DEFAULT_RECOGNITION_MODEL = "recognition_01"
SERVICE_DEFAULT_DETECTION_MODEL = "detection_01"

DIRECTORY_API_VERSIONS: tuple[str, ...] = ("v1.2-preview.1", "v1.1-preview.1", "v1.0-preview")
"""The API versions that serve the PersonDirectory and DynamicPersonGroups, newest first: the
preview APIs (v1.2 dropped them). A configuration with either selects one with service.apiVersion."""
API_VERSIONS: tuple[str, ...] = ("v1.0", "v1.2", *reversed(DIRECTORY_API_VERSIONS))
AUTH_METHODS: tuple[str, ...] = ("key", "entra")
"""How facesync authenticates to a Face resource: its key, or a Microsoft Entra ID token."""


@dataclass(frozen=True, slots=True)
class SourcePos:
    """Where a desired resource was declared: 1-based line and column, as editors show them."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


TargetFace = tuple[int, int, int, int]
"""A face rectangle `(left, top, width, height)` in image pixels."""


# ---------------------------------------------------------------------------------------------
# Desired state: what the configuration asks for.
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DesiredFace:
    """One face the configuration asks for.

    Exactly one of `image_path`, `url` or `persisted_face_id` is set. `fingerprint` identifies the
    face on the service (see `facesync.fingerprint`); a `persisted_face_id` entry has no fingerprint:
    it keeps a live face that no local image describes.
    """

    fingerprint: str | None
    image_path: str | None = None
    url: str | None = None
    persisted_face_id: str | None = None
    target_face: TargetFace | None = None
    detection_model: str = SERVICE_DEFAULT_DETECTION_MODEL
    user_data: str | None = None
    """The user's own note, stored beside the fingerprint in the persisted face's userData."""
    image_sha256: str | None = None
    pos: SourcePos | None = None

    @property
    def key(self) -> str:
        """Identity used in addresses and for matching: fingerprint, or the kept persistedFaceId."""
        if self.fingerprint is not None:
            return self.fingerprint
        assert self.persisted_face_id is not None
        return self.persisted_face_id


@dataclass(frozen=True, slots=True)
class DesiredPerson:
    name: str
    user_data: str | None = None
    faces: tuple[DesiredFace, ...] = ()
    pos: SourcePos | None = None
    renamed_from: str | None = None
    """`renamedFrom:`: the name this person had on the service; it keeps that person's personId."""


@dataclass(frozen=True, slots=True)
class DesiredMember:
    """A DynamicPersonGroup's member: a directory person named in its `members:` list."""

    name: str
    pos: SourcePos | None = None


@dataclass(frozen=True, slots=True)
class DesiredCollection:
    kind: CollectionKind
    id: str
    name: str
    user_data: str | None = None
    recognition_model: str = SERVICE_DEFAULT_RECOGNITION_MODEL
    ensure: str = "present"
    """`present` or `absent` (delete the live collection)."""
    protect: bool = False
    persons: tuple[DesiredPerson, ...] = ()
    """Only for person groups (PG/LPG) and the PersonDirectory."""
    faces: tuple[DesiredFace, ...] = ()
    """Only for face lists (FL/LFL)."""
    pos: SourcePos | None = None
    recognition_models: tuple[str, ...] = ()
    """Only for the PersonDirectory: every face is enrolled once in each of these models
    (`recognition_model` is the newest of them, what probes are detected with by default)."""
    members: tuple[DesiredMember, ...] = ()
    """Only for a DynamicPersonGroup: the directory persons it references, by name."""

    @property
    def present(self) -> bool:
        return self.ensure == "present"


@dataclass(frozen=True, slots=True)
class ServiceSettings:
    """The config's `service:` block. Never holds the key: that comes from flags or environment."""

    endpoint: str | None = None
    """As written: `${VAR}` is expanded only when a connection is built (facesync.config.env)."""
    api_version: str = "v1.0"
    auth: str | None = None
    """`key` or `entra` when the config says (`service.auth`); None leaves it to flags and defaults."""
    endpoint_pos: SourcePos | None = None


@dataclass(frozen=True, slots=True)
class DesiredState:
    collections: tuple[DesiredCollection, ...] = ()
    service: ServiceSettings = field(default_factory=ServiceSettings)
    prune: bool = False
    """When true, live collections the config does not declare are deleted (needs --force)."""
    files: tuple[str, ...] = ()
    """The config files the state was loaded from, in load order."""

    def collection(self, kind: CollectionKind, collection_id: str) -> DesiredCollection | None:
        for c in self.collections:
            if c.kind is kind and c.id == collection_id:
                return c
        return None
