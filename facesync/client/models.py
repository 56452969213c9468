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
