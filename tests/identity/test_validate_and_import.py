"""validate reports what `facesync test` would refuse; import writes the models it found as
`defaults` (faces added later are detected like the others) and files anyone may read."""

from __future__ import annotations

import os
import stat

from facesync.config import load as load_config
from tests.identity.identity_helpers import Service, Workspace
from tests.importing.import_helpers import SdkScript, run_sdk

KEPT = "0a1b2c3d-0000-4000-8000-000000000001"


def test_validate_rejects_the_test_file_that_facesync_test_rejects(workspace: Workspace):
    workspace.image("images/a.png", 1)
    workspace.image("probes/a.png", 1)
    workspace.config(
        f"""
        version: 1
        faceLists:
          watch:
            name: Watch
            faces: [images/a.png, {{persistedFaceId: {KEPT}}}]
        """
    )
    (workspace.root / "watch.test.yaml").write_text(
        f"tests:\n  - name: finds the kept face\n    probe: probes/a.png\n"
        f"    findSimilar: {{in: faceList.watch, expect: {KEPT}}}\n"
    )
    message = f"'{KEPT}' is a kept face of faceList.watch (persistedFaceId)"
    validate = workspace.run("validate")
    assert validate.exit_code == 1
    assert "watch.test.yaml:2:5: error: test 'finds the kept face': " + message in validate.stdout
    test = workspace.cli("test")
    assert test.exit_code == 1
    assert message in test.stderr


def test_validate_accepts_what_facesync_test_accepts(workspace: Workspace):
    workspace.image("images/a.png", 1)
    workspace.image("probes/a.png", 1)
    workspace.config(
        """
        version: 1
        faceLists:
          watch: {name: Watch, faces: [images/a.png]}
        """
    )
    (workspace.root / "watch.test.yaml").write_text(
        "tests:\n  - name: finds a\n    probe: probes/a.png\n"
        "    findSimilar: {in: faceList.watch, expect: images/a.png}\n"
    )
    assert workspace.run("validate").exit_code == 0


async def modern_group(sdk: SdkScript) -> None:
    await sdk.collection("largepersongroups", "staff", "Staff", None, model="recognition_04")
    pid = await sdk.person("largepersongroups", "staff", "Alice")
    await sdk.face(f"/largepersongroups/staff/persons/{pid}/persistedfaces", 1, model="detection_03")
    await sdk.train("largepersongroups", "staff")


def test_import_writes_the_models_it_found_as_defaults(workspace: Workspace, service: Service):
    run_sdk(service, modern_group)
    result = workspace.cli("import", "--all", "--out", "facesync.yaml")
    assert result.exit_code == 0, result.stderr
    text = (workspace.root / "facesync.yaml").read_text()
    assert "defaults:\n  recognitionModel: recognition_04\n  detectionModel: detection_03\n" in text

    # A face added to the imported configuration is detected with the group's model.
    workspace.image("images/alice-2.png", 2)
    (workspace.root / "facesync.yaml").write_text(
        text.replace("        faces:\n", "        faces:\n          - images/alice-2.png\n")
    )
    _code, plan = workspace.plan_json()
    assert [(c["action"], c["kind"]) for c in plan["changes"]] == [
        ("create", "face"),
        ("train", "largePersonGroup"),
    ]
    assert plan["changes"][0]["after"]["detectionModel"] == "detection_03"


def test_import_writes_files_with_the_usual_permissions(workspace: Workspace, service: Service):
    run_sdk(service, modern_group)
    old = os.umask(0o022)
    try:
        assert workspace.cli("import", "--all", "--out", "facesync.yaml").exit_code == 0
        assert workspace.cli("import", "--all", "--split", "--out", "split").exit_code == 0
    finally:
        os.umask(old)
    for path in (workspace.root / "facesync.yaml", *(workspace.root / "split").iterdir()):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644, path
    desired, _ = load_config(workspace.root / "split")
    assert desired.collections[0].recognition_model == "recognition_04"
