"""Plan detects the image of every face it adds (issue 20.2): a photo the service would refuse
fails the plan — in the pull request — and stops apply before its first write.

Through the CLI against the emulator, whose detection rule (docs/emulator.md) makes the cases: a
flat image has no face, an annotated one has exactly the listed faces, faces under 36 px are not
found."""

from __future__ import annotations

import asyncio
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import httpx
import pytest
from click.testing import CliRunner, Result

from facesync.cli import main
from facesync.client import Endpoint, FaceAPIError
from facesync.config import load as load_config
from facesync.emulator import EmulatorSettings, create_app
from facesync.sync import Sync, SyncOptions
from tests.imagegen import face_image
from tests.sync.sync_helpers import Service, Workspace, detects

TWO_FACES = [(10, 10, 60, 60), (150, 20, 70, 70)]

PERSONS = """
version: 1
defaults: {{detectionModel: detection_03}}
personGroups:
  staff:
    name: Staff
    persons:
{persons}
"""


def configure(ws: Workspace, persons: str) -> str:
    """A person group with these persons (YAML lines, indented 6); returns the config's text."""
    text = PERSONS.format(persons=persons.strip("\n"))
    ws.config(text)
    return (ws.root / "facesync.yaml").read_text()


def position(config: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the `nth` occurrence of `needle` in the config."""
    lines = config.splitlines()
    found = [(i + 1, line.index(needle) + 1) for i, line in enumerate(lines) if needle in line]
    return found[nth]


def plan(ws: Workspace, *args: str) -> Result:
    return ws.run("plan", "--rate-limit", "0", *args)


def plan_doc(ws: Workspace, *args: str, exit_code: int = 0) -> dict[str, Any]:
    result = plan(ws, "--format", "json", *args)
    assert result.exit_code == exit_code, result.output + result.stderr
    return json.loads(result.stdout)


def findings(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return list(doc["image_checks"]["findings"])


def test_a_photo_with_no_face_fails_the_plan_in_every_format(workspace: Workspace, service: Service):
    workspace.image("images/alice.png", 1)
    workspace.image("images/nobody.png", 2, uniform=True)
    config = configure(
        workspace,
        """
      Alice: {faces: [images/alice.png]}
      Nobody: {faces: [images/nobody.png]}
""",
    )
    line, column = position(config, "images/nobody.png")

    text = plan(workspace)
    assert text.exit_code == 1, text.output
    assert "Error: the service would refuse 1 of the 2 new face image(s); apply stops" in text.stdout
    assert f'images/nobody.png (facesync.yaml:{line}:{column}), for personGroup.staff/person["Nobody"]' in (
        text.stdout
    )
    assert "no face detected (detection_03 finds faces of 36×36 px and larger in a 128×128 image)" in (
        text.stdout
    )
    assert text.stderr.splitlines()[-1].startswith(
        "Error: the service would refuse 1 new face image(s): images/nobody.png"
    )
    assert "checked 2 new face image(s) with 2 detect call(s)" in text.stderr

    doc = plan_doc(workspace, exit_code=1)
    assert doc["image_checks"]["checked"] == 2
    [finding] = findings(doc)
    assert finding["address"].startswith('personGroup.staff/person["Nobody"]/face[fs1:')
    assert finding["severity"] == "error" and finding["code"] == "no_face"
    assert finding["image"] == "images/nobody.png" and finding["detectionModel"] == "detection_03"
    assert finding["source"] == {"file": "facesync.yaml", "line": line, "column": column}
    assert finding["faces"] == []
    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(doc, schema)
    # What is checked is not what is reviewed: the checksum is the one of the unchecked plan.
    unchecked = plan_doc(workspace, "--no-check-images")
    assert "image_checks" not in unchecked and unchecked["checksum"] == doc["checksum"]

    markdown = plan(workspace, "--format", "markdown")
    assert markdown.exit_code == 1
    assert "> [!CAUTION]\n> **The service would refuse 1 of the 2 new face image(s)**" in markdown.stdout
    assert f"> - `images/nobody.png` (`facesync.yaml:{line}:{column}`" in markdown.stdout

    github = plan(workspace, "--format", "github")
    assert github.exit_code == 1
    assert (
        f"::error file=facesync.yaml,line={line},col={column},title=facesync%3A image check::"
        "images/nobody.png: no face detected" in github.stdout
    )
    assert "facesync will perform the following actions" in github.stdout  # the plan itself too
    assert service.writes() == 0

    # A saved plan keeps its findings: `show` annotates from it without calling the service.
    saved = workspace.root / "plan.json"
    assert plan(workspace, "--out", str(saved)).exit_code == 1
    shown = CliRunner().invoke(main, ["show", str(saved), "--format", "github"], env={"NO_COLOR": "1"})
    assert shown.exit_code == 0
    assert f"::error file=facesync.yaml,line={line},col={column}," in shown.stdout


def test_a_saved_plans_findings_are_checked_for_shape_and_shown_harmlessly(workspace: Workspace):
    workspace.image("images/nobody.png", 2, uniform=True)
    configure(workspace, "      Nobody: {faces: [images/nobody.png]}")
    saved = workspace.root / "plan.json"
    assert plan(workspace, "--out", str(saved)).exit_code == 1
    doc = json.loads(saved.read_text())

    def show(*args: str) -> Result:
        return CliRunner().invoke(main, ["show", str(saved), *args], env={"NO_COLOR": "1"})

    # The findings are not in the checksum: an edited file is shown, but never trusted in shape...
    doc["image_checks"]["findings"][0]["source"] = {"file": "facesync.yaml", "line": "7"}
    saved.write_text(json.dumps(doc))
    broken = show()
    assert broken.exit_code == 1 and "'image_checks': finding 1 has a malformed source" in broken.stderr
    # ...nor in what it says: terminal escapes are shown, never obeyed.
    doc["image_checks"]["findings"][0]["source"] = {"file": "facesync.yaml", "line": 7, "column": 3}
    doc["image_checks"]["findings"][0]["message"] = "no face\x1b]0;owned\x07\n::error::forged"
    saved.write_text(json.dumps(doc))
    for fmt in ("text", "markdown", "github"):
        shown = show("--format", fmt)
        assert shown.exit_code == 0 and "\x1b" not in shown.stdout, fmt
        assert not any(line.startswith("::error::forged") for line in shown.stdout.splitlines()), fmt


def test_several_faces_need_a_target_face_that_covers_one_of_them(workspace: Workspace):
    workspace.image("images/pair.png", 3, size=(256, 128), faces=TWO_FACES)
    config = configure(workspace, "      Pair: {faces: [images/pair.png]}")
    [several] = findings(plan_doc(workspace, exit_code=1))
    assert several["code"] == "several_faces" and several["severity"] == "error"
    assert several["faces"] == [[150, 20, 70, 70], [10, 10, 60, 60]]  # largest first, as detected
    assert "2 faces detected and no targetFace says which one to add" in several["message"]

    configure(workspace, "      Pair: {faces: [{image: images/pair.png, targetFace: [150, 20, 70, 70]}]}")
    chosen = plan_doc(workspace)
    assert chosen["image_checks"] == {"checked": 1, "findings": []}

    # A rectangle beside both faces: the service looks there alone, and may refuse it or add
    # something else. It does not say which, so this is a warning: the plan stays appliable.
    beside_both = "      Pair: {faces: [{image: images/pair.png, targetFace: [90, 60, 50, 50]}]}"
    config = configure(workspace, beside_both)
    [beside] = findings(plan_doc(workspace))
    assert beside["code"] == "target_matches_no_face" and beside["severity"] == "warning"
    line, column = position(config, "{image: images/pair.png")  # the face entry
    github = plan(workspace, "--format", "github")
    assert github.exit_code == 0
    assert (
        f"::warning file=facesync.yaml,line={line},col={column},title=facesync%3A image check::"
        "images/pair.png: targetFace [90, 60, 50, 50] covers no detected face" in github.stdout
    )
    assert "Warning: 1 new face image(s) may not add the intended face:" in plan(workspace).stdout


def test_faces_too_small_for_the_detection_model(workspace: Workspace):
    workspace.image("images/tiny.png", 4, faces=[(10, 10, 20, 20)])
    workspace.image("images/wide.png", 5, size=(3840, 2160), uniform=True, faces=[(100, 100, 50, 50)])
    configure(
        workspace,
        """
      Tiny: {faces: [images/tiny.png]}
      Target: {faces: [{image: images/tiny.png, targetFace: [10, 10, 20, 20]}]}
      Wide: {faces: [images/wide.png]}
""",
    )
    found = {f["address"].split('"')[1]: f for f in findings(plan_doc(workspace, exit_code=1))}
    # Too small to be detected at all: no face, and the message says what size is found.
    assert found["Tiny"]["code"] == "no_face"
    assert "finds faces of 36×36 px and larger" in found["Tiny"]["message"]
    assert found["Target"]["code"] == "target_too_small" and found["Target"]["severity"] == "error"
    assert "is 20×20 px" in found["Target"]["message"]
    # Above 1920×1080 the documented minimum grows with the image: 36 × 3840/1920 = 72 px.
    assert found["Wide"]["code"] == "face_below_minimum" and found["Wide"]["severity"] == "warning"
    assert "the face is 50×50 px, under the 72×72 px" in found["Wide"]["message"]


def test_no_check_images_makes_no_detect_call(workspace: Workspace, service: Service):
    workspace.image("images/nobody.png", 2, uniform=True)
    configure(workspace, "      Nobody: {faces: [images/nobody.png]}")
    doc = plan_doc(workspace, "--no-check-images")
    assert "image_checks" not in doc and doc["summary"]["create"] == 3
    assert detects(service.stats()) == 0


def test_only_the_images_a_plan_adds_are_detected(workspace: Workspace, service: Service):
    workspace.image("images/alice.png", 1)
    workspace.image("images/bob.png", 2)
    configure(workspace, "      Alice: {faces: [images/alice.png]}\n      Bob: {faces: [images/bob.png]}")
    assert workspace.run("apply", "--auto-approve", "--rate-limit", "0").exit_code == 0
    applied = detects(service.stats())
    assert applied == 2  # apply checked its two new images once, under its lock

    nothing = plan_doc(workspace)
    assert nothing["changes"] == [] and nothing["image_checks"] == {"checked": 0, "findings": []}
    assert detects(service.stats()) == applied  # nothing to add: no detect call

    workspace.image("images/carol.png", 3)
    configure(
        workspace,
        "      Alice: {faces: [images/alice.png]}\n      Bob: {faces: [images/bob.png]}\n"
        "      Carol: {faces: [images/carol.png]}",
    )
    one = plan_doc(workspace)
    assert one["image_checks"] == {"checked": 1, "findings": []}
    assert detects(service.stats()) == applied + 1


def test_the_same_photo_added_twice_is_detected_once(workspace: Workspace, service: Service):
    workspace.image("images/twins.png", 3, size=(256, 128), faces=TWO_FACES)
    configure(
        workspace,
        """
      Left: {faces: [{image: images/twins.png, targetFace: [10, 10, 60, 60]}]}
      Right: {faces: [{image: images/twins.png, targetFace: [150, 20, 70, 70]}]}
""",
    )
    assert plan_doc(workspace)["image_checks"] == {"checked": 2, "findings": []}
    assert detects(service.stats()) == 1


def test_apply_refuses_before_any_write_and_no_check_images_lets_the_service_refuse(
    workspace: Workspace, service: Service
):
    workspace.image("images/alice.png", 1)
    workspace.image("images/nobody.png", 2, uniform=True)
    config = configure(
        workspace, "      Alice: {faces: [images/alice.png]}\n      Nobody: {faces: [images/nobody.png]}"
    )
    line, column = position(config, "images/nobody.png")
    result = workspace.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 1, result.output + result.stderr
    assert "no face detected" in result.stdout  # the plan shown says why
    assert "the service would refuse 1 new face image(s)" in result.stderr
    assert "nothing was written" in result.stderr
    assert service.managed_writes() == 0  # its lock (taken and released) is all it wrote
    assert service.api.get("/persongroups/staff").status_code == 404
    github = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--format", "github")
    assert github.exit_code == 1
    assert f"::error file=facesync.yaml,line={line},col={column},title=facesync%3A image check::" in (
        github.stdout
    )
    assert service.managed_writes() == 0

    unchecked = workspace.run("apply", "--auto-approve", "--rate-limit", "0", "--no-check-images")
    assert unchecked.exit_code == 1
    assert "No face detected in the image." in unchecked.stderr  # the service's own refusal


def test_the_image_a_url_face_names_is_detected_by_url(
    workspace: Workspace, service: Service, image_server: tuple[str, dict[str, bytes]]
):
    base, files = image_server
    files["/nobody.png"] = face_image(2, uniform=True)
    files["/alice.png"] = face_image(1)
    configure(
        workspace,
        f"""
      Alice: {{faces: [{{url: "{base}/alice.png"}}]}}
      Nobody: {{faces: [{{url: "{base}/nobody.png"}}]}}
      Gone: {{faces: [{{url: "{base}/missing.png"}}]}}
""",
    )
    found = {f["address"].split('"')[1]: f for f in findings(plan_doc(workspace, exit_code=1))}
    assert set(found) == {"Nobody", "Gone"}
    assert found["Nobody"]["code"] == "no_face" and found["Nobody"]["image"] == f"{base}/nobody.png"
    assert "an image up to 1920×1080" in found["Nobody"]["message"]  # a URL's size is not known
    assert found["Gone"]["code"] == "image_refused" and "InvalidURL" in found["Gone"]["message"]
    assert service.stats()["operations"].get("Face_DetectWithUrl") == 3


def test_a_finding_in_one_environment_is_that_environments_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    from tests.environments.helpers import regions
    from tests.sync.sync_helpers import write_staff

    with regions(("prod", {}), ("staging", {})) as fleet:
        monkeypatch.chdir(tmp_path)
        ws = Workspace(tmp_path, "http://127.0.0.1:9")
        write_staff(ws)
        ws.image("images/bob/badge.jpg", 3, uniform=True)  # Bob's photo has no face
        config = (ws.root / "facesync.yaml").read_text()
        ws.config(
            config
            + "environments:\n"
            + f"  prod: {{endpoint: {fleet['prod'].url}, rateLimit: 0, targets: [faceList.vip]}}\n"
            + f"  staging: {{endpoint: {fleet['staging'].url}, rateLimit: 0}}\n"
        )
        line, column = position(config, "image: images/bob/badge.jpg")
        result = ws.run("plan", "--all-envs", "--format", "json")
        assert result.exit_code == 1, result.output + result.stderr
        doc = {e["environment"]: e for e in json.loads(result.stdout)["environments"]}
        assert doc["prod"]["image_checks"] == {"checked": 1, "findings": []}
        assert "error" not in doc["prod"]
        [finding] = doc["staging"]["image_checks"]["findings"]
        assert finding["code"] == "no_face" and finding["source"]["line"] == line
        assert doc["staging"]["error"].startswith("the service would refuse 1 new face image(s)")
        assert "could not plan environment(s) staging" in result.stderr

        github = ws.run("plan", "--all-envs", "--format", "github")
        annotations = [a for a in github.stdout.splitlines() if a.startswith("::")]
        assert annotations == [
            f"::error file=facesync.yaml,line={line},col={column},"
            "title=facesync%3A image check (staging)::images/bob/badge.jpg: no face detected "
            "(detection_03 finds faces of 36×36 px and larger in a 128×128 image)"
        ]
        markdown = ws.run("plan", "--all-envs", "--format", "markdown").stdout
        assert "`staging` cannot be applied: the service would refuse 1 new face image(s)" in markdown

        applied = ws.run("apply", "--all-envs", "--auto-approve")
        assert applied.exit_code == 1
        assert httpx_get(fleet["prod"].url, "/facelists/vip") == 200  # prod is applied
        assert httpx_get(fleet["staging"].url, "/persongroups/staff") == 404  # staging is not

        # The same photo refused in both: one annotation, naming both.
        ws.config(
            config
            + "environments:\n"
            + f"  prod: {{endpoint: {fleet['prod'].url}, rateLimit: 0}}\n"
            + f"  staging: {{endpoint: {fleet['staging'].url}, rateLimit: 0}}\n"
        )
        both = ws.run("plan", "--all-envs", "--format", "github")
        assert [a for a in both.stdout.splitlines() if a.startswith("::")] == [
            f"::error file=facesync.yaml,line={line},col={column},"
            "title=facesync%3A image check (prod%2C staging)::images/bob/badge.jpg: no face detected "
            "(detection_03 finds faces of 36×36 px and larger in a 128×128 image)"
        ]


def httpx_get(url: str, path: str) -> int:
    import httpx

    return httpx.get(f"{url}/face/v1.0{path}").status_code


class _Files(http.server.BaseHTTPRequestHandler):
    files: ClassVar[dict[str, bytes]] = {}

    def do_GET(self) -> None:
        data = self.files.get(self.path)
        self.send_response(200 if data is not None else 404)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(data or b"")))
        self.end_headers()
        self.wfile.write(data or b"")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def image_server() -> Iterator[tuple[str, dict[str, bytes]]]:
    """Images over HTTP on 127.0.0.1, for `url:` faces: put bytes under a path, fetch base + path."""
    files: dict[str, bytes] = {}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), type("Files", (_Files,), {"files": files}))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


class _DetectForbidden(httpx.AsyncBaseTransport):
    """The emulator in-process, except that detect is forbidden (as for a role without it)."""

    def __init__(self, app: Any) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.detects = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/detect"):
            self.detects += 1
            await asyncio.sleep(0)  # let the other checks start, as they would on a network
            body = {"error": {"code": "PermissionDenied", "message": "detect is not allowed"}}
            # Streamed, as from the network: the client reads every body as a stream.
            stream = httpx.ByteStream(json.dumps(body).encode())
            return httpx.Response(403, headers={"content-type": "application/json"}, stream=stream)
        return await self.inner.handle_async_request(request)


def test_a_detect_call_that_fails_stops_the_checks_at_once_and_fails_the_plan(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.chdir(tmp_path)
    ws = Workspace(tmp_path, "")
    for i in range(30):
        ws.image(f"images/p{i}.png", i)
    configure(ws, "\n".join(f"      P{i}: {{faces: [images/p{i}.png]}}" for i in range(30)))
    desired, _ = load_config(tmp_path / "facesync.yaml")
    app = create_app(EmulatorSettings())
    transport = _DetectForbidden(app)

    async def go() -> None:
        options = SyncOptions(rate_limit=None, parallelism=2, check_images=True)
        async with Sync(desired, Endpoint("http://emulator.test"), options=options, transport=transport) as s:
            await s.plan()

    with pytest.raises(FaceAPIError, match="PermissionDenied"):
        asyncio.run(go())
    # The first refusal stops the rest: a few calls were under way (two at a time), not one
    # forbidden call per image.
    assert 1 <= transport.detects < 10
    app.state.emulator.close()


def test_a_directory_photo_is_detected_once_for_every_model_it_is_enrolled_in(
    workspace: Workspace, service: Service
):
    from tests.directory.helpers import FAMILY

    workspace.image("images/dad/1.png", 1)
    workspace.image("images/dad/2.png", 2)
    workspace.image("images/mum/1.png", 3)
    workspace.image("images/kid/1.png", 4, uniform=True)  # no face
    config = FAMILY.replace(
        "recognitionModels: [recognition_03]", "recognitionModels: [recognition_03, recognition_04]"
    )
    workspace.config(config)
    doc = plan_doc(workspace, exit_code=1)
    assert doc["image_checks"]["checked"] == 8  # four photos, each enrolled in two models
    assert detects(service.stats()) == 4
    kid = [f for f in findings(doc) if '"Kid"' in f["address"]]
    assert {f["address"].split("/model[")[1].split("]")[0] for f in kid} == {
        "recognition_03",
        "recognition_04",
    }
    assert all(f["code"] == "no_face" for f in kid) and len(findings(doc)) == 2
