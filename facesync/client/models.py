"""Typed shapes of the Face responses facesync reads. Unknown fields are ignored."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Response(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class CollectionInfo(_Response):
    """One PersonGroup, LargePersonGroup, FaceList or LargeFaceList, as listed or fetched.

    The id field has a different name per kind; the client normalises it into `id`.
    """

    id: str
    name: str
    user_data: str | None = Field(default=None, alias="userData")
    recognition_model: str | None = Field(default=None, alias="recognitionModel")


class PersistedFace(_Response):
    persisted_face_id: str = Field(alias="persistedFaceId")
    user_data: str | None = Field(default=None, alias="userData")


class FaceListDetail(CollectionInfo):
    persisted_faces: list[PersistedFace] = Field(default_factory=list, alias="persistedFaces")


class Person(_Response):
    person_id: str = Field(alias="personId")
    name: str
    user_data: str | None = Field(default=None, alias="userData")
    persisted_face_ids: list[str] = Field(default_factory=list, alias="persistedFaceIds")


class TrainingResult(_Response):
    status: str
    message: str | None = None


# -- recognition ------------------------------------------------------------------------------


class FaceRectangle(_Response):
    left: int
    top: int
    width: int
    height: int

    @property
    def rect(self) -> tuple[int, int, int, int]:
        """`(left, top, width, height)`, the order of a config's `targetFace`."""
        return (self.left, self.top, self.width, self.height)


class DetectedFace(_Response):
    face_id: str | None = Field(default=None, alias="faceId")
    face_rectangle: FaceRectangle = Field(alias="faceRectangle")
    face_attributes: dict[str, object] | None = Field(default=None, alias="faceAttributes")

    @property
    def quality(self) -> str | None:
        """`qualityForRecognition` (low, medium, high) when it was asked for and returned."""
        value = (self.face_attributes or {}).get("qualityForRecognition")
        return str(value) if value is not None else None


class IdentifyCandidate(_Response):
    person_id: str = Field(alias="personId")
    confidence: float


class IdentifyResult(_Response):
    face_id: str = Field(alias="faceId")
    candidates: list[IdentifyCandidate] = Field(default_factory=list)


class VerifyResult(_Response):
    is_identical: bool = Field(alias="isIdentical")
    confidence: float


class SimilarFace(_Response):
    """A find-similar match: `persisted_face_id` in a face list, `face_id` among faceIds."""

    persisted_face_id: str | None = Field(default=None, alias="persistedFaceId")
    face_id: str | None = Field(default=None, alias="faceId")
    confidence: float


class GroupResult(_Response):
    groups: list[list[str]] = Field(default_factory=list)
    messy_group: list[str] = Field(default_factory=list, alias="messyGroup")
