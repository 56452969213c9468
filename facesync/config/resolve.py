"""Configuration → desired state: schema checked, rules applied, images probed, defaults resolved.

`validate` is what `facesync.config.validate` and `facesync.config.load` run. Every check runs
on everything it can: a mistake in one place is reported and the rest is still checked, so one
run shows every error. No call to the Face service happens here.
"""

from __future__ import annotations

import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from facesync.config.env import literal_reference
from facesync.config.errors import Diagnostic, Reporter, ValidationResult
from facesync.config.imagepaths import ImagePaths
from facesync.config.images import (
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_BYTES,
    MIN_IMAGE_SIDE,
    ImageCache,
    ImageError,
    ImageInfo,
)
from facesync.config.loader import UNREADABLE, YamlDocument, YamlPath, display_path
from facesync.config.models import (
    CONFIG,
    ConfigModel,
    DefaultsModel,
    DynamicPersonGroupModel,
    Face,
    FaceListModel,
    FaceSpec,
    PersonDirectoryModel,
    PersonGroupModel,
    PersonModel,
    ServiceModel,
)
from facesync.config.rules import (
    DEFAULT_API_VERSION,
    FACES_PER_PERSON,
    LIMITS,
    MODELS_BY_API_VERSION,
    RESERVED_COLLECTIONS,
    model_problem,
    name_problem,
    person_name_problem,
)
from facesync.config.schema import schema_check
from facesync.config.shape import Validator
from facesync.config.sources import (
    COLLECTION_KEYS,
    SINGLETON_KEYS,
    CollectionEntry,
    merge,
    read_documents,
)
from facesync.fingerprint import face_fingerprint, url_digest
from facesync.localstate import config_root, state_dir
from facesync.model import (
    SERVICE_DEFAULT_DETECTION_MODEL,
    SERVICE_DEFAULT_RECOGNITION_MODEL,
    CollectionKind,
    DesiredCollection,
    DesiredFace,
    DesiredPerson,
    DesiredState,
    ServiceSettings,
    SourcePos,
)

log = logging.getLogger(__name__)

CACHE_FILE = Path("cache") / "images.json"

_GROUP = Validator(PersonGroupModel)
_DIRECTORY = Validator(PersonDirectoryModel)
_DYNAMIC_GROUP = Validator(DynamicPersonGroupModel)
_PERSON = Validator(PersonModel)
_LIST = Validator(FaceListModel)
_FACES = Validator(list[Face])
_FACE = Validator(Face)
_DEFAULTS = Validator(DefaultsModel)

IndexedFaces = list[tuple[int, str | FaceSpec]]
"""Faces that passed the schema, with their index in the YAML list (for positions)."""


def validate(
    path: str | Path,
    *,
    api_version: str | None = None,
    tier: str = "S0",
    root: str | Path | None = None,
    cache_dir: Path | None = None,
) -> ValidationResult:
    """Check the configuration at `path` (a YAML file or a directory) and resolve it.

    `api_version` overrides `service.apiVersion`; `tier` (F0 or S0) sets the quotas checked;
    `root` is the folder images must stay in (default: the config's folder); `cache_dir` defaults
    to `.facesync/` beside the configuration. No environment variable is read: `${VAR}` is
    expanded only in endpoints, when a connection is built (facesync.config.env).
    """
    if api_version is not None and api_version not in MODELS_BY_API_VERSION:
        raise ValueError(f"unknown API version {api_version!r}")
    if tier not in LIMITS:
        raise ValueError(f"unknown tier {tier!r}: use one of {', '.join(LIMITS)}")
    builder = _Builder(Path(path), api_version, tier, root, cache_dir)
    state = builder.run()
    diagnostics = _without_noise(builder.report.diagnostics)
    if any(d.is_error for d in diagnostics):
        state = None
    return ValidationResult(state, diagnostics, builder.cache.hashed if builder.cache else 0)


def _without_noise(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted diagnostics, minus those at a value the loader could not read (already reported)."""
    unreadable = {(d.file, d.line, d.column) for d in diagnostics if d.message.startswith(UNREADABLE)}
    return sorted(
        d
        for d in diagnostics
        if d.message.startswith(UNREADABLE) or (d.file, d.line, d.column) not in unreadable
    )


def is_endpoint(path: YamlPath) -> bool:
    """Whether the value at `path` is an endpoint: the one place `${VAR}` is expanded."""
    return path == ("service", "endpoint") or (
        len(path) == 3 and path[0] == "environments" and path[2] == "endpoint"
    )


def _value_at(data: Any, path: YamlPath) -> Any:
    for part in path:
        data = data[part]
    return data


@dataclass(slots=True)
class _Person:
    name: str
    model: PersonModel
    path: YamlPath
    faces: IndexedFaces


@dataclass(slots=True)
class _Collection:
    kind: CollectionKind
    id: str
    doc: YamlDocument
    path: YamlPath
    model: PersonGroupModel | FaceListModel | PersonDirectoryModel | DynamicPersonGroupModel | None
    """None when the collection's own keys are invalid (its persons and faces are still checked)."""
    persons: list[_Person]
    faces: IndexedFaces
    keys_reported: bool = False
    """Its own keys had mistakes (reported): a missing 'name' may be a typo'd one, not news."""


class _Builder:
    def __init__(
        self,
        path: Path,
        api_version: str | None,
        tier: str,
        root: str | Path | None,
        cache_dir: Path | None,
    ) -> None:
        self.path = path
        self.api_version_flag = api_version
        self.limits = LIMITS[tier]
        self.tier = tier
        self.root = Path(root) if root is not None else None
        self.cache_dir = cache_dir
        self.report = Reporter()
        self.cache: ImageCache | None = None
        self.probed: dict[str, ImageInfo | None] = {}
        self.api_version = DEFAULT_API_VERSION
        self.default_detection = SERVICE_DEFAULT_DETECTION_MODEL
        self.defaults_recognition: str | None = None
        """`defaults.recognitionModel` as written (None when the config sets none)."""
        self.allow_outside_root = False
        self.paths = ImagePaths(self.root if self.root is not None else config_root(path))

    def run(self) -> DesiredState | None:
        docs = read_documents(self.path, self.report)
        if not docs:
            return None
        for doc in docs:
            self._check_literal_variables(doc)
        if self.root is not None and not self.root.is_dir():
            # Every image would then be "outside the root": one error says more than all of those.
            self.report.add(display_path(self.root), (0, 0), "--root must be an existing folder")
            return None
        folder = config_root(self.path)
        cache_dir = self.cache_dir if self.cache_dir is not None else state_dir(folder)
        self.cache = ImageCache(cache_dir / CACHE_FILE)

        roots = [(doc, root) for doc in docs if (root := self._root(doc)) is not None]
        entries = merge(docs, self.report)
        collections = [c for e in entries if (c := self._collection_schema(e)) is not None]

        api_version = self.api_version_flag
        service = next((r.service for _, r in roots if r.service is not None), None)
        if api_version is None:
            api_version = (service.api_version if service else None) or DEFAULT_API_VERSION
        self.api_version = api_version
        defaults_at = next(((d, r.defaults) for d, r in roots if r.defaults is not None), None)
        defaults = defaults_at[1] if defaults_at else _DEFAULTS.validate({})[0]
        if defaults_at is not None:
            self._check_models(defaults_at[0], ("defaults",), defaults)
        default_recognition = defaults.recognition_model or SERVICE_DEFAULT_RECOGNITION_MODEL
        self.defaults_recognition = defaults.recognition_model
        self.default_detection = defaults.detection_model or SERVICE_DEFAULT_DETECTION_MODEL
        self.allow_outside_root = any(r.allow_images_outside_root for _, r in roots)

        built = [self._collection(c, default_recognition) for c in collections]
        desired = [c for c in built if c is not None]
        self._check_collection_counts(collections)
        if any(not c.kind.classic for c in collections):
            # Imported only here: a configuration without the preview kinds never compiles them.
            from facesync.config import directory

            directory.check_preview_api(self.report, collections, api_version)
            directory.check_members(self.report, collections, desired)
        self.cache.save()
        log.debug("images: %d read and hashed, %d others probed", self.cache.hashed, len(self.probed))
        if self.report.has_errors:
            return None
        order = list(CollectionKind)
        desired.sort(key=lambda c: order.index(c.kind))
        return DesiredState(
            collections=tuple(desired),
            service=self._service(service, roots, api_version),
            prune=any(r.prune for _, r in roots),
            files=tuple(d.file for d in docs),
        )

    @staticmethod
    def _service(
        service: ServiceModel | None, roots: list[tuple[YamlDocument, ConfigModel]], api_version: str
    ) -> ServiceSettings:
        if service is None:
            return ServiceSettings(api_version=api_version)
        if service.endpoint is None:
            return ServiceSettings(api_version=api_version, auth=service.auth)
        doc = next(d for d, r in roots if r.service is service)
        where = SourcePos(doc.file, *doc.positions.value(("service", "endpoint")))
        return ServiceSettings(
            endpoint=service.endpoint, api_version=api_version, auth=service.auth, endpoint_pos=where
        )

    def _check_literal_variables(self, doc: YamlDocument) -> None:
        """A `${NAME}` outside an endpoint is sent as written: say so where it is, in case the
        author expected it to be expanded (facesync once did)."""
        for path in doc.dollar_braces:
            if is_endpoint(path):
                continue
            text = _value_at(doc.data, path)
            found = literal_reference(text) if isinstance(text, str) else None
            if found is None:
                continue
            if found == "$${":
                message = (
                    "'$${' is sent as written: outside endpoints '${' is plain text and needs no "
                    "'$$' escape"
                )
            else:
                message = (
                    f"'{found}' is not expanded: facesync expands variables only in endpoints, "
                    "so this text is sent as written"
                )
            self.report.add(doc.file, doc.positions.value(path), message, "warning")

    # -- schema ----------------------------------------------------------------------------

    def _root(self, doc: YamlDocument) -> ConfigModel | None:
        data = doc.data
        if data is None:
            self.report.add(doc.file, (1, 1), "empty configuration file (expected 'version: 1')")
            return None
        # Collections are checked one by one (see _collection_schema), so that one mistake
        # does not hide the rest.
        nested = {*COLLECTION_KEYS, *SINGLETON_KEYS}
        shell = (
            {k: {} if k in nested and isinstance(v, dict) else v for k, v in data.items()}
            if isinstance(data, dict)
            else data
        )
        return schema_check(CONFIG, shell, doc, (), self.report)

    def _collection_schema(self, entry: CollectionEntry) -> _Collection | None:
        doc, kind, path = entry.doc, entry.kind, entry.path
        cid = str(entry.id)
        value = {} if entry.value is None else entry.value
        if kind is CollectionKind.DYNAMIC_PERSON_GROUP:
            before = len(self.report.diagnostics)
            group = schema_check(_DYNAMIC_GROUP, value, doc, path, self.report)
            return _Collection(kind, cid, doc, path, group, [], [], len(self.report.diagnostics) > before)
        validator = _DIRECTORY if kind.singleton else _GROUP
        if not isinstance(value, dict):
            if kind.has_persons:
                schema_check(validator, value, doc, path, self.report)
            else:
                schema_check(_LIST, value, doc, path, self.report)
            return None
        if not kind.has_persons:
            shell, faces = self._split_faces(doc, value, path)
            before = len(self.report.diagnostics)
            model = schema_check(_LIST, shell, doc, path, self.report)
            if faces is None:
                faces = list(enumerate(model.faces)) if model else []
            reported = len(self.report.diagnostics) > before
            return _Collection(kind, cid, doc, path, model, [], faces, reported)
        raw_persons = value.get("persons")
        shell = {**value, "persons": {}} if isinstance(raw_persons, dict) else value
        before = len(self.report.diagnostics)
        group = schema_check(validator, shell, doc, path, self.report)
        reported = len(self.report.diagnostics) > before
        persons: list[_Person] = []
        for name, raw in raw_persons.items() if isinstance(raw_persons, dict) else ():
            person_path = (*path, "persons", name)
            problem = person_name_problem(name)
            if problem is not None:
                self.report.add(doc.file, doc.positions.key(person_path), problem)
            person = self._person_schema(doc, {} if raw is None else raw, person_path)
            if person is not None:
                persons.append(person)
        return _Collection(kind, cid, doc, path, group, persons, [], reported)

    def _person_schema(self, doc: YamlDocument, raw: Any, path: YamlPath) -> _Person | None:
        name = str(path[-1])  # an invalid name was reported; its faces are checked all the same
        valid, problems = _PERSON.validate(raw)  # the common case, in one call
        if not problems:
            return _Person(name, valid, path, list(enumerate(valid.faces)))
        if not isinstance(raw, dict):
            person = schema_check(_PERSON, raw, doc, path, self.report)
            return None if person is None else _Person(name, person, path, list(enumerate(person.faces)))
        shell, faces = self._split_faces(doc, raw, path)
        person = schema_check(_PERSON, shell, doc, path, self.report)
        if person is None:
            return None
        return _Person(name, person, path, list(enumerate(person.faces)) if faces is None else faces)

    def _split_faces(
        self, doc: YamlDocument, value: dict[Any, Any], path: YamlPath
    ) -> tuple[dict[Any, Any], IndexedFaces | None]:
        """`value` without its face list, and that list checked face by face (None: not a list)."""
        raw = value.get("faces")
        if not isinstance(raw, list):
            return value, None
        return {**value, "faces": []}, self._face_specs(doc, raw, (*path, "faces"))

    def _face_specs(self, doc: YamlDocument, raw: list[Any], path: YamlPath) -> IndexedFaces:
        valid, problems = _FACES.validate(raw)
        if not problems:
            return list(enumerate(valid))
        # Find which faces are wrong, and keep the others.
        faces: IndexedFaces = []
        for i, item in enumerate(raw):
            spec = schema_check(_FACE, item, doc, (*path, i), self.report)
            if spec is not None:
                faces.append((i, spec))
        return faces

    # -- rules and resolution --------------------------------------------------------------

    def _check_models(self, doc: YamlDocument, path: YamlPath, spec: Any) -> None:
        for kind, attr, key in (
            ("recognition", "recognition_model", "recognitionModel"),
            ("detection", "detection_model", "detectionModel"),
        ):
            value = getattr(spec, attr, None)
            if value is not None:
                problem = model_problem(kind, value, self.api_version)
                if problem is not None:
                    self.report.add(doc.file, doc.positions.value((*path, key)), problem)

    def _collection(self, c: _Collection, default_recognition: str) -> DesiredCollection | None:
        if not c.kind.classic:
            from facesync.config import directory

            if c.kind is CollectionKind.PERSON_DIRECTORY:
                enrolled = self._persons(c, CollectionKind.PERSON_DIRECTORY.value)
                default = self.defaults_recognition or directory.DIRECTORY_DEFAULT_MODEL
                return directory.build_directory(self.report, self.api_version, c, enrolled, default)
            return directory.build_dynamic_group(self.report, c)
        doc, model = c.doc, c.model
        assert not isinstance(model, PersonDirectoryModel | DynamicPersonGroupModel)
        pos = doc.positions.key(c.path)
        label = f"{c.kind.value} '{c.id}'"
        if model is None:
            # Its own keys were reported; still check its persons and faces.
            if c.kind.has_persons:
                self._persons(c, label)
            else:
                self._faces(doc, c.faces, (*c.path, "faces"), label)
            return None
        self._check_models(doc, c.path, model)
        present = model.ensure == "present"
        if present and model.name is None and not c.keys_reported:
            self.report.add(doc.file, pos, f"{label} needs a 'name' (required unless 'ensure: absent')")
        if model.name is not None and not model.name.strip():
            problem = name_problem("collection name", model.name)
            assert problem is not None
            self.report.add(doc.file, doc.positions.value((*c.path, "name")), problem)
        persons: list[DesiredPerson] = []
        faces: tuple[DesiredFace, ...] = ()
        if not present:
            if c.persons or c.faces:
                self.report.add(
                    doc.file,
                    pos,
                    f"{label} has 'ensure: absent': its persons and faces are ignored",
                    "warning",
                )
        elif c.kind.has_persons:
            persons = self._persons(c, label)
        else:
            faces = self._faces(doc, c.faces, (*c.path, "faces"), label)
            limit = self.limits.faces_per_list[c.kind]
            if len(faces) > limit:
                self.report.add(
                    doc.file,
                    pos,
                    f"{label} has {len(faces):,} faces; a {c.kind.label} holds at most "
                    f"{limit:,} (tier {self.tier})",
                )
        return DesiredCollection(
            kind=c.kind,
            id=c.id,
            name=model.name or "",
            user_data=model.user_data,
            recognition_model=model.recognition_model or default_recognition,
            ensure=model.ensure,
            protect=model.protect,
            persons=tuple(persons),
            faces=faces,
            pos=SourcePos(doc.file, *pos),
        )

    def _persons(self, c: _Collection, label: str) -> list[DesiredPerson]:
        doc = c.doc
        limit = self.limits.persons_per_group[c.kind]
        if len(c.persons) > limit:
            self.report.add(
                doc.file,
                doc.positions.key(c.path),
                f"{label} has {len(c.persons):,} persons; a {c.kind.label} holds at most "
                f"{limit:,} on tier {self.tier}",
            )
        persons: list[DesiredPerson] = []
        owners: dict[str, tuple[str, DesiredFace]] = {}
        self._check_renames(c)
        for person in c.persons:
            name, path = person.name, person.path
            pos = doc.positions.key(path)
            faces = self._faces(doc, person.faces, (*path, "faces"), f"person '{name}'")
            if len(faces) > FACES_PER_PERSON:
                self.report.add(
                    doc.file,
                    pos,
                    f"person '{name}' has {len(faces)} faces; the Face API allows at most "
                    f"{FACES_PER_PERSON} per person",
                )
            for face in faces:
                if face.fingerprint is None:
                    continue
                owner = owners.setdefault(face.fingerprint, (name, face))
                if owner[0] != name:
                    self.report.add(
                        doc.file,
                        (face.pos.line, face.pos.column) if face.pos else pos,
                        f"{_face_label(face, doc)} is also a face of person '{owner[0]}' "
                        f"(line {owner[1].pos.line if owner[1].pos else '?'}): the same image "
                        "on two persons blurs who is who",
                        "warning",
                    )
            persons.append(
                DesiredPerson(
                    name=name,
                    user_data=person.model.user_data,
                    faces=tuple(faces),
                    pos=SourcePos(doc.file, *pos),
                    renamed_from=person.model.renamed_from,
                )
            )
        return persons

    def _check_renames(self, c: _Collection) -> None:
        """`renamedFrom` hands one live person's identity to one declared person: the old name must
        not be declared too (that person would be both kept and renamed), nor claimed twice."""
        doc = c.doc
        declared = {p.name: p for p in c.persons}
        claimed: dict[str, _Person] = {}
        for person in c.persons:
            old = person.model.renamed_from
            if old is None:
                continue
            pos = doc.positions.value((*person.path, "renamedFrom"))
            problem = person_name_problem(old)
            if problem is not None:
                self.report.add(doc.file, pos, f"'renamedFrom': {problem}")
            elif old == person.name:
                self.report.add(doc.file, pos, f"person '{old}' is renamedFrom its own name")
            elif old in declared:
                line = doc.positions.key(declared[old].path)[0]
                self.report.add(
                    doc.file,
                    pos,
                    f"person '{person.name}' is renamedFrom '{old}', which this group also declares "
                    f"(line {line}): a renamed person no longer exists under its old name",
                )
            elif old in claimed:
                line = doc.positions.value((*claimed[old].path, "renamedFrom"))[0]
                self.report.add(
                    doc.file,
                    pos,
                    f"persons '{claimed[old].name}' (line {line}) and '{person.name}' are both "
                    f"renamedFrom '{old}': one live person can take only one new name",
                )
            else:
                claimed[old] = person

    def _faces(
        self, doc: YamlDocument, specs: IndexedFaces, path: YamlPath, owner: str
    ) -> tuple[DesiredFace, ...]:
        faces: list[DesiredFace] = []
        folder = doc.folder
        for i, spec in specs:
            face_path = (*path, i)
            pos = doc.positions.value(face_path)
            source = SourcePos(doc.file, *pos)
            if isinstance(spec, str):
                files, direct, problem = self.paths.expand(folder, spec)
                if problem is not None:
                    self.report.add(doc.file, pos, problem)
                for file in self._confined(doc, spec, files, pos, direct=direct):
                    found = self._image_face(doc, file, source, None, None, None, face_path)
                    if found is not None:
                        faces.append(found)
                continue
            self._check_models(doc, face_path, spec)
            detection = spec.detection_model or self.default_detection
            image: DesiredFace | None = None
            if spec.image is not None:
                if "\0" in spec.image:
                    problem = f"image path {spec.image!r} holds a NUL character, which no file name can"
                    self.report.add(doc.file, pos, problem)
                    continue
                written = [self.paths.join(folder, spec.image)]
                for file in self._confined(doc, spec.image, written, pos, direct=True):
                    image = self._image_face(
                        doc, file, source, spec.target_face, detection, spec.user_data, face_path
                    )
                if image is not None:
                    faces.append(image)
                continue
            if spec.url is not None:
                face = DesiredFace(
                    fingerprint=face_fingerprint(url_digest(spec.url), spec.target_face, detection),
                    url=spec.url,
                    target_face=spec.target_face,
                    detection_model=detection,
                    user_data=spec.user_data,
                    pos=source,
                )
            else:
                face = DesiredFace(
                    fingerprint=None,
                    persisted_face_id=spec.persisted_face_id.lower() if spec.persisted_face_id else None,
                    user_data=spec.user_data,
                    pos=source,
                )
            faces.append(face)
        first: dict[str, DesiredFace] = {}
        for face in faces:
            earlier = first.setdefault(face.key, face)
            if earlier is not face:
                assert face.pos is not None and earlier.pos is not None
                self.report.add(
                    doc.file,
                    (face.pos.line, face.pos.column),
                    f"{_face_label(face, doc)} is the same face as {_face_label(earlier, doc)} "
                    f"(line {earlier.pos.line}) on {owner}: a face may appear only once",
                )
        return tuple(faces)

    # -- images ----------------------------------------------------------------------------

    def _confined(
        self, doc: YamlDocument, written: str, files: list[str], pos: tuple[int, int], *, direct: bool
    ) -> list[str]:
        """`files` inside the root; one error for those outside (they are never opened)."""
        if self.allow_outside_root:
            return files
        inside = [f for f in files if self.paths.inside_root(f)]
        outside = len(files) - len(inside)
        if outside:
            where = f"outside the configuration root '{display_path(Path(self.paths.root))}'"
            if direct:
                what = f"image '{written}' resolves {where}"
            else:
                first = next(f for f in files if not self.paths.inside_root(f))
                shown = first if os.path.isabs(written) else _relative(first, doc)
                what = f"'{written}' names {outside} file(s) {where} (first: '{shown}')"
            self.report.add(
                doc.file,
                pos,
                f"{what}: keep images inside it, pass --root, or set 'allowImagesOutsideRoot: true'",
            )
        return inside

    def _probe(self, doc: YamlDocument, file: str, pos: tuple[int, int]) -> ImageInfo | None:
        def fail(message: str) -> None:
            self.report.add(doc.file, pos, message.format(shown=_relative(file, doc)))

        try:
            st = self.paths.stat(file)
        except FileNotFoundError:
            fail("image '{shown}' does not exist")
            return None
        except OSError as exc:
            fail(f"cannot read image '{{shown}}': {exc.strerror or exc}")
            return None
        if stat.S_ISDIR(st.st_mode):
            fail("'image: {shown}' is a directory; name a directory or glob as a face string")
            return None
        if not stat.S_ISREG(st.st_mode):
            fail("'{shown}' is not a regular file")
            return None
        if st.st_size < MIN_IMAGE_BYTES:
            fail(
                f"image '{{shown}}' is {st.st_size:,} bytes; the Face API needs at least "
                f"{MIN_IMAGE_BYTES:,} bytes (1 KB)"
            )
            return None
        if st.st_size > MAX_IMAGE_BYTES:
            fail(
                f"image '{{shown}}' is {st.st_size / 2**20:.1f} MB ({st.st_size:,} bytes); "
                f"the Face API accepts at most 6 MB ({MAX_IMAGE_BYTES:,} bytes)"
            )
            return None
        assert self.cache is not None
        try:
            info = self.cache.probe(file, st)
        except ImageError as exc:
            fail(f"'{{shown}}' is {exc}")
            return None
        except OSError as exc:
            fail(f"cannot read image '{{shown}}': {exc.strerror or exc}")
            return None
        for side, value in (("width", info.width), ("height", info.height)):
            if not MIN_IMAGE_SIDE <= value <= MAX_IMAGE_SIDE:
                fail(
                    f"image '{{shown}}' is {info.width}×{info.height} px; its {side} must be "
                    f"{MIN_IMAGE_SIDE} to {MAX_IMAGE_SIDE:,} px"
                )
                return None
        return info

    def _image_face(
        self,
        doc: YamlDocument,
        file: str,
        source: SourcePos,
        target: tuple[int, int, int, int] | None,
        detection: str | None,
        note: str | None,
        face_path: YamlPath,
    ) -> DesiredFace | None:
        pos = (source.line, source.column)
        if file in self.probed:
            info = self.probed[file]
            if info is None:
                return None  # reported where it was first named
        else:
            info = self.probed[file] = self._probe(doc, file, pos)
            if info is None:
                return None
        if target is not None:
            left, top, width, height = target
            if left + width > info.width or top + height > info.height:
                self.report.add(
                    doc.file,
                    doc.positions.value((*face_path, "targetFace")),
                    f"targetFace [{left}, {top}, {width}, {height}] reaches outside the image "
                    f"'{_relative(file, doc)}' ({info.width}×{info.height} px)",
                )
                return None
        detection = detection or self.default_detection
        return DesiredFace(
            fingerprint=face_fingerprint(info.sha256, target, detection),
            image_path=file,
            target_face=target,
            detection_model=detection,
            user_data=note,
            image_sha256=info.sha256,
            pos=source,
        )

    def _check_collection_counts(self, collections: list[_Collection]) -> None:
        counts: dict[CollectionKind, int] = {}
        for c in collections:
            if c.kind not in self.limits.collections:
                continue  # the directory is one; DynamicPersonGroups have no documented limit
            counts[c.kind] = counts.get(c.kind, 0) + 1
            service_limit = self.limits.collections[c.kind]
            reserved = RESERVED_COLLECTIONS.get(c.kind, 0)
            limit = service_limit - reserved
            if counts[c.kind] == limit + 1:
                kept = f", and facesync keeps {reserved} for its apply lock" if reserved else ""
                self.report.add(
                    c.doc.file,
                    c.doc.positions.key(c.path),
                    f"more than {limit:,} {c.kind.config_key}: the Face API allows at most "
                    f"{service_limit:,} on tier {self.tier}{kept}",
                )


def _relative(file: str, doc: YamlDocument) -> str:
    """An image path as the user would write it: relative to the YAML file that names it."""
    try:
        return os.path.relpath(file, doc.path.parent)
    except ValueError:
        return str(file)


def _face_label(face: DesiredFace, doc: YamlDocument) -> str:
    if face.image_path is not None:
        return f"image '{_relative(face.image_path, doc)}'"
    if face.url is not None:
        return f"url '{face.url}'"
    return f"persistedFaceId '{face.persisted_face_id}'"
