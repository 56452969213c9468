"""The recognition side of one Emulator: its engine, its SQLite state and the add/train hooks.

A light engine (deterministic) runs in a thread. A heavy one (an engine with a `cache_tag`, the
real one) runs in worker processes (`workers`), behind a cache of its results by image content
(`feature_cache`), so that the event loop never waits on a model; where workers cannot start, it
runs in a thread of this process (one detection at a time, as dlib needs).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from facesync.emulator.detection import Rect
from facesync.emulator.recognition.engines import load_engine
from facesync.emulator.recognition.faces import Engine, Face, single_face
from facesync.emulator.recognition.feature_cache import FeatureCache
from facesync.emulator.recognition.state import RecognitionState
from facesync.emulator.recognition.workers import WorkerPool, can_spawn
from facesync.emulator.store import Store

log = logging.getLogger(__name__)


class Recognition:
    def __init__(
        self, store: Store, clock: Callable[[], float], mode: str | None = None, workers: int = 0
    ) -> None:
        self.engine: Engine = load_engine(mode)
        self.state = RecognitionState(store)
        self.store = store
        self.clock = clock
        tag: str | None = getattr(self.engine, "cache_tag", None)
        self.cache: FeatureCache | None = None
        self.pool: WorkerPool | None = None
        if tag is not None:
            self.cache = FeatureCache(store, tag)
            if can_spawn():
                self.pool = WorkerPool(self.engine.name, workers)
                # Started now, in the background: the models load while the app gets ready.
                self.pool.warm()
            else:
                log.warning("recognition workers cannot start here; the engine runs in this process")
        log.info(
            "recognition engine: %s%s",
            self.engine.name,
            f" in {self.pool.size} worker processes" if self.pool else "",
        )

    async def _detect(self, data: bytes) -> list[Face]:
        if self.pool is None or self.pool.broken:
            return await asyncio.to_thread(self.engine.detect, data)
        return await self.pool.detect(data)

    async def _face_for_add(self, data: bytes, target: Rect | None) -> Face:
        if self.pool is None or self.pool.broken:
            return await asyncio.to_thread(self.engine.face_for_add, data, target)
        return await self.pool.face_for_add(data, target)

    async def detect(self, data: bytes) -> list[Face]:
        if self.cache is None:
            return await self._detect(data)
        key = self.cache.key(data)
        faces = self.cache.get(key)
        if faces is None:
            faces = await self._detect(data)
            self.cache.put(key, faces)
        return faces

    async def face_for_add(self, data: bytes, target: Rect | None) -> Face:
        if self.cache is None:
            return await self._face_for_add(data, target)
        if target is None:
            return single_face(await self.detect(data))
        key = self.cache.key(data, target)
        cached = self.cache.get(key)
        if cached:
            return cached[0]
        face = await self._face_for_add(data, target)
        self.cache.put(key, [face])
        return face

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

    def stats(self) -> dict[str, Any]:
        """`feature_cache` counters for /_emulator/stats (nothing for an engine without a cache)."""
        return {} if self.cache is None else {"feature_cache": self.cache.stats()}

    def wipe(self) -> None:
        """Forget the resource's faces and zero the cache's counters; the cached features are not
        resource data and stay."""
        self.state.wipe()
        if self.cache is not None:
            self.cache.zero_counts()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
