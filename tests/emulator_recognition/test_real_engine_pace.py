"""The real engine's pace and calibration: the feature cache, downscaled detection, confidences.

Skipped when the `recognition` extra is not installed. Figures are in bench/emulator_enrol_real.py
and bench/recognition_accuracy.py; these tests show behaviour only, never time.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageOps

from facesync.checks.audit import DUPLICATE_THRESHOLD
from facesync.emulator import EmulatorSettings, create_app
from facesync.emulator.recognition.dlib_engine import DETECT_MAX_SIDE
from facesync.emulator.recognition.engines import real_available
from facesync.emulator.testing import serve
from tests.emulator_recognition.conftest import DATA, Face
from tests.emulator_recognition.test_real_engine import DETECT, RECORDED_IDENTIFY, overlap, rect

pytestmark = pytest.mark.skipif(not real_available(), reason="needs pip install 'facesync[recognition]'")


def encoded(name: str, quality: int, mirror: bool = False, scale: float = 1.0) -> bytes:
    """A photo under tests/data/faces encoded anew: bytes no other test sends."""
    img = Image.open(DATA / name).convert("RGB")
    if mirror:
        img = ImageOps.mirror(img)
    if scale != 1.0:
        img = img.resize((round(img.width * scale), round(img.height * scale)), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def cache_stats(face: Face) -> dict[str, int]:
    stats: dict[str, int] = face.http.get("/_emulator/stats").json()["feature_cache"]
    return stats


def test_the_same_bytes_again_come_from_the_cache_with_the_same_face(real):
    image = encoded("Family1-Mom1.jpg", quality=83, mirror=True)
    before = cache_stats(real)
    first = real.detect(image, returnFaceLandmarks=True, returnFaceId=True, **DETECT).json()
    second = real.detect(image, returnFaceLandmarks=True, returnFaceId=True, **DETECT).json()
    after = cache_stats(real)
    assert (after["misses"] - before["misses"], after["hits"] - before["hits"]) == (1, 1)
    assert [rect(f) for f in first] == [rect(f) for f in second]
    assert first[0]["faceLandmarks"] == second[0]["faceLandmarks"]
    verdict = real.post(
        "/verify", json={"faceId1": first[0]["faceId"], "faceId2": second[0]["faceId"]}
    ).json()
    assert verdict == {"isIdentical": True, "confidence": 1.0}


def test_add_face_uses_the_cache_of_an_earlier_detect(real):
    image = encoded("Family2-Lady2.jpg", quality=81, mirror=True)
    detected = real.detect(image, **DETECT).json()
    before = cache_stats(real)
    real.collection("largefacelists", "cached")
    fid = real.add_face("/largefacelists/cached", image)
    assert cache_stats(real)["hits"] == before["hits"] + 1
    stored = real.http.get(f"/face/v1.2/largefacelists/cached/persistedfaces/{fid}").json()
    assert stored["persistedFaceId"] == fid
    assert len(detected) == 1


def test_the_cache_survives_a_restart_on_the_same_data_file(tmp_path):
    data = str(tmp_path / "emulator.sqlite")
    image = encoded("Family3-Man1.jpg", quality=88)
    rects = []
    for run in range(2):
        app = create_app(EmulatorSettings(data=data), recognition="real")
        try:
            with serve(app) as url, httpx.Client(base_url=url, timeout=120) as http:
                r = http.post(
                    "/face/v1.2/detect",
                    content=image,
                    headers={"Content-Type": "application/octet-stream"},
                    params=DETECT,
                )
                assert r.status_code == 200, r.text
                rects.append([rect(f) for f in r.json()])
                stats = http.get("/_emulator/stats").json()["feature_cache"]
        finally:
            app.state.emulator.close()
        expected = {"hits": 0, "misses": 1} if run == 0 else {"hits": 1, "misses": 0}
        assert {k: stats[k] for k in ("hits", "misses")} == expected
    assert rects[0] == rects[1] and len(rects[0]) == 1


def test_a_large_image_is_detected_downscaled_and_answered_in_its_own_pixels(real):
    scale = 2.5
    image = encoded("identification1.jpg", quality=92, scale=scale)
    assert max(Image.open(io.BytesIO(image)).size) > DETECT_MAX_SIDE
    r = real.detect(image, **DETECT)
    assert r.status_code == 200, r.text
    detected = r.json()
    assert len(detected) == len(RECORDED_IDENTIFY)
    for recorded, _ in RECORDED_IDENTIFY:
        scaled = tuple(round(v * scale) for v in recorded)
        assert max(overlap(rect(f), scaled) for f in detected) > 0.5


def test_two_photos_of_one_man_are_not_near_duplicates_but_a_copy_is(real, photo):
    man1, man2 = real.face_id(photo("Family2-Man1.jpg")), real.face_id(photo("Family2-Man2.jpg"))
    copy = real.face_id(encoded("Family2-Man1.jpg", quality=75))
    distinct = real.post("/verify", json={"faceId1": man1, "faceId2": man2}).json()
    again = real.post("/verify", json={"faceId1": man1, "faceId2": copy}).json()
    assert distinct["isIdentical"] is True and distinct["confidence"] < DUPLICATE_THRESHOLD
    assert again["isIdentical"] is True and again["confidence"] >= DUPLICATE_THRESHOLD


def test_where_workers_cannot_start_the_engine_runs_in_process(tmp_path):
    """A program read from stdin cannot be imported again by a spawned worker."""
    program = (
        "import asyncio\n"
        "from facesync.emulator import EmulatorSettings, create_app\n"
        "app = create_app(EmulatorSettings(), recognition='real')\n"
        "recognition = app.state.emulator.recognition\n"
        f"faces = asyncio.run(recognition.detect(open({str(DATA / 'Family1-Mom1.jpg')!r}, 'rb').read()))\n"
        "print(recognition.pool is None, len(faces))\n"
        "app.state.emulator.close()\n"
    )
    done = subprocess.run(
        [sys.executable, "-"],
        input=program,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "1"]
    assert "Traceback" not in done.stderr


def test_a_dead_worker_costs_one_call_a_500_and_the_next_gets_a_new_one():
    app = create_app(EmulatorSettings(), recognition="real")
    pool = app.state.emulator.recognition.pool
    try:
        with serve(app) as url, httpx.Client(base_url=url, timeout=120) as http:

            def detect(quality: int) -> httpx.Response:
                return http.post(
                    "/face/v1.2/detect",
                    content=encoded("Family1-Son2.jpg", quality=quality),
                    headers={"Content-Type": "application/octet-stream"},
                    params=DETECT,
                )

            assert detect(86).status_code == 200
            assert pool.pids()
            for pid in pool.pids():
                os.kill(pid, signal.SIGKILL)
            failed = detect(85)
            assert failed.status_code == 500
            assert failed.json()["error"]["code"] == "InternalServerError"
            again = detect(84)
            assert again.status_code == 200 and len(again.json()) == 1
            assert not pool.broken
    finally:
        app.state.emulator.close()
