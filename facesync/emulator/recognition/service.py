"""The recognition side of one Emulator: its engine, its SQLite state and the add/train hooks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from facesync.emulator.detection import Rect
from facesync.emulator.recognition.engines import Engine, Face, load_engine
from facesync.emulator.recognition.state import RecognitionState
from facesync.emulator.store import Store

log = logging.getLogger(__name__)


class Recognition:
    def __init__(self, store: Store, clock: Callable[[], float], mode: str | None = None) -> None:
        self.engine: Engine = load_engine(mode)
        self.state = RecognitionState(store)
        self.store = store
        self.clock = clock
        log.info("recognition engine: %s", self.engine.name)

    async def detect(self, data: bytes) -> list[Face]:
        # A real model takes tens to hundreds of ms per image: keep the event loop free.
        return await asyncio.to_thread(self.engine.detect, data)

    async def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        return await asyncio.to_thread(self.engine.face_for_add, data, target)

    def remember_face(self, kind: str, cid: str, pid: str, fid: str, face: Face) -> None:
        self.state.remember_face(kind, cid, pid, fid, self.engine.name, face.descriptor)

    def train(self, kind: str, cid: str, base_seconds: float) -> None:
        """Start a run and snapshot the faces it includes, under the store's lock so no
        add-face slips between the two."""
        with self.store.lock:
            self.store.train(kind, cid, base_seconds, self.clock())
            self.state.snapshot(kind, cid)

    def confidence(self, engine_a: str, a: bytes, engine_b: str, b: bytes) -> float:
        """Descriptors made by another engine (data kept from an earlier run) never match."""
        if engine_a != self.engine.name or engine_b != self.engine.name:
            return 0.0
        return self.engine.confidence(a, b)

    def wipe(self) -> None:
        self.state.wipe()
