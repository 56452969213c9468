"""Replay of the official OpenAPI examples (v1.0 and v1.2) against the emulator.

Every x-ms-example of a PersonGroup / LargePersonGroup / FaceList / LargeFaceList operation
(collections, persons, faces, training) is one test, id `<version>/<operationId>`. The test sets
up the state the example presupposes (group, person, faces, a finished training run, list items),
maps the example's server-generated ids (personId, persistedFaceId) to the emulator's, sends the
request built from the example's `parameters` and checks:

* the status code is the example's response key;
* a JSON body has the example's keys and value types, recursively (ids/names/dates may differ;
  keys the example shows as null are optional; keys the example lacks must be declared by the
  operation's response schema); an example without a body means an empty body;
* declared response headers (v1.2 train: `operation-Location`) are present.

List examples are compared by shape only: the v1.0 examples show `start` as inclusive while the
prose (digest §4) says exclusive, so the items returned are not compared with the example's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from facesync.emulator.testing import FakeClock
from tests.emulator_conformance.conformance_harness import (
    KEY_HEADERS,
    KINDS,
    V10_SPEC,
    V12_EXAMPLE_DIRS,
    V12_SPEC,
    load_json,
    poll_until_trained,
    resolve_param,
    resolve_schema,
    shape_mismatches,
    single_face_png,
    target_face_png,
)

COLLECTION_KINDS = tuple(KINDS)
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
ZERO_UUID = "00000000-0000-0000-0000-000000000000"
# Keys the live service returns that no spec schema declares (recordings/README.md §5: a
# PersonGroup training status carries `lastSuccessfulTrainingId`, 2021 and 2024 recordings).
RECORDED_EXTRA_KEYS = frozenset({"lastSuccessfulTrainingId"})


@dataclass
class ExampleCase:
    version: str
    spec_path: Path
    operation_id: str
    method: str
    template: str
    params: list[dict[str, Any]]
    example_file: Path | None
    example_ref: str
    responses: dict[str, Any] = field(default_factory=dict)


def _collect() -> list[Any]:
    cases = []
    sources = (
        ("v1.0", V10_SPEC, (V10_SPEC.parent / "examples",)),
        ("v1.2", V12_SPEC, V12_EXAMPLE_DIRS),
    )
    for version, spec_path, example_dirs in sources:
        spec = load_json(spec_path)
        for section in ("paths", "x-ms-paths"):
            for raw_path, ops in spec.get(section, {}).items():
                template = raw_path.split("?")[0]
                if template.strip("/").split("/")[0] not in COLLECTION_KINDS:
                    continue
                shared = ops.get("parameters", [])
                for method, op in ops.items():
                    if method == "parameters":
                        continue
                    params = [resolve_param(spec_path, p) for p in shared + op.get("parameters", [])]
                    for ref in op.get("x-ms-examples", {}).values():
                        name = Path(ref["$ref"]).name
                        found = next((d / name for d in example_dirs if (d / name).exists()), None)
                        case = ExampleCase(
                            version=version,
                            spec_path=spec_path,
                            operation_id=op["operationId"],
                            method=method.upper(),
                            template=template,
                            params=params,
                            example_file=found,
                            example_ref=ref["$ref"],
                            responses=op.get("responses", {}),
                        )
                        cases.append(pytest.param(case, id=f"{version}/{op['operationId']}"))
    return cases


CASES = _collect()


def test_examples_were_found():
    # 55 collection examples per version (SOURCES.md); a missing file fails its own test too.
    by_version: dict[str, int] = {}
    for param in CASES:
        case = param.values[0]
        by_version[case.version] = by_version.get(case.version, 0) + 1
    assert by_version == {"v1.0": 55, "v1.2": 55}


# --------------------------------------------------------------------------------------------
# Setup helpers


class Setup:
    """Creates the prerequisite state over the API; every call must succeed."""

    def __init__(self, client: Any, prefix: str, clock: FakeClock) -> None:
        self.client = client
        self.clock = clock
        self.prefix = prefix
        self.idmap: dict[str, str] = {}

    def _ok(self, response: httpx.Response, what: str) -> httpx.Response:
        assert response.status_code == 200, (
            f"setup step failed: {what}: {response.status_code} {response.text[:300]}"
        )
        return response

    def collection(self, kind: str, cid: str, source: dict[str, Any] | None = None) -> None:
        body = {
            k: source[k]
            for k in ("name", "userData", "recognitionModel")
            if source and source.get(k) is not None
        }
        body.setdefault("name", f"conformance {cid}")
        self._ok(
            self.client.put(f"{self.prefix}/{kind}/{cid}", json=body, headers=KEY_HEADERS),
            f"PUT {kind}/{cid}",
        )

    def person(self, kind: str, cid: str, source: dict[str, Any] | None = None) -> str:
        body = {k: source[k] for k in ("name", "userData") if source and source.get(k) is not None}
        body.setdefault("name", "conformance person")
        r = self._ok(
            self.client.post(f"{self.prefix}/{kind}/{cid}/persons", json=body, headers=KEY_HEADERS),
            f"POST {kind}/{cid}/persons",
        )
        return r.json()["personId"]

    def face(self, kind: str, cid: str, pid: str | None = None, user_data: str | None = None) -> str:
        url = f"{self.prefix}/{kind}/{cid}"
        if pid is not None:
            url += f"/persons/{pid}"
        params = {"userData": user_data} if user_data is not None else None
        r = self._ok(
            self.client.post(
                f"{url}/persistedfaces",
                params=params,
                content=single_face_png(),
                headers={**KEY_HEADERS, "Content-Type": "application/octet-stream"},
            ),
            f"POST {url}/persistedfaces",
        )
        return r.json()["persistedFaceId"]

    def content(self, kind: str, cid: str) -> None:
        """One person with one face (groups) or one face (lists)."""
        if kind in ("persongroups", "largepersongroups"):
            self.face(kind, cid, self.person(kind, cid))
        else:
            self.face(kind, cid)

    def train_and_wait(self, kind: str, cid: str) -> None:
        r = self.client.post(f"{self.prefix}/{kind}/{cid}/train", headers=KEY_HEADERS)
        assert r.status_code == 202, f"setup step failed: train {kind}/{cid}: {r.status_code}"
        poll_until_trained(
            lambda: self._ok(
                self.client.get(f"{self.prefix}/{kind}/{cid}/training", headers=KEY_HEADERS),
                "GET training",
            ).json(),
            self.clock,
        )

    def map_start(self, start: Any, created: list[str]) -> None:
        """Map the example's `start` id to the smallest created id, so later items follow it."""
        if isinstance(start, str) and UUID_RE.match(start) and start != ZERO_UUID and created:
            self.idmap[start.lower()] = min(created)


def prepare(setup: Setup, case: ExampleCase, example: dict[str, Any]) -> None:
    """Create the state the example presupposes."""
    params = example["parameters"]
    segs = case.template.strip("/").split("/")
    kind = segs[0]
    id_field = KINDS[kind]
    response = next(iter(example["responses"].values())) or {}
    body = response.get("body")
    method = case.method

    if len(segs) == 1:  # list the collections
        items = body or []
        for item in items:
            setup.collection(kind, item[id_field], item)
        start = params.get("start")
        if start:  # make sure items follow an exclusive `start`
            for n in (1, 2):
                setup.collection(kind, f"{start}-z{n}", items[0] if items else None)
        return

    cid = params[id_field]
    if len(segs) == 2 and method == "PUT":
        return
    source = body if len(segs) == 2 and method == "GET" and isinstance(body, dict) else None
    setup.collection(kind, cid, source or {"recognitionModel": "recognition_01"})
    if len(segs) == 2:
        for face in (source or {}).get("persistedFaces", []):
            setup.face(kind, cid, None, face.get("userData"))
        return

    tail = segs[2:]
    if tail == ["train"]:
        setup.content(kind, cid)
        return
    if tail == ["training"]:
        setup.content(kind, cid)
        setup.train_and_wait(kind, cid)
        return

    if tail[0] == "persons":
        if len(tail) == 1:
            if method == "GET":  # list persons; one extra person so that `start` leaves items
                items = list(body or [])
                created = []
                for item in [*items, *items[:1]]:
                    pid = setup.person(kind, cid, item)
                    for _ in range(min(len(item.get("persistedFaceIds", [])), 3)):
                        setup.face(kind, cid, pid)
                    created.append(pid)
                setup.map_start(params.get("start"), created)
            return
        person_source = body if len(tail) == 2 and method == "GET" else None
        pid = setup.person(kind, cid, person_source)
        setup.idmap[params["personId"].lower()] = pid
        for _ in range(min(len((person_source or {}).get("persistedFaceIds", [])), 3)):
            setup.face(kind, cid, pid)
        if len(tail) <= 3:
            return
        user_data = body.get("userData") if method == "GET" and isinstance(body, dict) else None
        setup.idmap[params["persistedFaceId"].lower()] = setup.face(kind, cid, pid, user_data)
        return

    if tail[0] == "persistedfaces":
        if len(tail) == 1:
            if method == "GET":  # list large-face-list faces
                items = list(body or [])
                created = [setup.face(kind, cid, None, i.get("userData")) for i in [*items, *items[:1]]]
                setup.map_start(params.get("start"), created)
            return
        user_data = body.get("userData") if method == "GET" and isinstance(body, dict) else None
        setup.idmap[params["persistedFaceId"].lower()] = setup.face(kind, cid, None, user_data)
        return
    raise AssertionError(f"no setup rule for {case.template}")


def build_request(
    setup: Setup, case: ExampleCase, example: dict[str, Any], image_server: Any
) -> dict[str, Any]:
    params = example["parameters"]

    def mapped(value: Any) -> str:
        text = str(value)
        return setup.idmap.get(text.lower(), text)

    path = case.template
    query: dict[str, str] = {}
    headers = dict(KEY_HEADERS)
    request: dict[str, Any] = {}
    target_face = params.get("targetFace")
    for param in case.params:
        name, where = param.get("name"), param.get("in")
        if name not in params:
            continue
        value = params[name]
        if where == "path":
            path = path.replace("{" + name + "}", mapped(value))
        elif where == "query":
            if isinstance(value, list):
                query[name] = ",".join(str(v) for v in value)
            elif isinstance(value, bool):
                query[name] = "true" if value else "false"
            else:
                query[name] = mapped(value) if name == "start" else str(value)
        elif where == "body":
            schema = param.get("schema", {})
            is_binary = schema.get("format") in ("file", "binary")
            if isinstance(target_face, str):
                target_face = [int(v) for v in target_face.split(",")]
            image = target_face_png(tuple(target_face)) if target_face else single_face_png()
            if is_binary:
                request["content"] = image
                headers["Content-Type"] = "application/octet-stream"
            elif isinstance(value, dict) and "url" in value:
                request["json"] = {**value, "url": image_server.add(image)}
            else:
                request["json"] = value
    assert "{" not in path, f"unfilled path parameter in {path}"
    request.update(
        method=case.method,
        url=f"/face/{case.version}{path}",
        params=query or None,
        headers=headers,
    )
    return request


@pytest.mark.parametrize("case", CASES)
def test_example(case: ExampleCase, client, clock, image_server):
    assert case.example_file is not None, f"example file {case.example_ref} not found"
    example = load_json(case.example_file)
    setup = Setup(client, f"/face/{case.version}", clock)
    prepare(setup, case, example)
    request = build_request(setup, case, example, image_server)
    r = client.request(**request)

    (code, expected), = example["responses"].items()
    expected = expected or {}
    assert r.status_code == int(code), (
        f"{request['method']} {request['url']}: expected {code}, got {r.status_code} {r.text[:300]}"
    )
    if "body" in expected:
        assert r.headers.get("content-type", "").startswith("application/json"), r.headers
        schema_ref = case.responses.get(code, {}).get("schema")
        schema = resolve_schema(case.spec_path, schema_ref) if schema_ref else None
        problems = shape_mismatches(
            expected["body"], r.json(), schema=schema, allowed_extra=RECORDED_EXTRA_KEYS
        )
        assert not problems, f"{request['method']} {request['url']} -> {r.text[:400]}\n" + "\n".join(
            problems
        )
    else:
        assert r.content == b"", f"expected an empty body, got {r.content[:200]!r}"
    for header in expected.get("headers", {}):
        assert header.lower() in {h.lower() for h in r.headers}, f"missing header {header}"
        if header.lower() == "operation-location":
            location = r.headers[header]
            collection_path = request["url"].rsplit("/", 1)[0]
            assert location.startswith(("http://", "https://")), location
            assert location.endswith(f"{collection_path}/training"), location
