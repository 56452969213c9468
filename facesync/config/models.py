"""The configuration format as declared shapes: the source of the JSON Schema and of type checks.

Face API rules that depend on flags (API version, tier) or on files (images) are checked in
`facesync.config.resolve`, with the limits of `facesync.config.rules`; what the schema can say,
it says here.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, ClassVar, Literal

from facesync.config.rules import ID_MAX_LENGTH, ID_PATTERN, NAME_MAX_LENGTH, USER_DATA_MAX_LENGTH
from facesync.config.shape import Limits, OneOf, Shape, Validator, after, before, field
from facesync.fingerprint import MAX_FACE_NOTE_LENGTH
from facesync.model import API_VERSIONS, AUTH_METHODS, DETECTION_MODELS, RECOGNITION_MODELS

SCHEMA_ID = "https://facesync.dev/schemas/facesync.schema.json"
SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"

UUID_PATTERN = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"
URL_PATTERN = r"^https?://\S+$"
ENDPOINT_PATTERN = r"^(https?://\S+|local:.*|.*\$\{[A-Za-z_][A-Za-z0-9_]*(:-[^}]*)?\}.*)$"
"""An URL, local:PATH, or text with a `${VAR}` (expanded, and checked, when a connection is built)."""
ENDPOINT_MAX_LENGTH = 2048
"""Longer is no endpoint; and the pattern's `${VAR}` branch backtracks (quadratic in the length):
the length is checked first, so a hostile endpoint costs at most a few milliseconds."""

CollectionId = Annotated[str, Limits(min_length=1, max_length=ID_MAX_LENGTH, pattern=ID_PATTERN)]
PersonName = Annotated[str, Limits(min_length=1, max_length=NAME_MAX_LENGTH)]
Name = Annotated[
    str,
    Limits(min_length=1, max_length=NAME_MAX_LENGTH, description="Display name (1-128 characters)."),
]
UserData = Annotated[
    str, Limits(max_length=USER_DATA_MAX_LENGTH, description="Free text stored on the service (16 KB).")
]
# The model names are checked against the API version in facesync.config.resolve, with a message
# that says which version accepts what; the schema lists them for editors.
RecognitionModel = Annotated[
    str,
    Limits(description="Recognition model; fixed when the collection is created.", enum=RECOGNITION_MODELS),
]
DetectionModel = Annotated[
    str, Limits(description="Detection model used when a face is added.", enum=DETECTION_MODELS)
]


class FaceSpec(Shape):
    """A face in long form: exactly one of `image`, `url` or `persistedFaceId`."""

    shape_title = "Face"
    shape_schema_extra: ClassVar[dict[str, Any]] = {
        "oneOf": [{"required": ["image"]}, {"required": ["url"]}, {"required": ["persistedFaceId"]}]
    }

    image: str | None = field(None, min_length=1, description="Image file, relative to this YAML file.")
    url: str | None = field(
        None, pattern=URL_PATTERN, description="http(s) URL the service fetches the image from."
    )
    persisted_face_id: str | None = field(
        None,
        alias="persistedFaceId",
        pattern=UUID_PATTERN,
        description="Keep this live face, which no local image describes.",
    )
    target_face: tuple[int, int, int, int] | None = field(
        None,
        alias="targetFace",
        description="Face rectangle [left, top, width, height] in image pixels.",
    )
    detection_model: DetectionModel | None = field(None, alias="detectionModel")
    user_data: str | None = field(
        None,
        alias="userData",
        max_length=MAX_FACE_NOTE_LENGTH,
        description="Note stored beside facesync's fingerprint in the face's 1 KB userData.",
    )

    @before("target_face")
    def _target_face_shape(value: Any) -> Any:
        if isinstance(value, list | tuple):
            if len(value) != 4:
                raise ValueError(
                    f"'targetFace' must be [left, top, width, height]: 4 integers, not {len(value)}"
                )
        elif isinstance(value, str) and value.count(",") == 3:
            return [v.strip() for v in value.split(",")]
        return value

    @after("target_face")
    def _target_face_values(value: tuple[int, int, int, int] | None) -> tuple[int, int, int, int] | None:
        if value is not None:
            left, top, width, height = value
            if left < 0 or top < 0:
                raise ValueError("'targetFace' left and top must not be negative")
            if width <= 0 or height <= 0:
                raise ValueError("'targetFace' width and height must be positive")
        return value

    @after()
    def _one_source(self) -> FaceSpec:
        given = [
            key
            for key, value in (
                ("image", self.image),
                ("url", self.url),
                ("persistedFaceId", self.persisted_face_id),
            )
            if value is not None
        ]
        if len(given) != 1:
            got = "none" if not given else " and ".join(f"'{g}'" for g in given)
            raise ValueError(
                f"a face needs exactly one of 'image', 'url' or 'persistedFaceId' (got {got})"
            )
        if self.persisted_face_id is not None and (
            self.target_face is not None or self.detection_model is not None
        ):
            raise ValueError(
                "a 'persistedFaceId' entry keeps an existing face: "
                "'targetFace' and 'detectionModel' do not apply to it"
            )
        return self


def _face_kind(value: Any) -> int | None:
    """Which member of `Face` checks `value`: a path (text) or a mapping."""
    if isinstance(value, str):
        return 0
    if isinstance(value, dict | FaceSpec):
        return 1
    return None


FacePath = Annotated[
    str,
    Limits(
        min_length=1,
        title="FacePath",
        description="Image path, glob or directory, relative to this YAML file.",
    ),
]
Face = Annotated[
    FacePath | FaceSpec,
    OneOf(
        _face_kind,
        "face_type",
        "a face is a path or glob (text) or a mapping with 'image', 'url' or 'persistedFaceId'",
    ),
]


class PersonModel(Shape):
    shape_title = "Person"

    user_data: UserData | None = field(None, alias="userData")
    faces: list[Face] = field(default_factory=list, description="The person's faces (≤ 248).")
    renamed_from: PersonName | None = field(
        None,
        alias="renamedFrom",
        description="The person's previous name: the live person of that name is renamed in "
        "place, keeping its personId and faces. May be removed once applied.",
    )


class _CollectionModel(Shape):
    name: Name | None = field(None, description="Required unless ensure is absent.")
    user_data: UserData | None = field(None, alias="userData")
    recognition_model: RecognitionModel | None = field(None, alias="recognitionModel")
    ensure: Literal["present", "absent"] = field(
        "present", description="absent deletes the live collection."
    )
    protect: bool = field(False, description="Refuse to delete or replace it without --force.")


class PersonGroupModel(_CollectionModel):
    """A PersonGroup or LargePersonGroup: persons keyed by name."""

    shape_title = "PersonGroup"

    persons: dict[PersonName, PersonModel] = field(
        default_factory=dict, description="Persons keyed by name, unique within the group."
    )


class FaceListModel(_CollectionModel):
    """A FaceList or LargeFaceList: faces without persons."""

    shape_title = "FaceList"

    faces: list[Face] = field(default_factory=list)


class PersonDirectoryModel(Shape):
    """The resource's PersonDirectory (preview APIs): persons at the root, faces per model."""

    shape_title = "PersonDirectory"

    recognition_models: list[RecognitionModel] | None = field(
        None,
        alias="recognitionModels",
        min_length=1,
        description="The models every face is enrolled in, one persisted face per model (default: "
        "[defaults.recognitionModel]). A model added here is enrolled beside the others; a model "
        "removed from here has its faces deleted, after the other models' faces were added.",
    )
    persons: dict[PersonName, PersonModel] = field(
        default_factory=dict, description="Directory persons keyed by name, unique in the directory."
    )


class DynamicPersonGroupModel(Shape):
    """A DynamicPersonGroup (preview APIs): a named list of directory persons to identify against."""

    shape_title = "DynamicPersonGroup"

    name: Name | None = field(None, description="Required unless ensure is absent.")
    user_data: UserData | None = field(None, alias="userData")
    members: list[PersonName] = field(
        default_factory=list, description="Names of personDirectory persons in this group."
    )
    ensure: Literal["present", "absent"] = field(
        "present", description="absent deletes the live group (its persons stay in the directory)."
    )
    protect: bool = field(False, description="Refuse to delete it without --force.")


class ServiceModel(Shape):
    """Where the Face resource is and how to authenticate. The key never goes here: pass it by
    flag or environment, or use `auth: entra` and have no key."""

    shape_title = "Service"

    endpoint: str | None = field(
        None,
        max_length=ENDPOINT_MAX_LENGTH,
        pattern=ENDPOINT_PATTERN,
        description="https://<name>.cognitiveservices.azure.com, local:PATH, or ${VARIABLE} (the one "
        "place variables are expanded).",
    )
    api_version: Literal[API_VERSIONS] | None = field(None, alias="apiVersion")  # type: ignore[valid-type]
    auth: Literal[AUTH_METHODS] | None = field(  # type: ignore[valid-type]
        None,
        description="How facesync authenticates: `key` (FACESYNC_KEY, the default) or `entra` "
        "(a Microsoft Entra ID token from azure-identity; no key at all). --auth wins.",
    )


class DefaultsModel(Shape):
    shape_title = "Defaults"

    recognition_model: RecognitionModel | None = field(None, alias="recognitionModel")
    detection_model: DetectionModel | None = field(None, alias="detectionModel")


class ConfigModel(Shape):
    """A facesync configuration file."""

    shape_title = "facesync configuration"

    version: Literal[1] = field(description="Format version: 1.")
    service: ServiceModel | None = None
    defaults: DefaultsModel | None = None
    prune: bool = field(False, description="Delete live collections the config does not declare.")
    environments: dict[str, Any] | None = field(
        None,
        description="Named Face resources this configuration is applied to (prod, a DR region, "
        "staging): see docs/environments.md.",
    )
    tests: list[Any] | None = field(
        None,
        description="Recognition tests run by `facesync test` (schemas/tests.schema.json); "
        "checked by `facesync validate`.",
    )
    allow_images_outside_root: bool = field(
        False,
        alias="allowImagesOutsideRoot",
        description="Allow image paths outside the configuration's root folder (symlinks resolved).",
    )
    person_groups: dict[CollectionId, PersonGroupModel] = field(
        default_factory=dict, alias="personGroups"
    )
    large_person_groups: dict[CollectionId, PersonGroupModel] = field(
        default_factory=dict, alias="largePersonGroups"
    )
    face_lists: dict[CollectionId, FaceListModel] = field(default_factory=dict, alias="faceLists")
    large_face_lists: dict[CollectionId, FaceListModel] = field(default_factory=dict, alias="largeFaceLists")
    person_directory: PersonDirectoryModel | None = field(
        None,
        alias="personDirectory",
        description="The PersonDirectory: needs a preview service.apiVersion (v1.2-preview.1, "
        "v1.1-preview.1 or v1.0-preview).",
    )
    dynamic_person_groups: dict[CollectionId, DynamicPersonGroupModel] = field(
        default_factory=dict,
        alias="dynamicPersonGroups",
        description="DynamicPersonGroups keyed by id: needs a preview service.apiVersion.",
    )


CONFIG = Validator(ConfigModel)


def json_schema() -> dict[str, Any]:
    schema = CONFIG.json_schema(title="facesync configuration")
    schema["$schema"] = SCHEMA_DRAFT
    schema["$id"] = SCHEMA_ID
    return schema


def json_schema_text() -> str:
    """The JSON Schema as committed in `schemas/facesync.schema.json`."""
    return json.dumps(json_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
