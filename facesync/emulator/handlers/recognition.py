"""HTTP handlers of the recognition operations: detect, identify, verify, findsimilars, group.

Wording and limits follow the Face API (v1.0 and v1.2 swagger, digest §6-9); where the service's
exact answer is unknown the choice is listed in docs/emulator.md, "Recognition".
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from starlette.responses import Response

from facesync.emulator import errors
from facesync.emulator.calls import (
    DETECTION_MODELS,
    RECOGNITION_MODELS,
    UUID_RE,
    Call,
    Handler,
    Services,
    json_object,
    json_response,
    read_image,
)
from facesync.emulator.errors import ApiError, bad_argument
from facesync.emulator.recognition.attributes import attributes_json, landmarks_json, parse_attributes
from facesync.emulator.recognition.engines import Face
from facesync.emulator.recognition.state import Candidate, QueryFace, missing_400

log = logging.getLogger(__name__)

TTL_MIN, TTL_MAX, TTL_DEFAULT = 60, 86_400, 86_400
DETECT_MAX_FACES = 100
IDENTIFY_MAX_FACES = 10
IDENTIFY_CANDIDATES = (1, 100, 1)  # min, max, default
FIND_CANDIDATES = (1, 1000, 20)
FIND_MAX_FACE_IDS = 1000
GROUP_FACES = (2, 1000)
# The service's default same-person threshold (isIdentical, matchPerson, identify, group).
SAME_PERSON = 0.5
MODES = ("matchPerson", "matchFace")
INCOMPATIBLE = "'recognitionModel' is incompatible."


# ---- small validators --------------------------------------------------------------------


def _bool(call: Call, name: str, default: bool) -> bool:
    value = call.query(name)
    if value is None:
        return default
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise bad_argument(f"'{name}' is invalid.")


def _face_id(value: Any, name: str = "faceId") -> str:
    if value is None:
        raise bad_argument(f"'{name}' is empty.")
    if not isinstance(value, str) or not UUID_RE.match(value):
        raise bad_argument("Face ID is invalid.")
    return value.lower()


def _face_ids(value: Any, low: int, high: int, name: str = "faceIds") -> list[str]:
    if value is None or (isinstance(value, list) and not value):
        raise bad_argument(f"'{name}' is empty.")
    if not isinstance(value, list):
        raise bad_argument("Request body is invalid.")
    if len(value) < low:
        raise bad_argument(f"The number of '{name}' must be at least {low}.")
    if len(value) > high:
        raise bad_argument(f"The number of '{name}' exceeds the limit of {high}.")
    return [_face_id(v) for v in value]


def _int(value: Any, name: str, limits: tuple[int, int, int]) -> int:
    low, high, default = limits
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise bad_argument(f"'{name}' is invalid, it should be in the range [{low}, {high}].")
    return value


def _threshold(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise bad_argument("'confidenceThreshold' is invalid, it should be in the range [0, 1].")
    return float(value)


def _collection_id(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value:
        raise bad_argument("Request body is invalid.")
    return value


def _group_scope(body: dict[str, Any]) -> tuple[str, str]:
    """(kind, id) from personGroupId | largePersonGroupId: exactly one of them."""
    pg, lpg = body.get("personGroupId"), body.get("largePersonGroupId")
    if pg is not None and lpg is not None:
        raise ApiError(
            400,
            "PersonGroupIdAndLargePersonGroupIdBothNotNull",
            "Large person group ID and person group ID are both not null.",
        )
    if pg is None and lpg is None:
        raise ApiError(
            400,
            "PersonGroupIdAndLargePersonGroupIdBothNull",
            "Large person group ID and person group ID are both null.",
        )
    return ("pg", _collection_id(pg, "pg")) if pg is not None else ("lpg", _collection_id(lpg, "lpg"))


def _rounded(value: float) -> float:
    # The service answers confidences with 5 decimals (0.95299 in the recordings).
    return round(min(1.0, max(0.0, value)), 5)


def _same_model(faces: Sequence[QueryFace], model: str | None = None) -> None:
    models = {f.recognition_model for f in faces}
    if model is not None:
        models.add(model)
    if len(models) > 1:
        raise bad_argument(INCOMPATIBLE)


# ---- detect ------------------------------------------------------------------------------


def _rect_json(face: Face) -> dict[str, int]:
    left, top, width, height = face.rect
    return {"top": top, "left": left, "width": width, "height": height}


async def h_detect(emu: Services, call: Call) -> Response:
    detection_model = call.query("detectionModel") or "detection_01"
    if detection_model not in DETECTION_MODELS:
        raise bad_argument("'detectionModel' is invalid.")
    recognition_model = call.query("recognitionModel") or "recognition_01"
    if recognition_model not in RECOGNITION_MODELS:
        raise bad_argument("'recognitionModel' is invalid.")
    return_id = _bool(call, "returnFaceId", True)
    return_landmarks = _bool(call, "returnFaceLandmarks", False)
    return_model = _bool(call, "returnRecognitionModel", False)
    raw_ttl = call.query("faceIdTimeToLive")
    try:
        ttl = TTL_DEFAULT if raw_ttl is None else int(raw_ttl)
    except ValueError:
        ttl = -1
    if not TTL_MIN <= ttl <= TTL_MAX:
        raise bad_argument(
            f"'faceIdTimeToLive' is invalid, it should be in the range [{TTL_MIN}, {TTL_MAX}]."
        )
    wanted = parse_attributes(
        call.query("returnFaceAttributes"), call.new_style, detection_model, recognition_model
    )
    if return_landmarks and detection_model == "detection_02":
        raise bad_argument("'returnFaceLandmarks' is not supported by detection_02.")
    data = await read_image(call, emu.settings.url_timeout_seconds)
    faces = (await emu.recognition.detect(data))[:DETECT_MAX_FACES]
    ids: list[str | None] = [None] * len(faces)
    if return_id and faces:
        now = emu.clock()
        stored = emu.recognition.state.add_face_ids(
            [(",".join(str(v) for v in f.rect), f.descriptor) for f in faces],
            emu.recognition.engine.name,
            recognition_model,
            detection_model,
            now + ttl,
            now,
        )
        ids = list(stored)
    out = []
    for face, face_id in zip(faces, ids, strict=True):
        item: dict[str, Any] = {}
        if face_id is not None:
            item["faceId"] = face_id
        if return_model:
            item["recognitionModel"] = recognition_model
        item["faceRectangle"] = _rect_json(face)
        if return_landmarks:
            item["faceLandmarks"] = landmarks_json(face)
        if wanted:
            item["faceAttributes"] = attributes_json(face, wanted)
        out.append(item)
    return json_response(out)


# ---- identify ----------------------------------------------------------------------------


def _query_faces(emu: Services, face_ids: Sequence[str]) -> list[QueryFace]:
    now = emu.clock()
    return [emu.recognition.state.query_face(fid, now) for fid in face_ids]


def _score(emu: Services, query: QueryFace, candidate: Candidate) -> float:
    return emu.recognition.confidence(query.engine, query.descriptor, candidate.engine, candidate.descriptor)


def _per_person(emu: Services, query: QueryFace, faces: Sequence[Candidate]) -> dict[str, float]:
    """A person's confidence is that of their best-matching trained face."""
    best: dict[str, float] = {}
    for cand in faces:
        score = _score(emu, query, cand)
        if score > best.get(cand.pid, -1.0):
            best[cand.pid] = score
    return best


# Versions whose identify and verify also take the PersonDirectory scopes (personIds,
# dynamicPersonGroupId; a personId without a group): the three previews and v1.2, whose spec
# keeps the identifyFromPersonDirectory / identifyFromDynamicPersonGroup / verifyFromPersonDirectory
# overloads although it serves no directory routes.
DIRECTORY_SCOPE_VERSIONS = ("v1.0-preview", "v1.1-preview.1", "v1.2-preview.1", "v1.2")
IDENTIFY_MAX_PERSONS = 30
ALL_PERSONS = "*"
SCOPE_KEYS = ("personGroupId", "largePersonGroupId", "dynamicPersonGroupId", "personIds")


def _person_scope(value: Any) -> list[str] | None:
    """The personIds of an identify call; None for ["*"] (the whole directory)."""
    if value == [ALL_PERSONS]:
        return None
    if not isinstance(value, list):
        raise bad_argument("Request body is invalid.")
    if not value:
        raise bad_argument("'personIds' is empty.")
    if len(value) > IDENTIFY_MAX_PERSONS:
        raise bad_argument(f"The number of 'personIds' exceeds the limit of {IDENTIFY_MAX_PERSONS}.")
    pids = []
    for item in value:
        if not isinstance(item, str) or not UUID_RE.match(item):
            raise bad_argument("Person ID is invalid.")
        pids.append(item.lower())
    return list(dict.fromkeys(pids))


def _directory_scope(call: Call, body: dict[str, Any]) -> str | None:
    """ "dynamicPersonGroupId" or "personIds" when the body identifies in the directory (else
    None: a person group scope); 400 when it names a directory scope beside another scope."""
    if call.version not in DIRECTORY_SCOPE_VERSIONS:
        return None
    given = [k for k in SCOPE_KEYS if body.get(k) is not None]
    directory = [k for k in given if k in SCOPE_KEYS[2:]]
    if not directory:
        return None
    if len(given) > 1:
        raise ApiError(
            400,
            "IncompatibleIdentificationScopeParametersCombination",
            "Parameter personGroupId, largePersonGroupId, dynamicPersonGroupId, or personIds "
            "should not be provided at the same time.",
        )
    return directory[0]


def _directory_pool(emu: Services, body: dict[str, Any], scope: str, model: str) -> list[Candidate]:
    """The directory faces of `model` an identify call matches against: no training, the
    directory's current state (faces whose add operation is done, members in force)."""
    now = emu.clock()
    if scope == "dynamicPersonGroupId":
        gid = _collection_id(body[scope], "dpg")
        if not emu.directory.group_exists(gid):
            raise missing_400("dpg")
        return emu.directory.candidates(model, now, group=gid)
    persons = _person_scope(body[scope])
    if persons is not None and emu.directory.missing_persons(persons):
        raise ApiError(400, "PersonNotFound", "Person is not found.\r\nParameter name: personIds")
    return emu.directory.candidates(model, now, persons=persons)


async def h_identify(emu: Services, call: Call) -> Response:
    body = await json_object(call.request)
    face_ids = _face_ids(body.get("faceIds"), 1, IDENTIFY_MAX_FACES)
    scope = _directory_scope(call, body)
    group = _group_scope(body) if scope is None else None
    top = _int(body.get("maxNumOfCandidatesReturned"), "maxNumOfCandidatesReturned", IDENTIFY_CANDIDATES)
    threshold = _threshold(body.get("confidenceThreshold"))
    if group is not None:
        model, pool = emu.recognition.state.trained(*group, emu.clock())
        queries = _query_faces(emu, face_ids)
        _same_model(queries, model)
    else:
        assert scope is not None
        queries = _query_faces(emu, face_ids)
        # The directory keeps faces per model: the query faces' own model picks the faces.
        _same_model(queries)
        pool = _directory_pool(emu, body, scope, queries[0].recognition_model)
    floor = SAME_PERSON if threshold is None else threshold
    results = []
    for query in queries:
        scores = _per_person(emu, query, pool)
        ranked = sorted(
            ((pid, s) for pid, s in scores.items() if s >= floor), key=lambda kv: (-kv[1], kv[0])
        )[:top]
        results.append(
            {
                "faceId": query.face_id,
                "candidates": [{"personId": pid, "confidence": _rounded(s)} for pid, s in ranked],
            }
        )
    return json_response(results)


# ---- verify ------------------------------------------------------------------------------


def _verdict(confidence: float) -> Response:
    confidence = _rounded(confidence)
    return json_response({"isIdentical": confidence >= SAME_PERSON, "confidence": confidence})


async def h_verify(emu: Services, call: Call) -> Response:
    body = await json_object(call.request)
    if "faceId1" in body or "faceId2" in body:
        first = _face_id(body.get("faceId1"), "faceId1")
        second = _face_id(body.get("faceId2"), "faceId2")
        a, b = _query_faces(emu, [first, second])
        _same_model([a, b])
        return _verdict(emu.recognition.confidence(a.engine, a.descriptor, b.engine, b.descriptor))
    face_id = _face_id(body.get("faceId"))
    person_id = body.get("personId")
    if person_id is None:
        raise bad_argument("'personId' is empty.")
    if not isinstance(person_id, str) or not UUID_RE.match(person_id):
        raise bad_argument("Person ID is invalid.")
    person_id = person_id.lower()
    if (
        call.version in DIRECTORY_SCOPE_VERSIONS
        and body.get("personGroupId") is None
        and body.get("largePersonGroupId") is None
    ):
        return _verify_in_directory(emu, face_id, person_id)
    kind, cid = _group_scope(body)
    model, trained = emu.recognition.state.trained(kind, cid, emu.clock())
    faces = [c for c in trained if c.pid == person_id]
    if not faces and not emu.recognition.state.person_exists(kind, cid, person_id):
        raise errors.person_not_found()
    (query,) = _query_faces(emu, [face_id])
    _same_model([query], model)
    best = max((_score(emu, query, c) for c in faces), default=0.0)
    return _verdict(best)


def _verify_in_directory(emu: Services, face_id: str, person_id: str) -> Response:
    """Verify against a directory person: their faces of the query face's model whose add
    operation is done; a person without such faces is not identical (confidence 0)."""
    if emu.directory.missing_persons([person_id]):
        raise errors.person_not_found()
    (query,) = _query_faces(emu, [face_id])
    faces = emu.directory.candidates(query.recognition_model, emu.clock(), persons=[person_id])
    return _verdict(max((_score(emu, query, c) for c in faces), default=0.0))


# ---- find similar ------------------------------------------------------------------------


async def h_find_similar(emu: Services, call: Call) -> Response:
    body = await json_object(call.request)
    face_id = _face_id(body.get("faceId"))
    mode = body.get("mode", "matchPerson")
    if mode not in MODES:
        raise bad_argument("'mode' is invalid.")
    top = _int(body.get("maxNumOfCandidatesReturned"), "maxNumOfCandidatesReturned", FIND_CANDIDATES)
    scopes = [k for k in ("faceIds", "faceListId", "largeFaceListId") if body.get(k) is not None]
    if not scopes:
        raise bad_argument("One of 'faceIds', 'faceListId' and 'largeFaceListId' is required.")
    if len(scopes) > 1:
        raise bad_argument("Only one of 'faceIds', 'faceListId' and 'largeFaceListId' can be given.")
    scope = scopes[0]
    state = emu.recognition.state
    key = "persistedFaceId"
    if scope == "faceIds":
        key = "faceId"
        targets = _query_faces(emu, _face_ids(body["faceIds"], 1, FIND_MAX_FACE_IDS))
        (query,) = _query_faces(emu, [face_id])
        _same_model([query, *targets])
        pool = [Candidate("", t.face_id, t.engine, t.descriptor) for t in targets]
    else:
        if scope == "faceListId":
            cid = _collection_id(body[scope], "fl")
            model = state.collection_model("fl", cid)
            pool = state.face_list(cid)
        else:
            cid = _collection_id(body[scope], "lfl")
            model, pool = state.trained("lfl", cid, emu.clock())
        (query,) = _query_faces(emu, [face_id])
        _same_model([query], model)
    scored = [(c.fid, _score(emu, query, c)) for c in pool]
    if mode == "matchPerson":
        scored = [(fid, s) for fid, s in scored if s >= SAME_PERSON]
    scored.sort(key=lambda kv: -kv[1])
    return json_response([{key: fid, "confidence": _rounded(s)} for fid, s in scored[:top]])


# ---- group -------------------------------------------------------------------------------


async def h_group(emu: Services, call: Call) -> Response:
    body = await json_object(call.request)
    face_ids = _face_ids(body.get("faceIds"), *GROUP_FACES)
    # Repeated ids count once, like a set of faces.
    unique = list(dict.fromkeys(face_ids))
    faces = _query_faces(emu, unique)
    _same_model(faces)
    parent = list(range(len(faces)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i in range(len(faces)):
        for j in range(i + 1, len(faces)):
            a, b = faces[i], faces[j]
            if emu.recognition.confidence(a.engine, a.descriptor, b.engine, b.descriptor) >= SAME_PERSON:
                parent[root(j)] = root(i)
    clusters: dict[int, list[str]] = {}
    for i, face in enumerate(faces):
        clusters.setdefault(root(i), []).append(face.face_id)
    groups = sorted((c for c in clusters.values() if len(c) > 1), key=lambda c: -len(c))
    messy = [c[0] for c in clusters.values() if len(c) == 1]
    return json_response({"groups": groups, "messyGroup": messy})


# ---- routing -----------------------------------------------------------------------------

# First path segment -> (v1.0 operationId, handler); all are POST. Detect's id gets its
# WithUrl/WithStream suffix from the content type, like add-face.
ROUTES: dict[str, tuple[str, Handler]] = {
    "detect": ("Face_Detect", h_detect),
    "identify": ("Face_Identify", h_identify),
    "verify": ("Face_Verify", h_verify),
    "findsimilars": ("Face_FindSimilar", h_find_similar),
    "group": ("Face_Group", h_group),
}

__all__ = ["ROUTES"]
