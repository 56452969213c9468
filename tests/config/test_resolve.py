"""`facesync.config.load`/`validate`: desired state content, and the rules that need generated
inputs (limits, big images)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from facesync.config import load, validate
from facesync.config.env import service_endpoint
from facesync.config.errors import ConfigError
from facesync.fingerprint import face_fingerprint, image_digest, url_digest
from facesync.model import CollectionKind
from tests.config.conftest import WriteConfig
from tests.imagegen import face_image

CONFIG = """
version: 1
service: {endpoint: "${FS_ENDPOINT:-https://x.cognitiveservices.azure.com}"}
defaults: {recognitionModel: recognition_04, detectionModel: detection_03}
personGroups:
  staff:
    name: Staff
    protect: true
    persons:
      Alice:
        userData: alice
        faces:
          - img/alice/*.png
          - image: img/team.png
            targetFace: [10, 10, 40, 40]
            detectionModel: detection_02
            userData: note
      Bob:
        faces: [img/bob]
largeFaceLists:
  lfl:
    name: LFL
    recognitionModel: recognition_01
    faces:
      - url: https://example.com/a.jpg
      - persistedFaceId: 6F1C2E3A-7B8D-4E9F-A0B1-C2D3E4F5A6B7
faceLists:
  gone: {ensure: absent}
"""
IMAGES = {"img/alice/1.png": 1, "img/alice/2.png": 2, "img/team.png": 3, "img/bob/x.png": 4}


def test_desired_state_content(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(CONFIG, IMAGES)
    state, warnings = load(path)
    assert warnings == []
    assert state.files == ("facesync.yaml",)
    assert service_endpoint(state.service, environ={}) == "https://x.cognitiveservices.azure.com"
    assert state.service.api_version == "v1.0"
    assert [(c.kind, c.id) for c in state.collections] == [
        (CollectionKind.PERSON_GROUP, "staff"),
        (CollectionKind.FACE_LIST, "gone"),
        (CollectionKind.LARGE_FACE_LIST, "lfl"),
    ]
    staff = state.collection(CollectionKind.PERSON_GROUP, "staff")
    assert staff is not None
    assert (staff.name, staff.recognition_model, staff.protect) == ("Staff", "recognition_04", True)
    assert (staff.pos.file, staff.pos.line, staff.pos.column) == ("facesync.yaml", 5, 3)
    alice, bob = staff.persons
    assert (alice.name, alice.user_data, alice.pos.line) == ("Alice", "alice", 9)
    assert len(alice.faces) == 3 and len(bob.faces) == 1

    one = (tmp_path / "img/alice/1.png").read_bytes()
    face = alice.faces[0]
    assert face.image_sha256 == image_digest(one)
    assert face.fingerprint == face_fingerprint(image_digest(one), None, "detection_03")
    assert face.image_path == str((tmp_path / "img/alice/1.png").resolve())
    assert Path(face.image_path).is_absolute()
    assert (face.pos.line, face.pos.column, face.detection_model) == (12, 13, "detection_03")

    team = alice.faces[2]
    assert team.target_face == (10, 10, 40, 40)
    assert team.detection_model == "detection_02"
    assert team.user_data == "note"
    team_sha = image_digest((tmp_path / "img/team.png").read_bytes())
    assert team.fingerprint == face_fingerprint(team_sha, (10, 10, 40, 40), "detection_02")
    assert team.pos.line == 13

    lfl = state.collection(CollectionKind.LARGE_FACE_LIST, "lfl")
    assert lfl is not None and lfl.recognition_model == "recognition_01"
    url, kept = lfl.faces
    assert url.fingerprint == face_fingerprint(url_digest("https://example.com/a.jpg"), None, "detection_03")
    assert kept.fingerprint is None
    assert kept.key == kept.persisted_face_id == "6f1c2e3a-7b8d-4e9f-a0b1-c2d3e4f5a6b7"

    gone = state.collection(CollectionKind.FACE_LIST, "gone")
    assert gone is not None and not gone.present and gone.name == ""


def test_desired_state_is_immutable(write_config: WriteConfig) -> None:
    state, _ = load(write_config(CONFIG, IMAGES))
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.collections[0].persons[0].faces[0].fingerprint = "x"  # type: ignore[misc]
    assert isinstance(state.collections, tuple)
    assert isinstance(state.collections[0].persons, tuple)


def test_service_defaults_when_nothing_is_set(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nfaceLists:\n  fl:\n    name: FL\n    faces: [a.png]\n", {"a.png": 9})
    state, _ = load(path)
    (fl,) = state.collections
    assert fl.recognition_model == "recognition_01"
    assert fl.faces[0].detection_model == "detection_01"
    assert state.prune is False


def test_variables_are_text_outside_endpoints(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FS_ENDPOINT", "https://env.cognitiveservices.azure.com")
    monkeypatch.setenv("FS_GROUP_NAME", "From env")
    path = write_config(CONFIG.replace("name: Staff", "name: ${FS_GROUP_NAME}"), IMAGES)
    state, warnings = load(path)
    # The endpoint is kept as written, with its position: it is expanded when a connection is built.
    assert state.service.endpoint == "${FS_ENDPOINT:-https://x.cognitiveservices.azure.com}"
    assert state.service.endpoint_pos is not None and state.service.endpoint_pos.line == 2
    assert service_endpoint(state.service) == "https://env.cognitiveservices.azure.com"
    assert state.collections[0].name == "${FS_GROUP_NAME}"
    assert [(w.line, w.severity) for w in warnings] == [(6, "warning")]
    assert "'${FS_GROUP_NAME}' is not expanded" in warnings[0].message


def test_api_version_from_flag_overrides_config(write_config: WriteConfig) -> None:
    path = write_config("version: 1\nservice: {apiVersion: v1.2}\nprune: true\n")
    assert load(path)[0].service.api_version == "v1.2"
    assert load(path, api_version="v1.0")[0].service.api_version == "v1.0"
    assert load(path)[0].prune is True


def test_directory_is_merged(write_config: WriteConfig, tmp_path: Path) -> None:
    write_config("version: 1\npersonGroups:\n  a: {name: A}\n", name="conf/one.yaml")
    write_config(
        "version: 1\npersonGroups:\n  b: {name: B}\nfaceLists:\n  a: {name: A}\n", name="conf/two.yml"
    )
    write_config("not: yaml config", name="conf/notes.txt")
    state, _ = load(tmp_path / "conf")
    assert state.files == (os.path.join("conf", "one.yaml"), os.path.join("conf", "two.yml"))
    assert [c.id for c in state.collections] == ["a", "b", "a"]
    assert state.collections[1].pos.file == os.path.join("conf", "two.yml")


def test_all_errors_are_raised_at_once(write_config: WriteConfig) -> None:
    path = write_config(
        "version: 1\npersonGroups:\n  Bad: {name: x}\n  ok: {name: y, protect: 3}\n"
        "faceLists:\n  fl: {name: z, faces: [missing.png]}\n"
    )
    with pytest.raises(ConfigError) as info:
        load(path)
    assert [(d.line, d.column) for d in info.value.errors] == [(3, 3), (4, 26), (6, 25)]
    assert "and 2 more errors" in str(info.value)


def test_missing_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = validate("facesync.yaml")
    assert not result.ok
    assert result.errors[0].message.startswith("configuration file not found")


@pytest.mark.parametrize("tier", ["F0", "S0"])
def test_unknown_values_of_arguments_raise(tier: str) -> None:
    with pytest.raises(ValueError):
        validate("x.yaml", api_version="v9", tier=tier)
    with pytest.raises(ValueError):
        validate("x.yaml", tier="P1")


# --- rules whose inputs are generated at run time -----------------------------------------


def _messages(path: Path, **kwargs: str) -> list[str]:
    return [str(d) for d in validate(path, **kwargs).diagnostics]


def test_image_too_large(write_config: WriteConfig, tmp_path: Path) -> None:
    big = bytearray(face_image(1))
    big += b"\0" * (6 * 1024 * 1024 + 1 - len(big))
    path = write_config(
        "version: 1\nfaceLists:\n  fl:\n    name: F\n    faces: [big.png]\n", {"big.png": bytes(big)}
    )
    assert _messages(path) == [
        "facesync.yaml:5:13: error: image 'big.png' is 6.0 MB (6,291,457 bytes); "
        "the Face API accepts at most 6 MB (6,291,456 bytes)",
    ]


def test_image_too_large_in_pixels(write_config: WriteConfig) -> None:
    path = write_config(
        "version: 1\nfaceLists:\n  fl:\n    name: F\n    faces: [wide.png]\n",
        {"wide.png": face_image(1, (4100, 40))},
    )
    (msg,) = _messages(path)
    assert "is 4100×40 px; its width must be 36 to 4,096 px" in msg


def test_too_many_faces_per_person(write_config: WriteConfig) -> None:
    images = {f"p/{i:03}.png": i for i in range(249)}
    path = write_config(
        "version: 1\npersonGroups:\n  g:\n    name: G\n    persons:\n      Many:\n        faces: [p/*.png]\n",
        images,
    )
    assert _messages(path) == [
        "facesync.yaml:6:7: error: person 'Many' has 249 faces; the Face API allows at most 248 per person"
    ]


def test_too_many_facelist_faces(write_config: WriteConfig) -> None:
    faces = "\n".join(f"      - url: https://example.com/{i}.jpg" for i in range(1001))
    path = write_config(f"version: 1\nfaceLists:\n  fl:\n    name: F\n    faces:\n{faces}\n")
    assert _messages(path) == [
        "facesync.yaml:3:3: error: faceList 'fl' has 1,001 faces; a FaceList holds at most 1,000 (tier S0)"
    ]
    lfl = path.read_text().replace("faceLists:", "largeFaceLists:")
    path.write_text(lfl)
    assert _messages(path) == []
    assert "holds at most 1,000 (tier F0)" in _messages(path, tier="F0")[0]


def test_too_many_persons_on_f0(write_config: WriteConfig) -> None:
    persons = "\n".join(f"      p{i}: {{}}" for i in range(1001))
    path = write_config(f"version: 1\npersonGroups:\n  g:\n    name: G\n    persons:\n{persons}\n")
    assert _messages(path) == []
    assert _messages(path, tier="F0") == [
        "facesync.yaml:3:3: error: personGroup 'g' has 1,001 persons; a PersonGroup holds at "
        "most 1,000 on tier F0"
    ]


def test_too_many_face_lists_leave_room_for_the_apply_lock(write_config: WriteConfig) -> None:
    lists = "\n".join(f"  fl{i}: {{name: F}}" for i in range(62))
    assert _messages(write_config(f"version: 1\nfaceLists:\n{lists}\n")) == []
    lists = "\n".join(f"  fl{i}: {{name: F}}" for i in range(63))
    path = write_config(f"version: 1\nfaceLists:\n{lists}\n")
    assert _messages(path) == [
        "facesync.yaml:65:3: error: more than 62 faceLists: the Face API allows at most 64 on tier S0, "
        "and facesync keeps 2 for its apply lock"
    ]


def test_model_names_follow_the_api_version_table(
    write_config: WriteConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    from facesync.config import rules

    path = write_config("version: 1\ndefaults: {recognitionModel: recognition_04}\n")
    assert _messages(path, api_version="v1.2") == []
    monkeypatch.setitem(rules.MODELS_BY_API_VERSION, "v1.2", (("recognition_01",), ("detection_01",)))
    assert "not valid for API v1.2" in _messages(path, api_version="v1.2")[0]
    assert _messages(path, api_version="v1.0") == []


def test_second_run_uses_the_cache(write_config: WriteConfig, tmp_path: Path) -> None:
    path = write_config(CONFIG, IMAGES)
    assert validate(path).images_hashed == 4
    assert (tmp_path / ".facesync" / "cache" / "images.json").exists()
    assert validate(path).images_hashed == 0
    os.utime(tmp_path / "img/team.png", ns=(1, 2))
    assert validate(path).images_hashed == 1
    custom = tmp_path / "elsewhere"
    assert validate(path, cache_dir=custom).images_hashed == 4
    assert (custom / "cache" / "images.json").exists()
