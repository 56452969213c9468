"""Addresses: where a resource lives, as a value (`personGroup.staff/person["Alice"]/face[fs1:…]`).

The PersonDirectory has no id and enrols each face per recognition model
(`personDirectory/person["Dad"]/model[recognition_04]/face[fs1:…]`); a DynamicPersonGroup's
members are directory persons by name (`dynamicPersonGroup.parents/member["Dad"]`).

Every change in a plan carries one. The text form is what plans print and what `--target`
accepts; code compares and groups by the value, never by string prefixes.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum

from facesync.model import DIRECTORY_ID, RECOGNITION_MODELS, CollectionKind, DesiredState


class ResourceKind(StrEnum):
    """What a change acts on: a collection kind, a person, a face, or a DynamicPersonGroup's member."""

    PERSON_GROUP = "personGroup"
    LARGE_PERSON_GROUP = "largePersonGroup"
    FACE_LIST = "faceList"
    LARGE_FACE_LIST = "largeFaceList"
    PERSON_DIRECTORY = "personDirectory"
    DYNAMIC_PERSON_GROUP = "dynamicPersonGroup"
    PERSON = "person"
    FACE = "face"
    MEMBER = "member"

    @property
    def is_collection(self) -> bool:
        return self not in (ResourceKind.PERSON, ResourceKind.FACE, ResourceKind.MEMBER)

    @classmethod
    def of_collection(cls, kind: CollectionKind) -> ResourceKind:
        return cls(kind.value)


class AddressError(ValueError):
    """Text that is not an address."""


_COLLECTION_RE = re.compile(r"(?P<kind>[A-Za-z]+)(?:\.(?P<id>[a-z0-9_-]{1,64}))?")
# A person name is a JSON string; `(id)` after it, or after a face key, picks one of several.
_PERSON_RE = re.compile(r'/(?P<segment>person|member)\[(?P<name>"(?:[^"\\]|\\.)*")\](?:\((?P<pid>[^)]+)\))?')
_MODEL_RE = re.compile(r"/model\[(?P<model>[a-z0-9_]+)\]")
_FACE_RE = re.compile(r"/face\[(?P<key>[^\]]+)\](?:\((?P<fid>[^)]+)\))?")


@dataclass(frozen=True, slots=True, order=True)
class Address:
    """A collection, a person in a group or the directory, a face of a person or a face list, or a
    member of a DynamicPersonGroup (`person` holds the member's name).

    `person_id` and `face_id` are set only where a name or fingerprint does not pick one live
    resource alone (twins, duplicate faces): they are shown in brackets after the name.
    `model` is set only in the PersonDirectory, where a person's faces are enrolled per model.
    """

    collection_kind: CollectionKind
    collection_id: str
    person: str | None = None
    person_id: str | None = None
    face: str | None = None
    """A face's fingerprint, or the persistedFaceId of a face without one."""
    face_id: str | None = None
    model: str | None = None
    """The recognition model a directory person's faces are enrolled in."""

    @classmethod
    def directory(cls) -> Address:
        return cls(CollectionKind.PERSON_DIRECTORY, DIRECTORY_ID)

    def child_person(self, name: str, person_id: str | None = None) -> Address:
        """A person of this group or directory (a member, in a DynamicPersonGroup)."""
        return Address(self.collection_kind, self.collection_id, name, person_id)

    def child_model(self, model: str) -> Address:
        """This directory person's faces enrolled in `model`."""
        return Address(self.collection_kind, self.collection_id, self.person, self.person_id, model=model)

    def child_face(self, key: str, face_id: str | None = None) -> Address:
        return Address(
            self.collection_kind, self.collection_id, self.person, self.person_id, key, face_id, self.model
        )

    @property
    def kind(self) -> ResourceKind:
        if self.face is not None:
            return ResourceKind.FACE
        if self.person is not None:
            if self.collection_kind is CollectionKind.DYNAMIC_PERSON_GROUP:
                return ResourceKind.MEMBER
            return ResourceKind.PERSON
        return ResourceKind.of_collection(self.collection_kind)

    @property
    def collection(self) -> Address:
        """The collection this address is in (itself for a collection)."""
        return Address(self.collection_kind, self.collection_id)

    @property
    def owner(self) -> Address:
        """Where a face lives: its person, or its face list; a person's owner is its collection."""
        if self.face is not None and self.person is not None:
            # A directory face's model is where it is enrolled, not who holds it.
            return Address(self.collection_kind, self.collection_id, self.person, self.person_id)
        return self.collection

    def contains(self, other: Address) -> bool:
        """Whether `other` is this resource or inside it (a person address without an id
        contains every person of that name)."""
        if (other.collection_kind, other.collection_id) != (self.collection_kind, self.collection_id):
            return False
        if self.person is None:
            return True
        if other.person != self.person or (self.person_id and other.person_id != self.person_id):
            return False
        if self.model is not None and other.model != self.model:
            return False
        if self.face is None:
            return True
        return other.face == self.face and (not self.face_id or other.face_id == self.face_id)

    def __str__(self) -> str:
        text = self.collection_kind.value
        if not self.collection_kind.singleton:
            text += f".{self.collection_id}"
        if self.person is not None:
            segment = "member" if self.kind is ResourceKind.MEMBER else "person"
            text += f"/{segment}[{json.dumps(self.person, ensure_ascii=False)}]"
            if self.person_id:
                text += f"({self.person_id})"
        if self.model is not None:
            text += f"/model[{self.model}]"
        if self.face is not None:
            text += f"/face[{self.face}]"
            if self.face_id:
                text += f"({self.face_id})"
        return text

    @classmethod
    def parse(cls, text: str) -> Address:
        """The inverse of `str()`: `personGroup.staff/person["Alice Smith"]` and so on."""
        match = _COLLECTION_RE.match(text)
        if match is None:
            raise AddressError(f"{text!r} is not an address (expected e.g. personGroup.staff)")
        try:
            kind = CollectionKind(match["kind"])
        except ValueError:
            kinds = ", ".join(k.value for k in CollectionKind)
            raise AddressError(f"{text!r}: unknown collection kind {match['kind']!r} ({kinds})") from None
        if kind.singleton and match["id"] is not None:
            raise AddressError(f"{text!r}: the {kind.label} has no id (write {kind.value})")
        if not kind.singleton and match["id"] is None:
            raise AddressError(f"{text!r} is not an address: a {kind.label} needs its id ({kind.value}.ID)")
        pos = match.end()
        person = person_id = face = face_id = model = None
        person_match = _PERSON_RE.match(text, pos)
        if person_match is not None:
            member = kind is CollectionKind.DYNAMIC_PERSON_GROUP
            if person_match["segment"] == "member" and not member:
                raise AddressError(f"{text!r}: only a DynamicPersonGroup has members")
            if person_match["segment"] == "person" and member:
                raise AddressError(f'{text!r}: a DynamicPersonGroup lists members (member["Name"])')
            if not kind.has_persons and not member:
                raise AddressError(f"{text!r}: a {kind.label} has no persons")
            person, person_id = json.loads(person_match["name"]), person_match["pid"]
            pos = person_match.end()
        model_match = _MODEL_RE.match(text, pos)
        if model_match is not None:
            if not kind.singleton or person is None:
                raise AddressError(f"{text!r}: only a directory person's faces are enrolled per model")
            model = model_match["model"]
            if model not in RECOGNITION_MODELS:
                raise AddressError(f"{text!r}: unknown recognition model {model!r}")
            pos = model_match.end()
        face_match = _FACE_RE.match(text, pos)
        if face_match is not None:
            if kind.has_persons and person is None:
                raise AddressError(f"{text!r}: a face of a {kind.label} belongs to a person")
            if kind is CollectionKind.DYNAMIC_PERSON_GROUP:
                raise AddressError(f"{text!r}: a DynamicPersonGroup holds no faces")
            if kind.singleton and model is None:
                raise AddressError(
                    f"{text!r}: a directory face is enrolled in a model (…/model[NAME]/face[…])"
                )
            face, face_id = face_match["key"], face_match["fid"]
            pos = face_match.end()
        if pos != len(text):
            unread = text[pos:]
            raise AddressError(f"{text!r} is not an address: cannot read {unread!r}{_expected(text, pos)}")
        return cls(kind, match["id"] or DIRECTORY_ID, person, person_id, face, face_id, model)


_BARE_PERSON_RE = re.compile(r"/person\[(?P<name>[^\]]*)\]")


def _expected(text: str, pos: int) -> str:
    """The form the unreadable part should take, shown with the user's own names when possible."""
    bare = _BARE_PERSON_RE.match(text, pos)
    if bare is not None:
        name = bare["name"].strip().strip("'")
        fixed = text[:pos] + f"/person[{json.dumps(name, ensure_ascii=False)}]" + text[bare.end() :]
        return f" (a person's name is in double quotes: {fixed})"
    return ' (expected e.g. personGroup.staff or personGroup.staff/person["Alice Smith"])'


def resolve_targets(desired: DesiredState, texts: Iterable[str]) -> tuple[Address, ...]:
    """`--target` values → addresses: a bare collection id (every declared kind holding it), a
    collection address, or a person address inside a declared group."""
    found: list[Address] = []
    declared = {(c.kind, c.id) for c in desired.collections}
    singletons = tuple(k.value for k in CollectionKind if k.singleton)
    for text in texts:
        if "." not in text and not text.startswith(singletons):
            matches = [Address(kind, cid) for kind, cid in sorted(declared) if cid == text]
            if not matches:
                raise AddressError(f"--target {text}: not declared in the configuration")
            found.extend(matches)
            continue
        address = Address.parse(text)
        collection = desired.collection(address.collection_kind, address.collection_id)
        if collection is None:
            raise AddressError(f"--target {text}: {address.collection} is not declared in the configuration")
        member = address.kind is ResourceKind.MEMBER
        names = [m.name for m in collection.members] if member else [p.name for p in collection.persons]
        if address.person is not None and address.person not in names:
            near = difflib.get_close_matches(address.person, names, n=1)
            hint = f" (did you mean {json.dumps(near[0], ensure_ascii=False)}?)" if near else ""
            raise AddressError(
                f"--target {text}: {address.collection} declares no {'member' if member else 'person'} "
                f"{json.dumps(address.person, ensure_ascii=False)}{hint}"
            )
        found.append(address)
    return tuple(dict.fromkeys(found))


def selects(targets: Collection[Address], kind: CollectionKind, collection_id: str) -> bool:
    """Whether a collection is read and planned under `targets` (none means all)."""
    return not targets or any(
        t.collection_kind is kind and t.collection_id == collection_id for t in targets
    )
