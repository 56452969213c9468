"""The Face API's rules for what a configuration may ask for, defined once.

Identifier and name rules, model names by API version, and count limits by pricing tier
(digest §6, §7). Validation and anything else in facesync that needs a limit reads it here.
This module stays free of YAML and the format's classes so that light callers can import it.
The emulator keeps its own table on purpose: it imitates the service, it does not share
facesync's view of it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from typing import Any

from facesync.model import (
    API_VERSIONS,
    DETECTION_MODELS,
    DIRECTORY_API_VERSIONS,
    RECOGNITION_MODELS,
    CollectionKind,
)

DEFAULT_API_VERSION = "v1.0"
TIERS = ("F0", "S0")

ID_PATTERN = r"^[a-z0-9-_]+$"
ID_MAX_LENGTH = 64
NAME_MAX_LENGTH = 128
USER_DATA_MAX_LENGTH = 16384
FACES_PER_PERSON = 248

# Model names each API version accepts (digest §7). Add a row for a new version.
MODELS_BY_API_VERSION: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "v1.0": (RECOGNITION_MODELS, DETECTION_MODELS),
    "v1.2": (RECOGNITION_MODELS, DETECTION_MODELS),
    "v1.0-preview": (RECOGNITION_MODELS, DETECTION_MODELS),
    "v1.1-preview.1": (RECOGNITION_MODELS, DETECTION_MODELS),
    "v1.2-preview.1": (RECOGNITION_MODELS, DETECTION_MODELS),
}
assert set(MODELS_BY_API_VERSION) == set(API_VERSIONS)


@dataclass(frozen=True, slots=True)
class Limits:
    """Count quotas of one pricing tier (digest §6)."""

    persons_per_group: dict[CollectionKind, int]
    faces_per_list: dict[CollectionKind, int]
    collections: dict[CollectionKind, int]


RESERVED_COLLECTIONS: dict[CollectionKind, int] = {CollectionKind.FACE_LIST: 2}
"""Collections facesync itself needs on the resource: apply's lock is a FaceList, and taking over
an expired lock briefly adds a second one (facesync.lock). A config may declare the rest."""
LOCK_KIND = CollectionKind.FACE_LIST
LOCK_ID = "facesync-lock"
"""The lock's collection id; takeover markers are `facesync-lock-<16 hex>`."""
LOCK_MARKER_PREFIX = LOCK_ID + "-"


def is_lock_collection(kind: CollectionKind, collection_id: str) -> bool:
    """The apply lock or one of its takeover markers: never reported, pruned, imported or counted
    (defined here, with the other rules about ids, so that reading the service needs no lock code)."""
    return kind is LOCK_KIND and (collection_id == LOCK_ID or collection_id.startswith(LOCK_MARKER_PREFIX))

LIMITS: dict[str, Limits] = {
    "S0": Limits(
        persons_per_group={
            CollectionKind.PERSON_GROUP: 10_000,
            CollectionKind.LARGE_PERSON_GROUP: 1_000_000,
            CollectionKind.PERSON_DIRECTORY: 75_000_000,
        },
        faces_per_list={
            CollectionKind.FACE_LIST: 1_000,
            CollectionKind.LARGE_FACE_LIST: 1_000_000,
        },
        collections={
            CollectionKind.PERSON_GROUP: 1_000_000,
            CollectionKind.LARGE_PERSON_GROUP: 1_000_000,
            CollectionKind.FACE_LIST: 64,
            CollectionKind.LARGE_FACE_LIST: 1_000_000,
        },
    ),
    # The digest's quota page counts F0 persons per group; the v1.2 spec says "in all groups".
    # Per group is the weaker check: it never rejects a config the service would accept.
    "F0": Limits(
        persons_per_group={
            CollectionKind.PERSON_GROUP: 1_000,
            CollectionKind.LARGE_PERSON_GROUP: 1_000,
            CollectionKind.PERSON_DIRECTORY: 1_000,
        },
        faces_per_list={
            CollectionKind.FACE_LIST: 1_000,
            CollectionKind.LARGE_FACE_LIST: 1_000,
        },
        collections={
            CollectionKind.PERSON_GROUP: 1_000,
            CollectionKind.LARGE_PERSON_GROUP: 1_000,
            CollectionKind.FACE_LIST: 64,
            CollectionKind.LARGE_FACE_LIST: 64,
        },
    ),
}
assert set(LIMITS) == set(TIERS)

_ID_RE = re.compile(ID_PATTERN)


def describe_value(value: Any) -> str:
    """A value as a message names it: `text 'x'`, `integer 3`, `a list`..."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return f"boolean {value!r}".lower()
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"text {value[:40]!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def id_problem(collection_id: Any) -> str | None:
    """What is wrong with a collection id, or None."""
    if not isinstance(collection_id, str):
        return f"collection id must be text, not {describe_value(collection_id)}: quote it"
    if not collection_id:
        return "collection id must not be empty"
    if len(collection_id) > ID_MAX_LENGTH:
        return (
            f"collection id '{collection_id[:20]}…' is {len(collection_id)} characters long; "
            f"at most {ID_MAX_LENGTH} are allowed"
        )
    if not _ID_RE.match(collection_id):
        return (
            f"collection id {collection_id!r} may hold only lowercase letters, digits, "
            f"'-' and '_' ({ID_PATTERN})"
        )
    return None


def name_problem(what: str, name: Any) -> str | None:
    """What is wrong with a display name (`what` is 'person name' or 'collection name'), or None.

    The service rejects a name of only whitespace at apply time; saying so here is cheaper.
    """
    if not isinstance(name, str):
        return f"{what} must be text, not {describe_value(name)}: quote it"
    if not name:
        return f"{what} must not be empty"
    if not name.strip():
        return f"{what} must not be blank: it holds only whitespace"
    if len(name) > NAME_MAX_LENGTH:
        return f"{what} '{name[:20]}…' is {len(name)} characters long; at most {NAME_MAX_LENGTH} are allowed"
    return None


def person_name_problem(name: Any) -> str | None:
    return name_problem("person name", name)


def directory_problem(api_version: str, key: str) -> str | None:
    """Why `key` (personDirectory, dynamicPersonGroups) cannot be used with this API version."""
    if api_version in DIRECTORY_API_VERSIONS:
        return None
    choices = ", ".join(DIRECTORY_API_VERSIONS)
    return (
        f"'{key}' needs a preview API version: API {api_version} has no PersonDirectory; "
        f"set service.apiVersion to {DIRECTORY_API_VERSIONS[0]} (or {choices.split(', ', 1)[1]})"
    )


def model_problem(kind: str, value: str, api_version: str) -> str | None:
    """What is wrong with a model name; `kind` is 'recognition' or 'detection'."""
    recognition, detection = MODELS_BY_API_VERSION[api_version]
    valid = recognition if kind == "recognition" else detection
    if value in valid:
        return None
    close = difflib.get_close_matches(value, valid, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return f"{kind} model {value!r} is not valid for API {api_version}: use one of {', '.join(valid)}{hint}"
