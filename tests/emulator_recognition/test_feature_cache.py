"""The feature cache's bounds and its distrust of its own rows (no dlib needed)."""

from __future__ import annotations

from facesync.emulator.recognition.faces import Face
from facesync.emulator.recognition.feature_cache import FeatureCache
from facesync.emulator.store import Store

FACE = Face(
    (1, 2, 40, 50), b"\x00\x01descriptor", points=((3.0, 4.0), (5.5, 6.0)), sharpness=0.5, brightness=0.25
)


def cache(path: str = ":memory:", tag: str = "engine-a", max_entries: int = 100) -> FeatureCache:
    return FeatureCache(Store(path, lambda name: 0), tag, max_entries)


def test_a_face_comes_back_as_it_went_in():
    c = cache()
    key = c.key(b"image bytes")
    assert c.get(key) is None
    c.put(key, [FACE])
    assert c.get(key) == [FACE]
    assert c.stats() == {"hits": 1, "misses": 1, "entries": 1}


def test_the_key_holds_the_content_the_engine_setup_and_the_target():
    a, b = cache(tag="engine-a"), cache(tag="engine-b")
    assert a.key(b"x") != a.key(b"y")
    assert a.key(b"x") != b.key(b"x")
    assert a.key(b"x") != a.key(b"x", (1, 2, 3, 4))


def test_the_oldest_entries_go_past_the_bound():
    c = cache(max_entries=3)
    keys = [c.key(bytes([i])) for i in range(5)]
    for key in keys:
        c.put(key, [FACE])
    assert c.stats()["entries"] == 3
    assert [c.get(key) is not None for key in keys] == [False, False, True, True, True]


def test_a_malformed_row_is_dropped_and_counts_as_a_miss():
    c = cache()
    key = c.key(b"image")
    with c.store.tx() as conn:
        conn.execute("INSERT INTO rec_feature_cache (key, faces) VALUES (?, ?)", (key, '[{"rect": "nope"}]'))
    assert c.get(key) is None
    assert c.stats()["entries"] == 0


def test_entries_survive_a_new_store_on_the_same_file(tmp_path):
    path = str(tmp_path / "data.sqlite")
    first = cache(path)
    first.put(first.key(b"photo"), [FACE])
    first.store.close()
    second = cache(path)
    assert second.get(second.key(b"photo")) == [FACE]
