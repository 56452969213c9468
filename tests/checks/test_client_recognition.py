"""The FaceClient's recognition calls, in-process against the emulator (httpx.ASGITransport)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from facesync.client import Endpoint, FaceAPIError, FaceClient
from facesync.emulator import EmulatorSettings, create_app
from facesync.model import CollectionKind
from tests.imagegen import face_image

MODELS = {"recognition_model": "recognition_04", "detection_model": "detection_03"}


def test_detect_verify_group_find_similar_and_identify_errors() -> None:
    app = create_app(EmulatorSettings(train_seconds=0.01), recognition="deterministic")

    async def scenario() -> None:
        transport = httpx.ASGITransport(app=app)
        async with FaceClient(
            Endpoint("http://emulator.local"), rate_limit=None, transport=transport
        ) as client:
            (a1,) = await client.detect(
                face_image(1, identity="a"), **MODELS, attributes=["qualityForRecognition"]
            )
            (a2,) = await client.detect(face_image(2, identity="a"), **MODELS)
            (b,) = await client.detect(face_image(3, identity="b"), **MODELS, face_id_ttl=60)
            assert a1.quality == "medium" and a2.quality is None
            assert a1.face_rectangle.rect == (32, 32, 64, 64)
            assert a1.face_id and a2.face_id and b.face_id
            same = await client.verify_faces(a1.face_id, a2.face_id)
            other = await client.verify_faces(a1.face_id, b.face_id)
            assert same.is_identical and not other.is_identical
            grouped = await client.group([a1.face_id, a2.face_id, b.face_id])
            assert grouped.groups == [[a1.face_id, a2.face_id]] and grouped.messy_group == [b.face_id]
            similar = await client.find_similar(
                a1.face_id, face_ids=[a2.face_id, b.face_id], mode="matchFace"
            )
            assert [s.face_id for s in similar] == [a2.face_id, b.face_id]
            with pytest.raises(ValueError):
                await client.find_similar(a1.face_id)
            with pytest.raises(FaceAPIError) as exc:
                await client.identify([a1.face_id], kind=CollectionKind.PERSON_GROUP, group_id="nope")
            assert exc.value.code == "PersonGroupNotFound"
            assert client.calls["Face.Detect"] == 3 and client.calls["Face.Verify"] == 2

    try:
        asyncio.run(scenario())
    finally:
        app.state.emulator.close()
