"""Image intake: bodies, formats, sizes, the detection rule and every error path."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from tests.emulator.emulator_helpers import OCTET, assert_error, make_person, png
from tests.imagegen import face_image

FACES = "/face/v1.0/largefacelists/l/persistedfaces"


@pytest.fixture
def lfl(client):
    assert client.put("/face/v1.0/largefacelists/l", json={"name": "L"}).status_code == 200
    return client


def add(client, data, path=FACES, **params):
    return client.post(path, params=params, content=data, headers=OCTET)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_formats_with_one_face(lfl, fmt):
    assert add(lfl, face_image(3, fmt=fmt)).status_code == 200


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "BMP"])
def test_uniform_image_has_no_face(lfl, fmt):
    r = add(lfl, face_image(3, fmt=fmt, uniform=True, size=(200, 200)))
    assert_error(r, 400, "InvalidImage", "No face detected in the image.")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF"])
def test_annotations(lfl, fmt):
    assert_error(
        add(lfl, face_image(1, fmt=fmt, faces=[])), 400, "InvalidImage", "No face detected in the image."
    )
    two = face_image(1, fmt=fmt, faces=[(0, 0, 40, 40), (60, 60, 50, 50)])
    assert_error(add(lfl, two), 400, "InvalidImage", "There is more than 1 face in the image.")
    assert add(lfl, two, targetFace="60,60,50,50").status_code == 200
    small = face_image(1, fmt=fmt, faces=[(0, 0, 35, 80), (50, 50, 60, 60)])
    assert add(lfl, small).status_code == 200  # the 35 px wide face is not detected
    # An annotated face on a flat image is still a face.
    assert add(lfl, face_image(1, fmt=fmt, uniform=True, faces=[(10, 10, 50, 50)])).status_code == 200


def test_small_centered_face_is_not_detected(lfl):
    # 70x70 image -> centred face side 35 < 36
    data = face_image(1, size=(70, 300))
    assert_error(add(lfl, data), 400, "InvalidImage", "No face detected in the image.")


def test_size_limits(lfl):
    assert_error(
        add(lfl, b"\x89PNG\r\n\x1a\n" + b"\0" * 100), 400, "InvalidImageSize", "Image size is too small."
    )
    assert_error(
        add(lfl, b"\xff\xd8\xff" + b"\0" * (6 * 1024 * 1024)),
        400,
        "InvalidImageSize",
        "Image size is too big.",
    )
    assert_error(add(lfl, b""), 400, "InvalidImageSize")


def test_dimension_limits(lfl):
    narrow = face_image(1, size=(35, 400))
    assert_error(add(lfl, narrow), 400, "InvalidImageSize")
    buf = io.BytesIO()
    Image.new("L", (4097, 40), 7).save(buf, "PNG")
    data = buf.getvalue() + b"\0" * 0
    if len(data) < 1024:
        buf = io.BytesIO()
        Image.new("RGB", (4097, 40), (1, 2, 3)).save(buf, "BMP")
        data = buf.getvalue()
    assert_error(add(lfl, data), 400, "InvalidImageSize", "Image size is too big.")


def test_decoding_errors(lfl):
    msg = "Decoding error, image format unsupported."
    assert_error(add(lfl, b"not an image at all" * 100), 400, "InvalidImage", msg)
    broken = face_image(1)[:1500]  # a truncated PNG
    assert_error(add(lfl, broken), 400, "InvalidImage", msg)
    assert_error(add(lfl, b"GIF89a" + b"\x01" * 2000), 400, "InvalidImage", msg)
    buf = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buf, "TIFF")
    assert_error(add(lfl, buf.getvalue() + b"\0" * 2048), 400, "InvalidImage", msg)


@pytest.mark.parametrize(
    "value", ["1,2,3", "1,2,3,4,5", "a,b,c,d", "1.5,0,40,40", "0,0,0,40", "0,0,40,-1", "-1,0,40,40", ""]
)
def test_target_face_invalid(lfl, value):
    assert_error(add(lfl, png(1), targetFace=value), 400, "BadArgument", "Invalid argument targetFace.")


def test_target_face_bounds_and_content(lfl):
    data = png(1, size=(128, 128))
    assert_error(
        add(lfl, data, targetFace="100,100,40,40"), 400, "BadArgument", "Argument targetFace out of range."
    )
    assert add(lfl, data, targetFace="88,88,40,40").status_code == 200
    assert add(lfl, data, targetFace="0,0,128,128").status_code == 200
    flat = face_image(1, size=(200, 200), uniform=True)
    r = add(lfl, flat, targetFace="10,10,100,100")
    assert_error(r, 400, "InvalidImage", "No face detected in the image or in the specified targetFace area.")
    assert_error(add(lfl, data, targetFace="0,0,20,20"), 400, "InvalidImage")


def test_query_validation(lfl):
    assert_error(
        add(lfl, png(1), detectionModel="detection_04"), 400, "BadArgument", "'detectionModel' is invalid."
    )
    assert_error(add(lfl, png(1), userData="u" * 1025), 400, "BadArgument", "'userData' is too long.")
    assert add(lfl, png(1), userData="u" * 1024, detectionModel="detection_01").status_code == 200


def test_content_types(lfl):
    r = lfl.post(FACES, content=png(1), headers={"Content-Type": "image/png"})
    assert_error(r, 400, "BadArgument")
    r = lfl.post(FACES, content=png(1))
    assert_error(r, 400, "BadArgument")
    r = lfl.post(FACES, content=png(1), headers={"Content-Type": "application/octet-stream; charset=binary"})
    assert r.status_code == 200


def test_chunked_upload(lfl):
    data = png(5)

    def chunks():
        for i in range(0, len(data), 700):
            yield data[i : i + 700]

    r = lfl.post(FACES, content=chunks(), headers=OCTET)
    assert r.status_code == 200, r.text


def test_url_bodies(lfl, image_server):
    base, files = image_server
    files["/one.png"] = png(1)
    files["/none.png"] = face_image(2, uniform=True)
    r = lfl.post(FACES, json={"url": f"{base}/one.png"})
    assert r.status_code == 200, r.text
    assert_error(lfl.post(FACES, json={"url": f"{base}/none.png"}), 400, "InvalidImage")
    assert_error(lfl.post(FACES, json={"url": f"{base}/missing.png"}), 400, "InvalidURL")
    assert_error(lfl.post(FACES, json={"url": "http://127.0.0.1:1/x.png"}), 400, "InvalidURL")
    assert_error(
        lfl.post(FACES, json={"url": "ftp://127.0.0.1/x.png"}), 400, "InvalidURL", "Invalid image URL."
    )
    assert_error(lfl.post(FACES, json={}), 400, "InvalidURL")
    assert_error(lfl.post(FACES, json={"url": 5}), 400, "InvalidURL")
    r = lfl.post(FACES, content=b"{bad", headers={"Content-Type": "application/json"})
    assert_error(r, 400, "BadArgument", "JSON parsing error.")


def test_url_faces_counted_as_from_url(client, image_server):
    base, files = image_server
    files["/p.png"] = png(9)
    pid = make_person(client)
    r = client.post(f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces", json={"url": f"{base}/p.png"})
    assert r.status_code == 200
    client.post(f"/face/v1.0/persongroups/g/persons/{pid}/persistedfaces", content=png(1), headers=OCTET)
    ops = client.get("/_emulator/stats").json()["operations"]
    assert ops["PersonGroupPerson_AddFaceFromUrl"] == 1
    assert ops["PersonGroupPerson_AddFaceFromStream"] == 1
