from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from PIL import Image

from facesync.config.images import ImageCache, ImageError, probe_bytes
from tests.imagegen import face_image


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_probe_reads_format_and_size_from_the_header(fmt: str) -> None:
    info = probe_bytes(face_image(7, (200, 120), fmt))
    assert (info.format, info.width, info.height) == (fmt, 200, 120)


def test_probe_progressive_jpeg() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (300, 77), (1, 2, 3)).save(buf, "JPEG", progressive=True)
    assert probe_bytes(buf.getvalue()).width == 300


def test_probe_judges_content_not_extension() -> None:
    with pytest.raises(ImageError, match="not a JPEG, PNG, GIF or BMP"):
        probe_bytes(b"GIF? no. " * 200)


def test_cache_rehashes_only_changed_files(tmp_path: Path) -> None:
    a, b = tmp_path / "a.png", tmp_path / "b.png"
    a.write_bytes(face_image(1))
    b.write_bytes(face_image(2))
    cache_file = tmp_path / "cache" / "images.json"

    cache = ImageCache(cache_file)
    first = [cache.probe(p, p.stat()) for p in (a, b)]
    cache.save()
    assert cache.hashed == 2
    stored = json.loads(cache_file.read_text())
    assert set(stored["entries"]) == {str(a), str(b)}

    cache = ImageCache(cache_file)
    assert [cache.probe(p, p.stat()) for p in (a, b)] == first
    assert cache.hashed == 0

    st = b.stat()
    os.utime(b, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    cache = ImageCache(cache_file)
    cache.probe(a, a.stat())
    cache.probe(b, b.stat())
    assert cache.hashed == 1
    cache.save()
    assert json.loads(cache_file.read_text())["entries"][str(b)][1] == b.stat().st_mtime_ns


@pytest.mark.parametrize("content", ["not json{", '{"format": "other/9", "entries": {}}', "[]"])
def test_corrupt_or_foreign_cache_is_ignored_and_rewritten(tmp_path: Path, content: str) -> None:
    a = tmp_path / "a.png"
    a.write_bytes(face_image(3))
    cache_file = tmp_path / "images.json"
    cache_file.write_text(content)
    cache = ImageCache(cache_file)
    info = cache.probe(a, a.stat())
    assert cache.hashed == 1 and info.format == "PNG"
    cache.save()
    assert str(a) in json.loads(cache_file.read_text())["entries"]


def test_stale_entry_with_wrong_shape_is_ignored(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    a.write_bytes(face_image(4))
    st = a.stat()
    cache_file = tmp_path / "images.json"
    cache_file.write_text(json.dumps({"format": "facesync-image-cache/1", "entries": {str(a): [st.st_size]}}))
    cache = ImageCache(cache_file)
    cache.probe(a, st)
    assert cache.hashed == 1


def test_a_face_image_that_changed_since_the_plan_is_never_sent(tmp_path: Path) -> None:
    from facesync.config.images import ImageChanged, read_planned_image
    from facesync.fingerprint import image_digest
    from facesync.model import DesiredFace

    image = tmp_path / "a.png"
    image.write_bytes(face_image(1))
    planned = DesiredFace("fs1:x", image_path=str(image), image_sha256=image_digest(image.read_bytes()))
    assert read_planned_image(planned) == image.read_bytes()
    image.write_bytes(face_image(2))
    with pytest.raises(ImageChanged, match="changed since the plan was made"):
        read_planned_image(planned)
