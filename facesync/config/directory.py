"""The PersonDirectory and DynamicPersonGroups in the configuration: their rules, and their
desired state.

`personDirectory` holds persons like a person group, but enrols each face once per model in
`recognitionModels`; `dynamicPersonGroups` name directory persons as members. Both exist only in
the preview APIs, which a configuration selects with `service.apiVersion`. Called by
`facesync.config.resolve`, which owns the schema pass and the person and face checks.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from typing import Protocol

from facesync.config.errors import Reporter
from facesync.config.loader import YamlDocument, YamlPath
from facesync.config.models import DynamicPersonGroupModel, PersonDirectoryModel
from facesync.config.rules import directory_problem, model_problem, name_problem
from facesync.model import (
    RECOGNITION_MODELS,
    CollectionKind,
    DesiredCollection,
    DesiredMember,
    DesiredPerson,
    SourcePos,
)


class Declared(Protocol):
    """A collection as the schema pass left it (`facesync.config.resolve`'s entries)."""

    @property
    def kind(self) -> CollectionKind: ...

    @property
    def id(self) -> str: ...

    @property
    def doc(self) -> YamlDocument: ...

    @property
    def path(self) -> YamlPath: ...

    @property
    def model(self) -> object:
        """The validated model; None when its own keys were invalid."""

    @property
    def keys_reported(self) -> bool: ...


DIRECTORY_DEFAULT_MODEL = "recognition_04"
"""The directory's models when neither it nor `defaults` names one: the model is part of the
directory's paths (no service default), and this is the recommended one."""


def newest_model(models: Sequence[str]) -> str:
    """The most recent of `models`: what probes are detected with unless a test says otherwise."""
    return max(models, key=lambda m: RECOGNITION_MODELS.index(m) if m in RECOGNITION_MODELS else -1)


def build_directory(
    report: Reporter,
    api_version: str,
    c: Declared,
    persons: Sequence[DesiredPerson],
    default_recognition: str,
) -> DesiredCollection | None:
    """The directory, from its checked `persons` and its own keys."""
    doc, model = c.doc, c.model
    if not isinstance(model, PersonDirectoryModel):
        return None  # its own keys were reported; its persons were still checked
    models: list[str] = []
    for i, name in enumerate(model.recognition_models or [default_recognition]):
        path = (*c.path, "recognitionModels", i)
        if name in models:
            report.add(
                doc.file,
                doc.positions.value(path),
                f"recognition model {name!r} is listed twice in recognitionModels",
            )
            continue
        models.append(name)
        problem = model_problem("recognition", name, api_version)
        if problem is not None and model.recognition_models is not None:
            report.add(doc.file, doc.positions.value(path), problem)
    if not models:
        return None
    return DesiredCollection(
        kind=CollectionKind.PERSON_DIRECTORY,
        id=c.id,
        name="",
        recognition_model=newest_model(models),
        recognition_models=tuple(models),
        persons=tuple(persons),
        pos=SourcePos(doc.file, *doc.positions.key(c.path)),
    )


def build_dynamic_group(report: Reporter, c: Declared) -> DesiredCollection | None:
    doc, model = c.doc, c.model
    if not isinstance(model, DynamicPersonGroupModel):
        return None
    pos = doc.positions.key(c.path)
    label = f"dynamicPersonGroup '{c.id}'"
    present = model.ensure == "present"
    if present and model.name is None and not c.keys_reported:
        report.add(doc.file, pos, f"{label} needs a 'name' (required unless 'ensure: absent')")
    if model.name is not None and not model.name.strip():
        problem = name_problem("name", model.name)
        assert problem is not None
        report.add(doc.file, doc.positions.value((*c.path, "name")), problem)
    members: list[DesiredMember] = []
    seen: dict[str, tuple[int, int]] = {}
    for i, name in enumerate(model.members):
        where = doc.positions.value((*c.path, "members", i))
        if name in seen:
            line, column = seen[name]
            report.add(
                doc.file,
                where,
                f"member {name!r} is listed twice in {label} (first at line {line}, column {column})",
            )
            continue
        seen[name] = where
        members.append(DesiredMember(name, SourcePos(doc.file, *where)))
    if not present and members:
        report.add(doc.file, pos, f"{label} has 'ensure: absent': its members are ignored", "warning")
        members = []
    return DesiredCollection(
        kind=CollectionKind.DYNAMIC_PERSON_GROUP,
        id=c.id,
        name=model.name or "",
        user_data=model.user_data,
        recognition_model="",
        ensure=model.ensure,
        protect=model.protect,
        members=tuple(members),
        pos=SourcePos(doc.file, *pos),
    )


def check_preview_api(report: Reporter, collections: Sequence[Declared], api_version: str) -> None:
    """One error per file that declares the directory or DynamicPersonGroups on an API version
    without them, at the first such key."""
    reported: set[tuple[str, str]] = set()
    for c in collections:
        key = c.kind.config_key
        if c.kind.classic or (c.doc.file, key) in reported:
            continue
        problem = directory_problem(api_version, key)
        if problem is not None:
            reported.add((c.doc.file, key))
            report.add(c.doc.file, c.doc.positions.key(c.path[:1]), problem)
        elif c.kind is CollectionKind.DYNAMIC_PERSON_GROUP and api_version not in EMPTY_GROUP_VERSIONS:
            _check_not_empty(report, c)


EMPTY_GROUP_VERSIONS = ("v1.0-preview",)
"""API versions that create a DynamicPersonGroup without members (later ones need addPersonIds)."""


def _check_not_empty(report: Reporter, c: Declared) -> None:
    model = c.model
    if isinstance(model, DynamicPersonGroupModel) and model.ensure == "present" and not model.members:
        report.add(
            c.doc.file,
            c.doc.positions.key(c.path),
            f"dynamicPersonGroup '{c.id}' has no members: API {EMPTY_GROUP_VERSIONS[0]} is the only "
            "version that creates a DynamicPersonGroup without any; list a member, or use "
            "'ensure: absent'",
        )


def check_members(
    report: Reporter, collections: Sequence[Declared], desired: Sequence[DesiredCollection]
) -> None:
    """Every member of a DynamicPersonGroup names a person of the personDirectory."""
    directory = next((d for d in desired if d.kind is CollectionKind.PERSON_DIRECTORY), None)
    declared = next((c for c in collections if c.kind is CollectionKind.PERSON_DIRECTORY), None)
    if declared is not None and directory is None:
        return  # the directory has errors of its own: its person names are not known for sure
    names = sorted(p.name for p in directory.persons) if directory is not None else []
    known = set(names)
    for group in desired:
        if group.kind is not CollectionKind.DYNAMIC_PERSON_GROUP:
            continue
        for member in group.members:
            if member.name in known:
                continue
            assert member.pos is not None
            if directory is None:
                problem = (
                    f"member {member.name!r} of dynamicPersonGroup '{group.id}' is not a directory "
                    "person: the configuration has no personDirectory (members are its persons)"
                )
            else:
                close = difflib.get_close_matches(member.name, names, n=1, cutoff=0.6)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                problem = (
                    f"member {member.name!r} of dynamicPersonGroup '{group.id}' is not a person of "
                    f"the personDirectory{hint}"
                )
            report.add(member.pos.file, (member.pos.line, member.pos.column), problem)
