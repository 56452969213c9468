"""HTTP handlers of the PersonDirectory (v1.0-preview, v1.1-preview.1, v1.2-preview.1): persons at
the resource root, their faces per recognition model, DynamicPersonGroups and
`GET /operations/{operationId}`, with the route table for their paths.

Writes the service runs in the background answer 202 with `Operation-Location` (the absolute URL of
the operation); docs/emulator.md, "PersonDirectory", says when each write takes effect.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from facesync.emulator import errors
from facesync.emulator.calls import (
    FACE_USER_DATA_MAX,
    ID_RE,
    RECOGNITION_MODELS,
    UUID_RE,
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
    user_data_field,
)
from facesync.emulator.errors import bad_argument

# API versions that serve the directory's own routes (digest §11: not v1.0, not v1.2 GA).
DIRECTORY_VERSIONS = ("v1.0-preview", "v1.1-preview.1", "v1.2-preview.1")
ROOTS = ("persons", "dynamicpersongroups", "operations")
# The directory rejects the pre-2019 model (digest §7: "Recognition model is not supported for
# this feature."); every recorded and documented directory call uses recognition_02 or later.
DIRECTORY_MODELS = ("recognition_02", "recognition_03", "recognition_04")
UNSUPPORTED_MODEL = "Recognition model is not supported for this feature."
# v1.0-preview names the face segment `persistedFaces` in its paths and Location headers.
FACES_SEGMENT = {"v1.0-preview": "persistedFaces"}


def _model(call: Call) -> str:
    if call.model not in RECOGNITION_MODELS:
        raise bad_argument("'recognitionModel' is invalid.")
    if call.model not in DIRECTORY_MODELS:
        raise bad_argument(UNSUPPORTED_MODEL)
    return call.model


def _accepted(call: Call, op_id: str, payload: Any = None, location: str | None = None) -> Response:
    """202 with the operation's absolute URL (and the created resource's, when there is one)."""
    headers = {"Operation-Location": f"{call.base_url}/operations/{op_id}"}
    if location is not None:
        headers["Location"] = f"{call.base_url}/{location}"
    if payload is None:
        return empty_response(202, headers)
    return json_response(payload, 202, headers)


def _now(emu: Services) -> tuple[float, float]:
    """(now, how long an operation started now takes)."""
    return emu.clock(), float(emu.settings.operation_seconds)


def person_ids(value: Any, name: str) -> list[str]:
    """A list of personIds from a request body (lower-cased, duplicates dropped); 400 when it is
    not a list of UUIDs."""
    if not isinstance(value, list):
        raise bad_argument("Request body is invalid.")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not UUID_RE.match(item):
            raise bad_argument(f"Person ID is invalid in '{name}'.")
        out.append(item.lower())
    return list(dict.fromkeys(out))


# ---- persons -----------------------------------------------------------------------------


async def h_create_person(emu: Services, call: Call) -> Response:
    body = await json_object(call.request)
    name = name_field(body.get("name"), required=True)
    user_data = user_data_field(body.get("userData"))
    assert name is not None
    pid, op_id = emu.directory.create_person(name, user_data, *_now(emu))
    return _accepted(call, op_id, {"personId": pid}, f"persons/{pid}")


async def h_list_persons(emu: Services, call: Call) -> Response:
    start, top = paging(call)
    return json_response(emu.directory.list_persons(start, top))


async def h_get_person(emu: Services, call: Call) -> Response:
    return json_response(emu.directory.get_person(call.pid))


async def h_update_person(emu: Services, call: Call) -> Response:
    fields = name_and_user_data(await json_object(call.request))
    emu.directory.update_person(call.pid, fields)
    return empty_response()


async def h_delete_person(emu: Services, call: Call) -> Response:
    return _accepted(call, emu.directory.delete_person(call.pid, *_now(emu)))


async def h_references(emu: Services, call: Call) -> Response:
    start, top = paging(call)
    groups = emu.directory.references(call.pid, start, top, emu.clock())
    if call.version == "v1.0-preview":  # its PersonDynamicPersonGroupReferenceResponse names the person
        return json_response({"personId": call.pid, "dynamicPersonGroupIds": groups})
    return json_response({"dynamicPersonGroupIds": groups})


# ---- faces -------------------------------------------------------------------------------


async def h_add_face(emu: Services, call: Call) -> Response:
    model = _model(call)
    user_data, target = add_face_options(call)
    emu.directory.check_person(call.pid)  # 404 before the image is read
    data = await read_image(call, emu.settings.url_timeout_seconds)
    face = await emu.recognition.face_for_add(data, target)
    fid, op_id = emu.directory.add_face(
        call.pid, model, user_data, face.rect, emu.recognition.engine.name, face.descriptor, *_now(emu)
    )
    segment = FACES_SEGMENT.get(call.version, "persistedfaces")
    location = f"persons/{call.pid}/recognitionModels/{model}/{segment}/{fid}"
    return _accepted(call, op_id, {"persistedFaceId": fid}, location)


async def h_list_faces(emu: Services, call: Call) -> Response:
    return json_response(emu.directory.list_faces(call.pid, _model(call)))


async def h_get_face(emu: Services, call: Call) -> Response:
    return json_response(emu.directory.get_face(call.pid, _model(call), call.fid))


async def h_update_face(emu: Services, call: Call) -> Response:
    model = _model(call)
    body = await json_object(call.request)
    user_data = user_data_field(body.get("userData"), FACE_USER_DATA_MAX)
    emu.directory.update_face(call.pid, model, call.fid, user_data)
    return empty_response()


async def h_delete_face(emu: Services, call: Call) -> Response:
    model = _model(call)
    return _accepted(call, emu.directory.delete_face(call.pid, model, call.fid, *_now(emu)))


# ---- dynamic person groups ---------------------------------------------------------------


def _check_group_id(call: Call) -> None:
    if not ID_RE.match(call.cid):
        raise errors.invalid_id("dpg")


async def h_create_group(emu: Services, call: Call) -> Response:
    if not ID_RE.match(call.cid):
        raise bad_argument(
            "Dynamic person group ID is invalid. Valid format should be a string composed by numbers, "
            "English letters in lower case, '-', '_', and no longer than 64 characters."
        )
    body = await json_object(call.request)
    name = name_field(body.get("name"), required=True)
    user_data = user_data_field(body.get("userData"))
    add = person_ids(body.get("addPersonIds", []), "addPersonIds")
    assert name is not None
    op_id = emu.directory.create_group(call.cid, name, user_data, add, *_now(emu))
    # Without members to add there is nothing to wait for: 200 (the createDynamicPersonGroup overload).
    return empty_response() if op_id is None else _accepted(call, op_id)


async def h_get_group(emu: Services, call: Call) -> Response:
    _check_group_id(call)
    return json_response(emu.directory.get_group(call.cid))


async def h_list_groups(emu: Services, call: Call) -> Response:
    start, top = paging(call)
    return json_response(emu.directory.list_groups(start, top))


async def h_update_group(emu: Services, call: Call) -> Response:
    _check_group_id(call)
    body = await json_object(call.request)
    add = person_ids(body.get("addPersonIds", []), "addPersonIds")
    remove = person_ids(body.get("removePersonIds", []), "removePersonIds")
    if set(add) & set(remove):
        raise bad_argument("A person cannot be both in 'addPersonIds' and in 'removePersonIds'.")
    fields = name_and_user_data(body, others=bool(add or remove))
    op_id = emu.directory.update_group(call.cid, fields, add, remove, *_now(emu))
    return empty_response() if op_id is None else _accepted(call, op_id)


async def h_delete_group(emu: Services, call: Call) -> Response:
    _check_group_id(call)
    return _accepted(call, emu.directory.delete_group(call.cid, *_now(emu)))


async def h_group_persons(emu: Services, call: Call) -> Response:
    _check_group_id(call)
    start, top = paging(call)
    return json_response({"personIds": emu.directory.group_persons(call.cid, start, top, emu.clock())})


# ---- operations --------------------------------------------------------------------------


async def h_operation(emu: Services, call: Call) -> Response:
    return json_response(emu.directory.operations.status(call.fid, emu.clock(), call.version, call.base_url))


# ---- routing -----------------------------------------------------------------------------

PRE = "PersonDirectory_"


def resolve(rest: list[str], method: str) -> Route | None:
    """The route of a directory path (`rest`: the decoded segments after the version, the first
    being one of ROOTS), or None. Operation ids are v1.0-preview's (Face.json)."""
    segs = [p.lower() for p in rest]
    n = len(segs)
    params: dict[str, str] = {"kind": "", "cid": ""}
    found: tuple[str, Handler] | None = None
    if segs[0] == "persons":
        if n == 1:
            found = {
                "POST": (f"{PRE}CreatePerson", h_create_person),
                "GET": (f"{PRE}GetPersons", h_list_persons),
            }.get(method)
        elif n >= 2:
            params["pid"] = segs[1]
        if n == 2:
            found = {
                "GET": (f"{PRE}GetPerson", h_get_person),
                "PATCH": (f"{PRE}UpdatePerson", h_update_person),
                "DELETE": (f"{PRE}DeletePerson", h_delete_person),
            }.get(method)
        elif n == 3 and segs[2] == "dynamicpersongroupreferences":
            found = {"GET": (f"{PRE}ListDynamicPersonGroupPersonReferences", h_references)}.get(method)
        elif n in (5, 6) and segs[2] == "recognitionmodels" and segs[4] == "persistedfaces":
            params["model"] = segs[3]
            if n == 5:
                found = {
                    "POST": (f"{PRE}AddPersonFace", h_add_face),
                    "GET": (f"{PRE}GetPersonFaces", h_list_faces),
                }.get(method)
            else:
                params["fid"] = segs[5]
                found = {
                    "GET": (f"{PRE}GetPersonFace", h_get_face),
                    "PATCH": (f"{PRE}UpdatePersonFace", h_update_face),
                    "DELETE": (f"{PRE}DeletePersonFace", h_delete_face),
                }.get(method)
    elif segs[0] == "dynamicpersongroups":
        params["kind"] = "dpg"
        if n == 1:
            found = {"GET": (f"{PRE}ListDynamicPersonGroups", h_list_groups)}.get(method)
        elif n >= 2:
            params["cid"] = rest[1]  # group ids are case-sensitive (and must be lower case)
        if n == 2:
            found = {
                "PUT": (f"{PRE}CreateDynamicPersonGroup", h_create_group),
                "GET": (f"{PRE}GetDynamicPersonGroup", h_get_group),
                "PATCH": (f"{PRE}UpdateDynamicPersonGroup", h_update_group),
                "DELETE": (f"{PRE}DeleteDynamicPersonGroup", h_delete_group),
            }.get(method)
        elif n == 3 and segs[2] == "persons":
            found = {"GET": (f"{PRE}ListDynamicPersonGroupPersons", h_group_persons)}.get(method)
    elif segs[0] == "operations" and n == 2:
        params["fid"] = segs[1]
        # The one operation-status call of Face.json (v1.0 and v1.0-preview) bears this id.
        found = {"GET": ("Snapshot_GetOperationStatus", h_operation)}.get(method)
    if found is None:
        return None
    return found[0], found[1], params
