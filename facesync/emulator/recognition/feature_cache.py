"""Face features by image content, kept in the emulator's SQLite database.

Detection is a pure function of the image bytes and the engine's setup, so its result is kept
under sha256(bytes) + the engine's `cache_tag` (+ the targetFace for add-face with one). A suite
that enrols the same photos again, in the same run or after a restart with the same `--data`,
skips the detector and the descriptor network. The cache is not resource data: `/_emulator/reset`
keeps it. Rows are JSON (never pickle: the data file is not trusted code); a row that does not
parse is dropped and recomputed. At most MAX_ENTRIES rows, the oldest go first.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from typing import Any

from facesync.emulator.detection import Rect
from facesync.emulator.recognition.faces import Face
from facesync.emulator.store import Store

log = logging.getLogger(__name__)

MAX_ENTRIES = 10_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS rec_feature_cache (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL UNIQUE, faces TEXT NOT NULL
);
"""


def _encode(faces: list[Face]) -> str:
    return json.dumps(
        [
            {
                "rect": list(f.rect),
                "descriptor": f.descriptor.hex(),
                "points": [list(p) for p in f.points],
                "sharpness": f.sharpness,
                "brightness": f.brightness,
            }
            for f in faces
        ]
    )


def _decode(text: str) -> list[Face]:
    """The faces of a row; ValueError (or a TypeError/KeyError from a wrong shape) if malformed."""
    items: Any = json.loads(text)
    faces = []
    for item in items:
        left, top, width, height = (int(v) for v in item["rect"])
        points = tuple((float(x), float(y)) for x, y in item["points"])
        faces.append(
            Face(
                (left, top, width, height),
                bytes.fromhex(item["descriptor"]),
                points=points,
                sharpness=float(item["sharpness"]),
                brightness=float(item["brightness"]),
            )
        )
    return faces


class FeatureCache:
    def __init__(self, store: Store, tag: str, max_entries: int = MAX_ENTRIES) -> None:
        self.store = store
        self.tag = tag
        self.max_entries = max_entries
        self._counts_lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        with store.lock:
            store.conn.executescript(_SCHEMA)

    def key(self, data: bytes, target: Rect | None = None) -> str:
        where = "" if target is None else ",".join(map(str, target))
        return f"{hashlib.sha256(data).hexdigest()}|{self.tag}|{where}"

    def get(self, key: str) -> list[Face] | None:
        with self.store.read() as c:
            row = c.execute("SELECT faces FROM rec_feature_cache WHERE key=?", (key,)).fetchone()
        faces = None
        if row is not None:
            try:
                faces = _decode(row[0])
            except (ValueError, TypeError, KeyError):
                log.warning("feature cache: dropping a malformed entry")
                with self.store.tx() as c:
                    c.execute("DELETE FROM rec_feature_cache WHERE key=?", (key,))
        with self._counts_lock:
            if faces is None:
                self.misses += 1
            else:
                self.hits += 1
        log.debug("feature cache %s for %s", "miss" if faces is None else "hit", key[:12])
        return faces

    def put(self, key: str, faces: list[Face]) -> None:
        with self.store.tx() as c:
            c.execute(
                "INSERT OR REPLACE INTO rec_feature_cache (key, faces) VALUES (?, ?)", (key, _encode(faces))
            )
            last = c.execute("SELECT MAX(seq) FROM rec_feature_cache").fetchone()[0]
            c.execute("DELETE FROM rec_feature_cache WHERE seq <= ?", (last - self.max_entries,))

    def zero_counts(self) -> None:
        with self._counts_lock:
            self.hits = self.misses = 0

    def stats(self) -> dict[str, int]:
        with self._counts_lock:
            hits, misses = self.hits, self.misses
        with self.store.read() as c:
            entries = c.execute("SELECT COUNT(*) FROM rec_feature_cache").fetchone()[0]
        return {"hits": hits, "misses": misses, "entries": int(entries)}
