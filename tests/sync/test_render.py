"""Golden files for the three plan formats, over a plan with every action on every resource kind.

Regenerate after an intended change with `FACESYNC_UPDATE_GOLDEN=1 pytest tests/sync/test_render.py`
and review the diff.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from facesync.diff import diff
from facesync.livestate import LiveCollection, LivePerson, LiveState, LiveSummary
from facesync.model import DesiredCollection
from facesync.plan import Plan, PlanScope, SafetyPolicy, safety_refusals
from facesync.render import render_json, render_markdown, render_text
from tests.sync.states import FL, LFL, LPG, TRAINED, group, live_face, live_group, state, want_face

GOLDEN = Path(__file__).parent / "golden"


def every_action_plan() -> Plan:
    desired = state(
        group(
            "staff",
            {"Alice": [want_face("a1"), want_face("a2")], "Bob": [want_face("b1", note="badge")], "Dana": []},
            name="Staff",
            user_data='{"owner": "facilities", "floor": 3}',
        ),
        group("visitors", {"V-1": [want_face("v1")]}, kind=LPG, recognition_model="recognition_04"),
        group("retired", {}, ensure="absent", protect=True),
        DesiredCollection(
            FL, "vip", "VIP", recognition_model="recognition_04", faces=(want_face("vip", note="new"),)
        ),
        DesiredCollection(
            LFL, "look", "Lookalikes", recognition_model="recognition_04", faces=(want_face("l1"),)
        ),
    )
    live = LiveState(
        (
            live_group(
                "staff",
                [
                    LivePerson(
                        "p-alice", "Alice", None, (live_face("a1", "f-a1"), live_face("old", "f-old"))
                    ),
                    LivePerson("p-bob", "Bob", "x", (live_face("b1", "f-b1", "badge"),)),
                    LivePerson("p-bob2", "Bob", None, ()),
                    LivePerson("p-carol", "Carol", None, (live_face("c1", "f-c1"),)),
                ],
                name="Staff",
                user_data='{"owner": "security", "floor": 3}',
            ),
            live_group(
                "visitors",
                [LivePerson("p-v1", "V-1", None, (live_face("v1", "f-v1"),))],
                kind=LPG,
                recognition_model="recognition_01",
            ),
            live_group("retired", [LivePerson("p-r", "R", None, (live_face("r", "f-r"),))]),
            LiveCollection(
                FL,
                "vip",
                "VIP",
                recognition_model="recognition_04",
                faces=(live_face("vip", "f-vip", "old"),),
            ),
            LiveCollection(LFL, "look", "Lookalikes", recognition_model="recognition_04", training=TRAINED),
        ),
        others=(LiveSummary(FL, "legacy", "Legacy list"),),
    )
    plan = diff(desired, live)
    scope = PlanScope("https://contoso.cognitiveservices.azure.com", "v1.0", ".", ())
    return replace(plan, scope=scope, refusals=tuple(safety_refusals(plan, SafetyPolicy())))


def check(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("FACESYNC_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.fixture
def plan() -> Plan:
    return every_action_plan()


def test_text_golden(plan: Plan):
    check("plan.txt", render_text(plan, endpoint="https://contoso.cognitiveservices.azure.com"))


def test_text_colour_only_when_asked(plan: Plan):
    assert "\x1b[" not in render_text(plan)
    assert "\x1b[" in render_text(plan, color=True)


def test_json_golden_and_shape(plan: Plan):
    text = render_json(plan)
    check("plan.json", text)
    data = json.loads(text)
    assert data["format_version"] == 2
    assert data["summary"] == {"create": 5, "update": 2, "replace": 2, "delete": 4, "train": 3}
    assert set(data["changes"][0]) == {
        *("action", "kind", "address", "before", "after", "reason", "reason_code")
    }
    assert data["refusals"] == [
        {
            "gate": "protected",
            "address": "personGroup.retired",
            "message": "personGroup.retired is protected (protect: true): refusing to delete it",
        }
    ]
    assert data["checksum"].startswith("sha256:")
    assert data["unmanaged"] == [
        {"address": "faceList.legacy", "id": "legacy", "kind": "faceList", "name": "Legacy list"}
    ]


def test_markdown_golden(plan: Plan):
    text = render_markdown(plan)
    check("plan.md", text)
    assert text.startswith("<!-- facesync-plan:")
    assert "### facesync plan: Plan: 5 to create" in text
    assert text.index("[!CAUTION]") < text.index("| collection |") < text.index("<details>")


def test_markdown_is_commonmark_with_the_checksum_outside_the_fold(plan: Plan):
    from markdown_it import MarkdownIt

    tokens = MarkdownIt("commonmark").parse(render_markdown(plan, max_length=3000))
    html = [t.content for t in tokens if t.type == "html_block"]
    assert [h.split(">")[0] for h in html] == [
        html[0].split(">")[0],
        "<details",
        "</details",
    ], html  # the marker, the fold, its end: nothing else swallowed as raw HTML
    inline = [t.content for t in tokens if t.type == "inline"]
    assert any(text.startswith("Checksum:") for text in inline)
    assert any(text.startswith("Showing ") and " of 16 changes" in text for text in inline)


def test_comment_markers_differ_by_config_root_and_endpoint(plan: Plan):
    prod = render_markdown(plan).splitlines()[0]
    staging = render_markdown(
        replace(plan, scope=replace(plan.scope, endpoint="local:staging.sqlite"))
    ).splitlines()[0]
    named = render_markdown(plan, marker="prod").splitlines()[0]
    assert prod != staging and named == "<!-- facesync-plan:prod -->"
    assert prod.startswith("<!-- facesync-plan:") and prod.endswith(" -->")


def test_markdown_is_bounded_and_says_so(plan: Plan):
    text = render_markdown(plan, max_length=1500)
    assert len(text) <= 1500
    assert "Showing " in text and "of 16 changes" in text
    assert text.rstrip().endswith(f"Checksum: `{plan.checksum}`")


def test_empty_plan_renders_no_changes():
    empty = Plan()
    assert render_text(empty).strip() == "No changes. The live service matches the configuration."
    assert "No changes." in render_markdown(empty) and "<details>" not in render_markdown(empty)
    assert json.loads(render_json(empty))["summary"] == {
        "create": 0,
        "update": 0,
        "replace": 0,
        "delete": 0,
        "train": 0,
    }


def test_json_plan_matches_its_published_schema(plan: Plan):
    import jsonschema

    schema = json.loads((Path(__file__).parents[2] / "schemas" / "plan.schema.json").read_text())
    jsonschema.validate(json.loads(render_json(plan)), schema)
    jsonschema.validate(json.loads(render_json(Plan())), schema)
