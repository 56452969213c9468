"""The official Python SDKs against the emulator over real HTTP, on both engines.

* azure-ai-vision-face 1.0.0b2 (FaceClient / FaceAdministrationClient) on /face/v1.2;
* the legacy azure-cognitiveservices-vision-face FaceClient (FaceOperations) on /face/v1.0.
Install them with the `sdk` extra; skipped otherwise.
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable

import pytest

from tests.imagegen import face_image

Images = dict[str, Callable[[], bytes]]


@pytest.fixture(params=["deterministic", "real"])
def setup(request, base_url, clock, photo) -> tuple[str, Images]:
    """(emulator URL, role -> image bytes): 'dad' twice, 'mom' and a 4-face 'family' photo."""
    import httpx

    if request.param == "real":
        url = request.getfixturevalue("real_url")
        images: Images = {
            "dad": lambda: photo("Family1-Dad1.jpg"),
            "dad2": lambda: photo("Family1-Dad3.jpg"),
            "mom": lambda: photo("Family1-Mom1.jpg"),
            "family": lambda: photo("identification1.jpg"),
        }
    else:
        url = base_url
        images = {
            "dad": lambda: face_image(1, identity="dad"),
            "dad2": lambda: face_image(2, identity="dad"),
            "mom": lambda: face_image(3, identity="mom"),
            "family": lambda: face_image(
                4,
                size=(400, 200),
                faces=[(10, 10, 90, 90), (120, 10, 80, 80), (220, 10, 70, 70), (300, 10, 60, 60)],
                identity=["dad", "mom", "kid", "kid2"],
            ),
        }
    assert httpx.post(f"{url}/_emulator/reset").status_code == 200
    clock.set(1_700_000_000.0)
    return url, images


def test_azure_ai_vision_face_v1_2(setup, clock):
    face = pytest.importorskip("azure.ai.vision.face")
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError

    url, images = setup
    key = AzureKeyCredential("any")
    client = face.FaceClient(url, key, api_version="v1.2")
    admin = face.FaceAdministrationClient(url, key, api_version="v1.2")
    opts = {"detection_model": "detection_03", "recognition_model": "recognition_04", "return_face_id": True}
    family = client.detect(images["family"](), **opts)
    assert len(family) == 4
    sizes = [f.face_rectangle.width * f.face_rectangle.height for f in family]
    assert sizes == sorted(sizes, reverse=True)
    dad_id = client.detect(images["dad2"](), **opts)[0].face_id
    mom_id = client.detect(images["mom"](), **opts)[0].face_id

    lpg = admin.large_person_group
    lpg.create("family", name="family", recognition_model="recognition_04")
    dad = lpg.create_person("family", name="dad").person_id
    lpg.add_face("family", dad, images["dad"](), detection_model="detection_03")
    mom = lpg.create_person("family", name="mom").person_id
    lpg.add_face("family", mom, images["mom"](), detection_model="detection_03")
    with pytest.raises(HttpResponseError) as err:
        client.identify_from_large_person_group(face_ids=[dad_id], large_person_group_id="family")
    assert err.value.status_code == 400 and err.value.error.code == "LargePersonGroupNotTrained"
    poller = lpg.begin_train("family", polling_interval=0)
    clock.advance(60)
    poller.result()
    (result,) = client.identify_from_large_person_group(face_ids=[dad_id], large_person_group_id="family")
    assert [c.person_id for c in result.candidates] == [dad]
    verdict = client.verify_from_large_person_group(
        face_id=dad_id, large_person_group_id="family", person_id=mom
    )
    assert verdict.is_identical is False

    same = client.verify_face_to_face(face_id1=dad_id, face_id2=family[0].face_id)
    assert same.is_identical is True and same.confidence > 0.5
    similar = client.find_similar(face_id=dad_id, face_ids=[mom_id, family[0].face_id])
    assert [s.face_id for s in similar] == [family[0].face_id]

    lfl = admin.large_face_list
    lfl.create("faces", name="faces", recognition_model="recognition_04")
    mom_face = lfl.add_face("faces", images["mom"]()).persisted_face_id
    lfl.add_face("faces", images["dad"]())
    poller = lfl.begin_train("faces", polling_interval=0)
    clock.advance(60)
    poller.result()
    (match,) = client.find_similar_from_large_face_list(face_id=mom_id, large_face_list_id="faces")
    assert match.persisted_face_id == mom_face
    grouping = client.group(face_ids=[dad_id, family[0].face_id, mom_id])
    assert [sorted(g) for g in grouping.groups] == [sorted([dad_id, family[0].face_id])]
    assert grouping.messy_group == [mom_id]


def test_legacy_face_operations_v1_0(setup, clock):
    vision = pytest.importorskip("azure.cognitiveservices.vision.face")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from azure.cognitiveservices.vision.face.models import APIErrorException
        from msrest.authentication import CognitiveServicesCredentials

    url, images = setup
    client = vision.FaceClient(url, CognitiveServicesCredentials("any"))
    opts = {"detection_model": "detection_03", "recognition_model": "recognition_04"}
    family = client.face.detect_with_stream(io.BytesIO(images["family"]()), **opts)
    assert len(family) == 4
    dad_id = client.face.detect_with_stream(io.BytesIO(images["dad2"]()), **opts)[0].face_id
    mom_id = client.face.detect_with_stream(io.BytesIO(images["mom"]()), **opts)[0].face_id

    client.person_group.create("family", name="family", recognition_model="recognition_04")
    dad = client.person_group_person.create("family", name="dad").person_id
    client.person_group_person.add_face_from_stream("family", dad, io.BytesIO(images["dad"]()))
    with pytest.raises(APIErrorException) as err:
        client.face.identify([dad_id], person_group_id="family")
    assert err.value.error.error.code == "PersonGroupNotTrained"
    client.person_group.train("family")
    clock.advance(60)
    assert client.person_group.get_training_status("family").status == "succeeded"
    (result,) = client.face.identify([dad_id, mom_id][:1], person_group_id="family")
    assert [c.person_id for c in result.candidates] == [dad]
    verdict = client.face.verify_face_to_person(dad_id, dad, person_group_id="family")
    assert verdict.is_identical is True
    assert client.face.verify_face_to_face(dad_id, mom_id).is_identical is False

    client.face_list.create("faces", name="faces", recognition_model="recognition_04")
    mom_face = client.face_list.add_face_from_stream("faces", io.BytesIO(images["mom"]())).persisted_face_id
    (match,) = client.face.find_similar(mom_id, face_list_id="faces")
    assert match.persisted_face_id == mom_face
    grouping = client.face.group([dad_id, family[0].face_id, mom_id])
    assert [sorted(g) for g in grouping.groups] == [sorted([dad_id, family[0].face_id])]
    with pytest.raises(APIErrorException) as err:
        client.face.group([dad_id])
    assert err.value.response.status_code == 400
