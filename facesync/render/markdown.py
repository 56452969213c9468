"""A pull-request comment: refusals first, then a summary per collection, a warning when anything
is destroyed, and the changes folded — valid CommonMark, bounded in size, and marked so that a CI
job finds and updates its own comment (one per configuration root and endpoint). A run over
environments gets a table of them, where they differ, and a section each.

Drift is worded as a difference between the live service and the configuration, not as a plan."""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Mapping
from typing import Any

from facesync.plan import Action, Plan
from facesync.render.text import (
    DRIFT_NOUNS,
    PlanDocument,
    accepting_flags,
    document,
    finding_place,
    image_findings,
    render_change,
    status,
    summary_line,
    warning_text,
)
from facesync.render.values import code, short_fingerprints
from facesync.text import printable, printable_lines

MARKER_PREFIX = "<!-- facesync-plan"
MAX_LENGTH = 60_000
_ACTIONS = [a.value for a in Action]


def comment_marker(doc: PlanDocument, name: str | None = None) -> str:
    """`<!-- facesync-plan:NAME -->`; NAME defaults to a digest of the plan's config root and
    endpoint, so prod and staging comments on one pull request are updated independently."""
    if name is None:
        scope = doc.get("scope") or {}
        name = hashlib.sha256(
            f"{scope.get('config_root', '')}\n{scope.get('endpoint', '')}".encode()
        ).hexdigest()[:12]
    return f"{MARKER_PREFIX}:{name.replace('--', '-').replace('>', '')} -->"


def _collection(address: str) -> str:
    return address.split("/", 1)[0]


def _columns(drift: bool) -> list[str]:
    return [DRIFT_NOUNS[a] for a in Action] if drift else _ACTIONS


def _scope_line(doc: PlanDocument) -> list[str]:
    scope = doc.get("scope")
    if not scope:
        return []
    parts = [f"Endpoint {code(scope['endpoint'])}", f"config {code(scope['config_root'])}"]
    if scope.get("targets"):
        parts.append("targets " + ", ".join(code(t) for t in scope["targets"]))
    return [" · ".join(parts), ""]


def _table(doc: PlanDocument, drift: bool) -> list[str]:
    per: dict[str, Counter[str]] = {}
    for change in doc["changes"]:
        per.setdefault(_collection(change["address"]), Counter())[change["action"]] += 1
    rows = [
        "| collection | " + " | ".join(_columns(drift)) + " |",
        "|---|" + "---:|" * len(_ACTIONS),
    ]
    for collection, counts in per.items():
        rows.append(f"| {code(collection)} | " + " | ".join(str(counts[a]) for a in _ACTIONS) + " |")
    total = doc["summary"]
    rows.append("| **total** | " + " | ".join(f"**{total[a]}**" for a in _ACTIONS) + " |")
    return [*rows, ""]


def _plan_markdown(
    doc: PlanDocument, *, title: str, marker: str | None, max_length: int, drift: bool, section: bool
) -> str:
    if section:
        head = [f"#### {title}: {summary_line(doc, drift=drift)}", ""]
    else:
        head = [comment_marker(doc, marker), f"### {title}: {summary_line(doc, drift=drift)}", ""]
    head += _scope_line(doc)
    refusals = doc.get("refusals") or []
    if refusals and not drift:
        needs = accepting_flags(refusals)
        head += [
            "> [!CAUTION]",
            "> **This plan is refused by the safety gates**: applying it fails (exit 3) unless "
            + " and ".join(code(n) for n in needs)
            + " is given.",
            *(f"> - {printable(r['message'])}" for r in refusals),
            "",
        ]
    head += _image_findings(doc)
    changes = doc["changes"]
    if changes:
        head += _table(doc, drift)
    destroyed = [c for c in changes if Action(c["action"]).destroys]
    if destroyed:
        names = ", ".join(code(short_fingerprints(c["address"])) for c in destroyed[:5])
        more = f" and {len(destroyed) - 5} more" if len(destroyed) > 5 else ""
        if drift:
            head += [
                "> [!WARNING]",
                f"> {len(destroyed)} resource(s) on the service are not in the configuration or "
                f"differ from it: {names}{more}. An apply would delete or replace them.",
                "",
            ]
        else:
            head += ["> [!WARNING]", f"> This plan destroys {len(destroyed)} resource(s): {names}{more}.", ""]
    for warning in doc["warnings"]:
        head += ["> [!NOTE]", f"> {printable(warning_text(warning))}", ""]
    tail: list[str] = []
    if doc["unmanaged"]:
        unmanaged = ", ".join(code(u["address"]) for u in doc["unmanaged"])
        tail += [f"Unmanaged collections: {unmanaged}", ""]
    if changes:
        tail += [f"Checksum: `{doc['checksum']}`", ""]
    if not changes:
        return "\n".join(head + tail).rstrip() + "\n"
    blocks = [_block(change, drift) for change in changes]
    budget = max_length - len("\n".join(head + tail)) - 300  # the fold, the count line, slack
    shown: list[str] = []
    used = 0
    for block in blocks:
        if used + len(block) + 1 > budget:
            break
        shown.append(block)
        used += len(block) + 1
    what = "differences" if drift else "changes"
    fold = f"<details><summary>Show {len(changes)} {what[:-1]}(s)</summary>"
    body = [fold, "", "```diff", *shown, "```", ""]
    body += ["</details>", ""]
    if len(shown) < len(changes):
        body += [
            f"Showing {len(shown)} of {len(changes)} {what}: the rest does not fit in a comment. "
            "Run `facesync plan`, or `facesync show` on the plan file, for all of them.",
            "",
        ]
    return "\n".join(head + body + tail).rstrip() + "\n"


_MARKDOWN_ACTIVE = re.compile(r"([\\`*_\[\]<>&#|~!])")
MAX_FINDINGS = 20


def _inline(text: str) -> str:
    """Plain text in Markdown: every character that could start markup or HTML escaped."""
    return _MARKDOWN_ACTIVE.sub(r"\\\1", text)


def _image_findings(doc: PlanDocument) -> list[str]:
    errors, warnings, checked = image_findings(doc)
    lines: list[str] = []
    for found, alert, head in (
        (
            errors,
            "CAUTION",
            f"**The service would refuse {len(errors)} of the {checked} new face image(s)**: "
            "applying this plan fails (exit 1) before any write.",
        ),
        (warnings, "WARNING", f"**{len(warnings)} new face image(s) may not add the intended face**:"),
    ):
        if not found:
            continue
        lines += [f"> [!{alert}]", f"> {head}"]
        for finding in found[:MAX_FINDINGS]:
            # Each value escaped whole: a line break in one must not start a line of its own.
            image, line, owner = (printable(part) if part else part for part in finding_place(finding))
            where = ", ".join(code(part) for part in (line, owner) if part)
            message = _inline(printable(str(finding["message"])))
            lines.append(f"> - {code(str(image))} ({where}): {message}")
        if len(found) > MAX_FINDINGS:
            lines.append(f"> - and {len(found) - MAX_FINDINGS} more (`facesync plan` lists them all)")
        lines.append("")
    return lines


def _block(change: Mapping[str, Any], drift: bool) -> str:
    # A diff block colours leading `+`/`-`: drop the two-space indent so it does. A line that
    # would close the fence is indented so it cannot.
    lines = [line[2:] if line.startswith("  ") else line for line in render_change(change, drift=drift)]
    return "\n".join(" " + line if line.lstrip().startswith("```") else line for line in lines)


def _environments_markdown(doc: PlanDocument, *, title: str, marker: str | None, drift: bool) -> str:
    entries = doc["environments"]
    first_scope: Mapping[str, Any] = next((e["scope"] for e in entries if e.get("scope")), {})
    marker_doc = {"scope": {"config_root": first_scope.get("config_root", ""), "endpoint": "environments"}}
    names = ", ".join(code(e["environment"]) for e in entries)
    lines = [comment_marker(marker_doc, marker), f"### {title}: {len(entries)} environment(s) — {names}", ""]
    lines += [
        "| environment | endpoint | status | " + " | ".join(_columns(drift)) + " | checksum |",
        "|---|---|---|" + "---:|" * len(_ACTIONS) + "---|",
    ]
    for entry in entries:
        endpoint = (entry.get("scope") or {}).get("endpoint", "")
        if "changes" not in entry:
            lines.append(
                f"| {code(entry['environment'])} | {code(endpoint)} | error |" + " |" * len(_ACTIONS) + " |"
            )
            continue
        s = entry["summary"]
        lines.append(
            f"| {code(entry['environment'])} | {code(endpoint)} | {status(entry, drift)} | "
            + " | ".join(str(s[a]) for a in _ACTIONS)
            + f" | `{entry['checksum'][:19]}…` |"
        )
    lines.append("")
    diffs = doc.get("differences") or []
    if diffs:
        lines += ["> [!IMPORTANT]", f"> The environments differ from each other at {len(diffs)} address(es):"]
        for diff in diffs[:20]:
            states = "; ".join(f"{printable(n)}: {s}" for n, s in diff["environments"].items())
            lines.append(f"> - {code(short_fingerprints(diff['address']))} — {states}")
        if len(diffs) > 20:
            lines.append(f"> - and {len(diffs) - 20} more")
        lines.append("")
    budget = max(2_000, (MAX_LENGTH - len("\n".join(lines))) // max(1, len(entries)))
    for entry in entries:
        if "changes" not in entry:
            error = printable(entry["error"])
            lines += [f"#### {code(entry['environment'])}: error", "", "```", error, "```", ""]
            continue
        lines.append(
            _plan_markdown(
                entry,
                title=code(entry["environment"]),
                marker=None,
                max_length=budget,
                drift=drift,
                section=True,
            )
        )
        if "error" in entry:
            blocked = f"> {code(entry['environment'])} cannot be applied: {printable(entry['error'])}"
            lines += ["> [!CAUTION]", blocked, ""]
    lines.append(f"Checksum (all environments): `{doc['checksum']}`")
    return "\n".join(lines).rstrip() + "\n"


def render_markdown(
    plan: Plan | PlanDocument,
    *,
    title: str | None = None,
    marker: str | None = None,
    max_length: int = MAX_LENGTH,
    drift: bool = False,
) -> str:
    doc = document(plan)
    title = title or ("facesync drift" if drift else "facesync plan")
    if "environments" in doc:
        text = _environments_markdown(doc, title=title, marker=marker, drift=drift)
    else:
        text = _plan_markdown(
            doc, title=title, marker=marker, max_length=max_length, drift=drift, section=False
        )
    # A comment is read in a browser and in terminals (gh, CI logs): no controls, no bidi tricks.
    # Each value was made printable where it was written (a line break inside one cannot start a
    # line of its own); this pass is the net under them.
    return printable_lines(text)
