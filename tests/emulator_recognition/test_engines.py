"""Choosing an engine, and the deterministic engine's documented confidence mapping."""

from __future__ import annotations

import pytest

from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.recognition import load_engine
from facesync.emulator.recognition.engines import DeterministicEngine
from tests.imagegen import face_image


def test_modes(monkeypatch):
    with pytest.raises(ValueError, match="auto, real, deterministic"):
        load_engine("magic")
    monkeypatch.delenv("FACESYNC_RECOGNITION", raising=False)
    assert load_engine(None).name == "deterministic"
    monkeypatch.setenv("FACESYNC_RECOGNITION", "deterministic")
    app = create_app(EmulatorSettings())
    assert app.state.emulator.stats()["recognition"] == "deterministic"
    app.state.emulator.close()


def test_deterministic_mapping():
    engine = DeterministicEngine()

    def descriptor(image: bytes) -> bytes:
        (face,) = engine.detect(image)
        return face.descriptor

    ann1, ann2 = descriptor(face_image(1, identity="ann")), descriptor(face_image(2, identity="ann"))
    ben = descriptor(face_image(1, identity="ben"))
    plain1, plain1_jpeg = descriptor(face_image(1)), descriptor(face_image(1, fmt="JPEG"))
    plain2 = descriptor(face_image(2))
    assert engine.confidence(ann1, ann1) == 1.0
    assert 0.75 <= engine.confidence(ann1, ann2) < 1.0
    assert engine.confidence(ann1, ben) == 0.25  # same pixels, other person
    assert engine.confidence(plain1, plain1_jpeg) > 0.9
    assert engine.confidence(plain1, plain2) < 0.5
    assert engine.confidence(plain1, ann1) == 1.0  # one side unlabelled: the hash decides
