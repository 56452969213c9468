"""HTTP handlers of the four collection kinds (PersonGroup, LargePersonGroup, FaceList,
LargeFaceList) and their persons, faces and training, with the route table for their paths."""

from __future__ import annotations

from starlette.responses import Response

from facesync.emulator import errors
from facesync.emulator.calls import (
    FACE_USER_DATA_MAX,
    ID_RE,
    RECOGNITION_MODELS,
    Call,
    Handler,
    Route,
    Services,
    add_face_options,
    empty_response,
    json_object,
    json_response,
    name_and_user_data,
    name_field,
    paging,
    read_image,
    return_model,
    user_data_field,
)
from facesync.emulator.errors import KINDS, bad_argument
from facesync.emulator.store import TRAINABLE

# first path segment -> kind
SEGMENTS = {"persongroups": "pg", "largepersongroups": "lpg", "facelists": "fl", "largefacelists": "lfl"}
SEGMENT_OF = {v: k for k, v in SEGMENTS.items()}
OP_PREFIX = {"pg": "PersonGroup", "lpg": "LargePersonGroup", "fl": "FaceList", "lfl": "LargeFaceList"}
GROUPS = ("pg", "lpg")


def _check_id(call: Call) -> None:
    """Malformed collection ids answer 404 *NotFound outside create."""
    if not ID_RE.match(call.cid):
        raise errors.invalid_id(call.kind)


# ---- collections -------------------------------------------------------------------------


async def h_create_collection(emu: Services, call: Call) -> Response:
    if not ID_RE.match(call.cid):
        label = KINDS[call.kind][1]
        raise bad_argument(
            f"{label} ID is invalid. Valid format should be a string composed by numbers, "
            "English letters in lower case, '-', '_', and no longer than 64 characters."
        )
    body = await json_object(call.request)
    name = name_field(body.get("name"), required=True)
    user_data = user_data_field(body.get("userData"))
    model = body.get("recognitionModel")
    if model is None:
        model = "recognition_01"
    if model not in RECOGNITION_MODELS:
        raise bad_argument("'recognitionModel' is invalid.")
    assert name is not None
    emu.store.create_collection(call.kind, call.cid, name, user_data, model)
    return empty_response()


async def h_get_collection(emu: Services, call: Call) -> Response:
    _check_id(call)
    with_model = return_model(call)
    return json_response(emu.store.get_collection(call.kind, call.cid, with_model))


async def h_list_collections(emu: Services, call: Call) -> Response:
    with_model = return_model(call)
    if call.kind == "fl":  # GET /facelists does not page
        return json_response(emu.store.list_collections("fl", "", None, with_model))
    start, top = paging(call)
    return json_response(emu.store.list_collections(call.kind, start, top, with_model))


async def h_update_collection(emu: Services, call: Call) -> Response:
    _check_id(call)
    fields = name_and_user_data(await json_object(call.request))
    emu.store.update_collection(call.kind, call.cid, fields)
    return empty_response()


async def h_delete_collection(emu: Services, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_collection(call.kind, call.cid, emu.clock())
    return empty_response()


# ---- training ----------------------------------------------------------------------------


async def h_train(emu: Services, call: Call) -> Response:
    _check_id(call)
    emu.recognition.train(call.kind, call.cid, emu.settings.train_seconds)
    location = f"{call.base_url}/{SEGMENT_OF[call.kind]}/{call.cid}/training"
    return empty_response(
        202,
        {"Operation-Location": location, "Access-Control-Expose-Headers": "Operation-Location"},
    )


async def h_training(emu: Services, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.training_status(call.kind, call.cid, emu.clock(), call.new_style))


# ---- persons -----------------------------------------------------------------------------


async def h_create_person(emu: Services, call: Call) -> Response:
    _check_id(call)
    body = await json_object(call.request)
    name = name_field(body.get("name"), required=True)
    user_data = user_data_field(body.get("userData"))
    assert name is not None
    pid = emu.store.create_person(call.kind, call.cid, name, user_data)
    return json_response({"personId": pid})


async def h_list_persons(emu: Services, call: Call) -> Response:
    _check_id(call)
    start, top = paging(call)
    return json_response(emu.store.list_persons(call.kind, call.cid, start, top))


async def h_get_person(emu: Services, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.get_person(call.kind, call.cid, call.pid))


async def h_update_person(emu: Services, call: Call) -> Response:
    _check_id(call)
    fields = name_and_user_data(await json_object(call.request))
    emu.store.update_person(call.kind, call.cid, call.pid, fields)
    return empty_response()


async def h_delete_person(emu: Services, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_person(call.kind, call.cid, call.pid)
    return empty_response()


# ---- faces -------------------------------------------------------------------------------


async def h_add_face(emu: Services, call: Call) -> Response:
    _check_id(call)
    user_data, target = add_face_options(call)
    emu.store.check_face_target(call.kind, call.cid, call.pid)
    data = await read_image(call, emu.settings.url_timeout_seconds)
    face = await emu.recognition.face_for_add(data, target)
    fid = emu.store.add_face(call.kind, call.cid, call.pid, user_data, face.rect)
    emu.recognition.remember_face(call.kind, call.cid, call.pid, fid, face)
    return json_response({"persistedFaceId": fid})


async def h_get_face(emu: Services, call: Call) -> Response:
    _check_id(call)
    return json_response(emu.store.get_face(call.kind, call.cid, call.pid, call.fid))


async def h_list_faces(emu: Services, call: Call) -> Response:
    _check_id(call)
    start, top = paging(call)
    return json_response(emu.store.list_faces(call.kind, call.cid, start, top))


async def h_update_face(emu: Services, call: Call) -> Response:
    _check_id(call)
    body = await json_object(call.request)
    user_data = user_data_field(body.get("userData"), FACE_USER_DATA_MAX)
    emu.store.update_face(call.kind, call.cid, call.pid, call.fid, user_data)
    return empty_response()


async def h_delete_face(emu: Services, call: Call) -> Response:
    _check_id(call)
    emu.store.delete_face(call.kind, call.cid, call.pid, call.fid)
    return empty_response()


# ---- routing -----------------------------------------------------------------------------


def resolve(rest: list[str], method: str) -> Route | None:
    """The route of a collection path (`rest`: the decoded segments after the version, the
    first being one of SEGMENTS), or None."""
    kind = SEGMENTS[rest[0].lower()]
    pre = OP_PREFIX[kind]
    n = len(rest)
    segs = [p.lower() for p in rest]
    op: str | None = None
    handler: Handler | None = None
    params: dict[str, str] = {"kind": kind, "cid": rest[1] if n > 1 else ""}
    if n == 1:
        if method == "GET":
            op, handler = f"{pre}_List", h_list_collections
    elif n == 2:
        op, handler = {
            "PUT": (f"{pre}_Create", h_create_collection),
            "GET": (f"{pre}_Get", h_get_collection),
            "PATCH": (f"{pre}_Update", h_update_collection),
            "DELETE": (f"{pre}_Delete", h_delete_collection),
        }.get(method, (None, None))
    elif n == 3:
        seg = segs[2]
        if seg == "train" and kind in TRAINABLE and method == "POST":
            op, handler = f"{pre}_Train", h_train
        elif seg == "training" and kind in TRAINABLE and method == "GET":
            op, handler = f"{pre}_GetTrainingStatus", h_training
        elif seg == "persons" and kind in GROUPS:
            op, handler = {
                "POST": (f"{pre}Person_Create", h_create_person),
                "GET": (f"{pre}Person_List", h_list_persons),
            }.get(method, (None, None))
        elif seg == "persistedfaces" and kind not in GROUPS:
            if method == "POST":
                op, handler = f"{pre}_AddFace", h_add_face
            elif method == "GET" and kind == "lfl":
                op, handler = f"{pre}_ListFaces", h_list_faces
    elif n == 4:
        seg = segs[2]
        if seg == "persons" and kind in GROUPS:
            params["pid"] = segs[3]
            op, handler = {
                "GET": (f"{pre}Person_Get", h_get_person),
                "PATCH": (f"{pre}Person_Update", h_update_person),
                "DELETE": (f"{pre}Person_Delete", h_delete_person),
            }.get(method, (None, None))
        elif seg == "persistedfaces" and kind not in GROUPS:
            params["fid"] = segs[3]
            if method == "DELETE":
                op, handler = f"{pre}_DeleteFace", h_delete_face
            elif kind == "lfl":
                op, handler = {
                    "GET": (f"{pre}_GetFace", h_get_face),
                    "PATCH": (f"{pre}_UpdateFace", h_update_face),
                }.get(method, (None, None))
    elif n in (5, 6) and kind in GROUPS and segs[2] == "persons" and segs[4] == "persistedfaces":
        params["pid"] = segs[3]
        if n == 5 and method == "POST":
            op, handler = f"{pre}Person_AddFace", h_add_face
        elif n == 6:
            params["fid"] = segs[5]
            op, handler = {
                "GET": (f"{pre}Person_GetFace", h_get_face),
                "PATCH": (f"{pre}Person_UpdateFace", h_update_face),
                "DELETE": (f"{pre}Person_DeleteFace", h_delete_face),
            }.get(method, (None, None))
    if op is None or handler is None:
        return None
    return op, handler, params
