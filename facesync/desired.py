"""Configuration → desired state: files merged, globs expanded, images hashed, defaults resolved.

`load_desired_state` is the entry point for every command that needs the desired state; it
returns the state and the warnings, or raises `ConfigError` carrying every diagnostic found.
`validate_config` is the same without the exception (what `facesync validate` shows).
No call to the Face service happens here.
"""

from __future__ import annotations

import glob
import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from facesync.config.errors import ConfigError, Diagnostic
from facesync.config.images import (
    IMAGE_SUFFIXES,
    MAX_IMAGE_BYTES,
    MAX_IMAGE_SIDE,
    MIN_IMAGE_BYTES,
    MIN_IMAGE_SIDE,
    ImageCache,
    ImageError,
    ImageInfo,
)
from facesync.config.loader import ENV_UNSET, YamlDocument, YamlPath, display_path, load_yaml
from facesync.config.models import (
    ConfigModel,
    DefaultsModel,
    Face,
    FaceListModel,
    FaceSpec,
    PersonGroupModel,
    PersonModel,
)
from facesync.config.validate import (
    DEFAULT_API_VERSION,
    FACES_PER_PERSON,
    LIMITS,
    MODELS_BY_API_VERSION,
    Reporter,
    id_problem,
    model_problem,
    person_name_problem,
    schema_check,
)
from facesync.fingerprint import face_fingerprint, url_digest
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

DEFAULT_CONFIG = "facesync.yaml"
CACHE_FILE = Path("cache") / "images.json"

_KINDS = {kind.config_key: kind for kind in CollectionKind}
_SINGLETONS = ("service", "defaults", "prune")

_ROOT = TypeAdapter(ConfigModel)
_GROUP = TypeAdapter(PersonGroupModel)
_PERSON = TypeAdapter(PersonModel)
_LIST = TypeAdapter(FaceListModel)
_FACES = TypeAdapter(list[Face])


@dataclass(frozen=True, slots=True)
class ValidationResult:
    state: DesiredState | None
    """None when there are errors."""
    diagnostics: list[Diagnostic]
    """Errors and warnings, sorted by file, line and column."""
    images_hashed: int = 0
    """Images read and hashed in this run (the others came from the stat-keyed cache)."""

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        return not self.errors


def load_desired_state(
    path: str | Path = DEFAULT_CONFIG,
    *,
    api_version: str | None = None,
    tier: str = "S0",
    cache_dir: Path | None = None,
) -> tuple[DesiredState, list[Diagnostic]]:
    """Load and validate the configuration at `path` (a YAML file or a directory of them).

    Returns the desired state and the warnings. Raises `ConfigError` with every diagnostic
    (errors and warnings) when anything is wrong.
    """
    result = validate_config(path, api_version=api_version, tier=tier, cache_dir=cache_dir)
    if result.state is None:
        raise ConfigError(result.diagnostics)
    return result.state, result.diagnostics


def validate_config(
    path: str | Path = DEFAULT_CONFIG,
    *,
    api_version: str | None = None,
    tier: str = "S0",
    cache_dir: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> ValidationResult:
    """Everything `load_desired_state` does, without raising for configuration problems.

    `api_version` overrides `service.apiVersion`; `tier` (F0 or S0) sets the quotas checked;
    `cache_dir` defaults to `.facesync/` beside the configuration (the cache file is
    `cache/images.json` in it).
    """
    if api_version is not None and api_version not in MODELS_BY_API_VERSION:
        raise ValueError(f"unknown API version {api_version!r}")
    if tier not in LIMITS:
        raise ValueError(f"unknown tier {tier!r}: use one of {', '.join(LIMITS)}")
    builder = _Builder(Path(path), api_version, tier, cache_dir, environ)
    state = builder.run()
    diagnostics = _without_env_noise(builder.report.diagnostics)
    if any(d.is_error for d in diagnostics):
        state = None
    return ValidationResult(state, diagnostics, builder.cache.hashed if builder.cache else 0)


def _without_env_noise(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Sorted diagnostics, minus those at a value whose variable was unset (already reported)."""
    unset = {(d.file, d.line, d.column) for d in diagnostics if d.message.startswith(ENV_UNSET)}
    return sorted(
        d
        for d in diagnostics
        if d.message.startswith(ENV_UNSET) or (d.file, d.line, d.column) not in unset
    )


def _key_label(path: YamlPath, key: Any) -> str:
    if not path:
        return f"top-level key {key!r}"
    kind = _KINDS.get(path[0])
    if kind is not None and len(path) == 1:
        return f"{kind.value} {key!r}"
    if kind is not None and len(path) == 3 and path[2] == "persons":
        return f"person {key!r} in {kind.value} {path[1]!r}"
    return f"key {key!r}"


@dataclass(slots=True)
class _Collection:
    kind: CollectionKind
    id: str
    doc: YamlDocument
    path: YamlPath
    model: PersonGroupModel | FaceListModel | None
    """None when the collection's own keys are invalid (its persons and faces are still checked)."""
    persons: list[tuple[str, PersonModel, YamlPath]]
    faces: list[str | FaceSpec]


class _Builder:
    def __init__(
        self,
        path: Path,
        api_version: str | None,
        tier: str,
        cache_dir: Path | None,
        environ: Mapping[str, str] | None,
    ) -> None:
        self.path = path
        self.api_version_flag = api_version
        self.limits = LIMITS[tier]
        self.tier = tier
        self.cache_dir = cache_dir
        self.environ = environ
        self.report = Reporter()
        self.cache: ImageCache | None = None
        self.probed: dict[str, ImageInfo | None] = {}

    # -- files -----------------------------------------------------------------------------

    def _files(self) -> list[Path]:
        shown = display_path(self.path)
        if self.path.is_dir():
            files = sorted(
                p for p in self.path.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file()
            )
            if not files:
                self.report.add(shown, (0, 0), "directory holds no *.yaml or *.yml file")
            return files
        if not self.path.exists():
            self.report.add(shown, (0, 0), "configuration file not found (use -f PATH)")
            return []
        return [self.path]

    def run(self) -> DesiredState | None:
        files = self._files()
        if not files:
            return None
        config_dir = self.path if self.path.is_dir() else self.path.parent
        cache_dir = self.cache_dir if self.cache_dir is not None else config_dir / ".facesync"
        self.cache = ImageCache(cache_dir / CACHE_FILE)

        docs: list[YamlDocument] = []
        for file in files:
            doc, diagnostics = load_yaml(file, environ=self.environ, key_label=_key_label)
            self.report.extend(diagnostics)
            if doc is not None:
                docs.append(doc)

        roots: list[tuple[YamlDocument, ConfigModel]] = []
        collections: list[_Collection] = []
        seen_singletons: dict[str, tuple[str, tuple[int, int]]] = {}
        seen_collections: dict[tuple[CollectionKind, str], tuple[str, tuple[int, int]]] = {}
        for doc in docs:
            root = self._root(doc, seen_singletons)
            if root is not None:
                roots.append((doc, root))
            if isinstance(doc.data, dict):
                collections.extend(self._collections(doc, seen_collections))

        api_version = self.api_version_flag
        service = next((r.service for _, r in roots if r.service is not None), None)
        if api_version is None:
            api_version = (service.api_version if service else None) or DEFAULT_API_VERSION
        defaults_at = next(((d, r.defaults) for d, r in roots if r.defaults is not None), None)
        defaults = defaults_at[1] if defaults_at else DefaultsModel()
        if defaults_at is not None:
            self._check_models(defaults_at[0], ("defaults",), defaults, api_version)
        default_recognition = defaults.recognition_model or SERVICE_DEFAULT_RECOGNITION_MODEL
        self.default_detection = defaults.detection_model or SERVICE_DEFAULT_DETECTION_MODEL
        self.api_version = api_version

        built = [self._collection(c, default_recognition) for c in collections]
        desired = [c for c in built if c is not None]
        self._check_collection_counts(collections)
        if self.cache is not None:
            self.cache.save()
        if self.report.has_errors:
            return None
        order = list(CollectionKind)
        desired.sort(key=lambda c: order.index(c.kind))
        return DesiredState(
            collections=tuple(desired),
            service=ServiceSettings(
                endpoint=service.endpoint if service else None, api_version=api_version
            ),
            prune=any(r.prune for _, r in roots),
            files=tuple(d.file for d in docs),
        )

    # -- schema ----------------------------------------------------------------------------

    def _root(
        self, doc: YamlDocument, seen: dict[str, tuple[str, tuple[int, int]]]
    ) -> ConfigModel | None:
        data = doc.data
        if data is None:
            self.report.add(doc.file, (1, 1), "empty configuration file (expected 'version: 1')")
            return None
        if isinstance(data, dict):
            for key in _SINGLETONS:
                if key not in data:
                    continue
                pos = doc.positions.key((key,))
                if key in seen:
                    file, (line, column) = seen[key]
                    self.report.add(
                        doc.file,
                        pos,
                        f"'{key}' is already set in {file}:{line}:{column}; "
                        "set it in one file only",
                    )
                else:
                    seen[key] = (doc.file, pos)
            # Collections are checked one by one (see _collections), so that one mistake
            # does not hide the rest.
            shell = {k: {} if k in _KINDS and isinstance(v, dict) else v for k, v in data.items()}
        else:
            shell = data
        return schema_check(_ROOT, ConfigModel, shell, doc, (), self.report)

    def _collections(
        self,
        doc: YamlDocument,
        seen: dict[tuple[CollectionKind, str], tuple[str, tuple[int, int]]],
    ) -> list[_Collection]:
        found: list[_Collection] = []
        for key, kind in _KINDS.items():
            entries = doc.data.get(key)
            if not isinstance(entries, dict):
                continue  # reported by the root check
            for cid, value in entries.items():
                path: YamlPath = (key, cid)
                pos = doc.positions.key(path)
                problem = id_problem(cid)
                if problem is not None:
                    self.report.add(doc.file, pos, problem)
                    continue
                if (kind, cid) in seen:
                    file, (line, column) = seen[(kind, cid)]
                    self.report.add(
                        doc.file,
                        pos,
                        f"{kind.value} '{cid}' is already defined at {file}:{line}:{column}",
                    )
                    continue
                seen[(kind, cid)] = (doc.file, pos)
                entry = self._collection_schema(doc, kind, cid, value, path)
                if entry is not None:
                    found.append(entry)
        return found

    def _collection_schema(
        self, doc: YamlDocument, kind: CollectionKind, cid: str, value: Any, path: YamlPath
    ) -> _Collection | None:
        if value is None:
            value = {}
        if not isinstance(value, dict):
            if kind.has_persons:
                schema_check(_GROUP, PersonGroupModel, value, doc, path, self.report)
            else:
                schema_check(_LIST, FaceListModel, value, doc, path, self.report)
            return None
        if not kind.has_persons:
            raw_faces = value.get("faces")
            if not isinstance(raw_faces, list):
                model = schema_check(_LIST, FaceListModel, value, doc, path, self.report)
                faces = list(model.faces) if model else []
                return _Collection(kind, cid, doc, path, model, [], faces)
            shell = {**value, "faces": []}
            model = schema_check(_LIST, FaceListModel, shell, doc, path, self.report)
            faces_path = (*path, "faces")
            faces = schema_check(_FACES, list[Face], raw_faces, doc, faces_path, self.report)
            return _Collection(kind, cid, doc, path, model, [], faces or [])
        raw_persons = value.get("persons")
        shell = value
        if isinstance(raw_persons, dict):
            shell = {**value, "persons": {}}
        group = schema_check(_GROUP, PersonGroupModel, shell, doc, path, self.report)
        persons: list[tuple[str, PersonModel, YamlPath]] = []
        for name, raw in (raw_persons or {}).items() if isinstance(raw_persons, dict) else ():
            person_path = (*path, "persons", name)
            problem = person_name_problem(name)
            if problem is not None:
                self.report.add(doc.file, doc.positions.key(person_path), problem)
                continue
            person = schema_check(
                _PERSON, PersonModel, {} if raw is None else raw, doc, person_path, self.report
            )
            if person is not None:
                persons.append((name, person, person_path))
        return _Collection(kind, cid, doc, path, group, persons, [])

    # -- rules and resolution --------------------------------------------------------------

    def _check_models(self, doc: YamlDocument, path: YamlPath, spec: Any, api_version: str) -> None:
        for kind, attr, key in (
            ("recognition", "recognition_model", "recognitionModel"),
            ("detection", "detection_model", "detectionModel"),
        ):
            value = getattr(spec, attr, None)
            if value is not None:
                problem = model_problem(kind, value, api_version)
                if problem is not None:
                    self.report.add(doc.file, doc.positions.value((*path, key)), problem)

    def _collection(self, c: _Collection, default_recognition: str) -> DesiredCollection | None:
        doc, model = c.doc, c.model
        pos = doc.positions.key(c.path)
        label = f"{c.kind.value} '{c.id}'"
        if model is None:
            # Its own keys were reported; still check its persons and faces.
            if c.kind.has_persons:
                self._persons(c, label)
            else:
                self._faces(doc, c.faces, (*c.path, "faces"), label)
            return None
        self._check_models(doc, c.path, model, self.api_version)
        present = model.ensure == "present"
        if present and model.name is None:
            self.report.add(
                doc.file, pos, f"{label} needs a 'name' (required unless 'ensure: absent')"
            )
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
        for name, person, path in c.persons:
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
                    user_data=person.user_data,
                    faces=tuple(faces),
                    pos=SourcePos(doc.file, *pos),
                )
            )
        return persons

    def _faces(
        self, doc: YamlDocument, specs: list[str | FaceSpec], path: YamlPath, owner: str
    ) -> tuple[DesiredFace, ...]:
        faces: list[DesiredFace] = []
        for i, spec in enumerate(specs):
            face_path = (*path, i)
            pos = doc.positions.value(face_path)
            source = SourcePos(doc.file, *pos)
            if isinstance(spec, str):
                for file in self._expand(doc, spec, pos):
                    face = self._image_face(doc, file, source, None, None, None, face_path)
                    if face is not None:
                        faces.append(face)
                continue
            self._check_models(doc, face_path, spec, self.api_version)
            detection = spec.detection_model or self.default_detection
            if spec.image is not None:
                file = self._join(doc, spec.image)
                face = self._image_face(
                    doc, file, source, spec.target_face, detection, spec.user_data, face_path
                )
            elif spec.url is not None:
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
                    persisted_face_id=spec.persisted_face_id.lower()
                    if spec.persisted_face_id
                    else None,
                    user_data=spec.user_data,
                    pos=source,
                )
            if face is not None:
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
    # Paths are plain strings here: with 50,000 images, pathlib's overhead is most of the time.

    def _join(self, doc: YamlDocument, name: str) -> str:
        """An image path from the config, made absolute against the YAML file's directory."""
        return os.path.normpath(os.path.join(doc.path.parent, os.path.expanduser(name)))

    def _expand(self, doc: YamlDocument, pattern: str, pos: tuple[int, int]) -> list[str]:
        """A face string: a path, a glob, or a directory (every image in it)."""
        full = self._join(doc, pattern)
        if glob.has_magic(pattern):
            matches = sorted(m for m in glob.glob(full, recursive=True) if not os.path.isdir(m))
            if not matches:
                self.report.add(doc.file, pos, f"glob '{pattern}' matches no file")
            return matches
        if os.path.isdir(full):
            with os.scandir(full) as entries:
                images = sorted(
                    e.path
                    for e in entries
                    if os.path.splitext(e.name)[1].lower() in IMAGE_SUFFIXES and e.is_file()
                )
            if not images:
                self.report.add(
                    doc.file,
                    pos,
                    f"directory '{pattern}' holds no image ({', '.join(IMAGE_SUFFIXES)})",
                )
            return images
        return [full]

    def _probe(self, doc: YamlDocument, file: str, pos: tuple[int, int]) -> ImageInfo | None:
        def fail(message: str) -> None:
            self.report.add(doc.file, pos, message.format(shown=_relative(file, doc)))

        try:
            st = os.stat(file)
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
            counts[c.kind] = counts.get(c.kind, 0) + 1
            limit = self.limits.collections[c.kind]
            if counts[c.kind] == limit + 1:
                self.report.add(
                    c.doc.file,
                    c.doc.positions.key(c.path),
                    f"more than {limit:,} {c.kind.config_key}: the Face API allows at most "
                    f"{limit:,} on tier {self.tier}",
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
