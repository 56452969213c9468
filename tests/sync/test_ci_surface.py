"""What a reviewer and a CI job see: refusals in the plan, trustworthy exit codes, named images,
saved-plan scope, unreachable endpoints, drift wording and address targets (one test per problem
found when facesync was tried as a team would use it in pull requests)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from facesync.cli import main
from tests.sync.sync_helpers import STAFF_CONFIG, Service, Workspace, write_staff

GATED = STAFF_CONFIG.replace(
    "  staff:\n    name: Staff", "  staff:\n    protect: true\n    ensure: absent\n    name: Staff"
)


def applied(ws: Workspace) -> None:
    write_staff(ws)
    result = ws.run("apply", "--auto-approve", "--rate-limit", "0")
    assert result.exit_code == 0, result.output + result.stderr


def test_refusals_are_part_of_the_json_markdown_and_text_plan(workspace: Workspace):
    applied(workspace)
    workspace.config(GATED)
    as_json = workspace.run("plan", "--format", "json", "--rate-limit", "0")
    assert as_json.exit_code == 3
    assert json.loads(as_json.stdout)["refusals"] == [
        {
            "gate": "protected",
            "address": "personGroup.staff",
            "message": "personGroup.staff is protected (protect: true): refusing to delete it",
        }
    ]
    markdown = workspace.run("plan", "--format", "markdown", "--rate-limit", "0").stdout
    assert markdown.index("[!CAUTION]") < markdown.index("<details>")
    assert "`--force`" in markdown and "personGroup.staff is protected" in markdown
    text = workspace.run("plan", "--rate-limit", "0").stdout
    assert text.startswith("This plan is refused by the safety gates; applying it needs --force:")


@pytest.mark.parametrize(
    "args",
    [
        ("plan", "--formt", "json"),
        ("plan", "--format", "md"),
        ("plan", "--target"),
        ("drift", "--formt"),
        ("apply", "--auto-aprove"),
        ("validate", "--format", "md"),
        ("show",),
        ("schema", "--pretty"),
        ("import", "--outt", "x"),
        ("emulator", "--port", "many"),
        ("force-unlock", "--yess"),
        ("test", "--format", "xml"),
        ("audit", "--levle", "x"),
        ("nosuchcommand",),
    ],
)
def test_a_mistyped_command_line_exits_1_never_2(args: tuple[str, ...]):
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 1, (result.exit_code, result.output)
    assert "Error:" in result.output


def test_an_unreachable_endpoint_fails_with_its_host_and_cause(workspace: Workspace):
    write_staff(workspace)
    with_socket_closed = "http://127.0.0.1:9"  # discard port: nothing listens there
    result = workspace.run("plan", "--endpoint", with_socket_closed)
    assert result.exit_code == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "Error: cannot connect to http://127.0.0.1:9: connection refused (nothing listens on that port) "
        "(tried 3 times)"
    )


def test_a_real_endpoint_without_a_key_is_refused_before_any_call(workspace: Workspace):
    write_staff(workspace)
    env = {"FACESYNC_KEY": ""}
    result = workspace.run("plan", "--endpoint", "https://my-face.cognitiveservices.azure.com", env=env)
    assert result.exit_code == 1
    assert "no Face key for https://my-face.cognitiveservices.azure.com" in result.stderr


def test_face_changes_name_their_image_and_config_line_and_failures_say_so(
    workspace: Workspace, service: Service
):
    write_staff(workspace)
    plan = workspace.plan_json()
    face = next(
        c for c in plan["changes"] if c["address"].startswith('personGroup.staff/person["Bob Jones"]/face')
    )
    assert face["after"]["image"] == "images/bob/badge.jpg"
    assert face["source"] == {"file": "facesync.yaml", "line": 13, "column": 13}
    # The emulator finds no face in a flat image: unchecked, the add fails, and the failure names
    # the file.
    workspace.image("images/bob/badge.jpg", 3, uniform=True)
    unchecked = ("--rate-limit", "0", "--no-check-images")
    result = workspace.run("apply", "--auto-approve", *unchecked, "--format", "github")
    assert result.exit_code == 1
    assert "(image images/bob/badge.jpg, facesync.yaml:13): POST" in result.stderr
    annotation = next(line for line in result.stdout.splitlines() if line.startswith("::error "))
    assert annotation.startswith("::error file=facesync.yaml,line=13,col=13::personGroup.staff/person")
    events = workspace.run("apply", "--auto-approve", *unchecked, "--format", "json").stdout
    failed = [json.loads(line) for line in events.splitlines() if '"failed"' in line]
    assert failed and failed[0]["image"] == "images/bob/badge.jpg"
    assert failed[0]["source"]["line"] == 13


def test_a_saved_plan_remembers_its_scope_and_show_renders_it(workspace: Workspace, service: Service):
    write_staff(workspace)
    saved = workspace.root / "reviewed" / "plan.json"
    made = workspace.run("plan", "--target", "faceList.vip", "--out", str(saved), "--rate-limit", "0")
    assert made.exit_code == 0
    scope = json.loads(saved.read_text())["scope"]
    assert scope == {
        "endpoint": service.url,
        "api_version": "v1.0",
        "config_root": ".",
        "targets": ["faceList.vip"],
    }
    shown = CliRunner().invoke(main, ["show", str(saved)], env={"NO_COLOR": "1"})  # no config, no service
    assert shown.exit_code == 0 and "+ faceList.vip" in shown.stdout and "personGroup" not in shown.stdout
    elsewhere = workspace.run("apply", str(saved), "--endpoint", "http://127.0.0.1:9")
    assert elsewhere.exit_code == 3
    assert f"was made for {service.url}, not http://127.0.0.1:9" in elsewhere.stderr
    assert service.writes() == 0
    result = workspace.run("apply", str(saved))  # no --target: the plan's own scope
    assert result.exit_code == 0, result.output + result.stderr
    assert service.api.get("/facelists/vip").status_code == 200
    assert service.api.get("/persongroups/staff").status_code == 404


def test_local_endpoint_in_the_config_is_relative_to_the_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    project = tmp_path / "project"
    ws = Workspace(project, "")
    write_staff(ws)
    config = project / "facesync.yaml"
    config.write_text(
        config.read_text().replace(
            "version: 1\n", "version: 1\nservice: {endpoint: 'local:.facesync/e.sqlite'}\n"
        )
    )
    runner = CliRunner()
    env = {"FACESYNC_ENDPOINT": "", "NO_COLOR": "1"}
    monkeypatch.chdir(project)
    assert runner.invoke(main, ["apply", "--auto-approve", "--rate-limit", "0"], env=env).exit_code == 0
    monkeypatch.chdir(tmp_path)  # a run from elsewhere sees the same emulator, not a new empty one
    again = runner.invoke(main, ["plan", "-f", "project/facesync.yaml", "--detailed-exitcode"], env=env)
    assert again.exit_code == 0, again.output
    assert (project / ".facesync" / "e.sqlite").exists() and not (tmp_path / ".facesync").exists()


def test_drift_speaks_of_differences_not_actions(workspace: Workspace, service: Service):
    applied(workspace)
    service.api.patch("/persongroups/staff", json={"name": "Renamed by hand"}).raise_for_status()
    drift = workspace.run("drift", "--rate-limit", "0")
    assert drift.exit_code == 2
    assert "differs from the configuration" in drift.stdout
    assert "will perform" not in drift.stdout and "will be" not in drift.stdout
    # Both sides are named: which value is live and which is configured.
    assert 'name  live "Renamed by hand", configured "Staff"' in drift.stdout
    assert "Drift: 1 differing." in drift.stdout


def test_drift_names_what_is_missing_and_what_is_extra_in_every_format(
    workspace: Workspace, service: Service
):
    applied(workspace)
    persons = service.api.get("/persongroups/staff/persons").json()
    bob = next(p for p in persons if p["name"] == "Bob Jones")
    service.api.delete(f"/persongroups/staff/persons/{bob['personId']}").raise_for_status()
    service.api.post("/persongroups/staff/persons", json={"name": "Mallory"}).raise_for_status()
    text = workspace.run("drift", "--rate-limit", "0")
    assert text.exit_code == 2
    extra = '# personGroup.staff/person["Mallory"] is on the service but not in the configuration\n'
    missing = '# personGroup.staff/person["Bob Jones"] is in the configuration but missing on the service\n'
    assert extra in text.stdout and missing in text.stdout
    assert "not in the configuration: not in the configuration" not in text.stdout
    assert "Drift: 2 missing, 1 not in the configuration, 1 untrained." in text.stdout
    markdown = workspace.run("drift", "--rate-limit", "0", "--format", "markdown").stdout
    assert "### facesync drift: Drift:" in markdown
    assert "| collection | missing | differing | differing (replace) | not in the configuration |" in markdown
    assert "This plan" not in markdown and "to create" not in markdown
    assert "1 resource(s) on the service are not in the configuration or differ from it" in markdown


def test_target_takes_the_addresses_the_plan_prints(workspace: Workspace, service: Service):
    write_staff(workspace)
    by_address = workspace.plan_json("--target", "personGroup.staff")
    by_id = workspace.plan_json("--target", "staff")
    assert [c["address"] for c in by_address["changes"]] == [c["address"] for c in by_id["changes"]]
    person = workspace.plan_json("--target", 'personGroup.staff/person["Bob Jones"]')
    assert [(c["action"], c["address"].split("/face")[0]) for c in person["changes"]] == [
        ("create", "personGroup.staff"),
        ("create", 'personGroup.staff/person["Bob Jones"]'),
        ("create", 'personGroup.staff/person["Bob Jones"]'),
        ("train", "personGroup.staff"),
    ]
    bad = workspace.run("plan", "--target", "personGroup.nosuch")
    assert bad.exit_code == 1 and "personGroup.nosuch is not declared" in bad.stderr


def test_plan_says_what_it_read_and_appends_to_the_github_step_summary(workspace: Workspace, tmp_path: Path):
    write_staff(workspace)
    summary = tmp_path / "step-summary.md"
    result = workspace.run("plan", "--rate-limit", "0", env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 0
    assert (
        "Read 0/0 collection(s), 0 person(s), 0/0 face(s) with 4 request(s); "
        "checked 7 new face image(s) with 7 detect call(s)." in result.stderr
    )
    assert summary.read_text().startswith("<!-- facesync-plan:")


def test_markdown_of_600_changes_says_how_many_it_shows_and_stays_commonmark():
    from markdown_it import MarkdownIt

    from facesync.diff import diff
    from facesync.livestate import LiveState
    from facesync.render import render_markdown
    from tests.sync.states import group, state, want_face

    desired = state(group("crowd", {f"P{i:03}": [want_face(f"p{i}")] for i in range(299)}))
    plan = diff(desired, LiveState())
    assert len(plan.changes) == 600
    text = render_markdown(plan)
    assert len(text) <= 60_000
    assert "| `personGroup.crowd` | 599 | 0 | 0 | 0 | 1 |" in text
    tokens = MarkdownIt("commonmark").parse(text)
    paragraphs = [t.content for t in tokens if t.type == "inline"]
    assert any(p.startswith("Showing ") and p.split()[3] == "600" for p in paragraphs)
    assert any(p.startswith("Checksum:") for p in paragraphs)
