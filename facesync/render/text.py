"""Terraform-like text: `+` create, `~` update, `-/+` replace, `-` delete, `*` train.

Every renderer reads the plan document (`Plan.to_dict()`, the JSON plan), so a saved plan file
renders exactly like a fresh plan (`facesync show`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from facesync.plan import RENAMES, REPAIRS, Action, Plan, Reason
from facesync.render.values import field_differences, short_fingerprints, show

PlanDocument = Mapping[str, Any]

SYMBOLS = {
    Action.CREATE: ("+", "green"),
    Action.UPDATE: ("~", "yellow"),
    Action.REPLACE: ("-/+", "magenta"),
    Action.DELETE: ("-", "red"),
    Action.TRAIN: ("*", "cyan"),
}
_VERBS = {
    Action.CREATE: "will be created",
    Action.UPDATE: "will be updated in place",
    Action.REPLACE: "will be replaced",
    Action.DELETE: "will be deleted",
    Action.TRAIN: "will be trained",
}
# Drift reports what differs; nothing "will" happen.
_DRIFT_VERBS = {
    Action.CREATE: "is missing",
    Action.UPDATE: "differs",
    Action.REPLACE: "differs and would be replaced",
    Action.DELETE: "is not in the configuration",
    Action.TRAIN: "is not trained on what it holds",
}


def document(plan: Plan | PlanDocument) -> PlanDocument:
    return plan.to_dict() if isinstance(plan, Plan) else plan


def summary_line(plan: Plan | PlanDocument, *, drift: bool = False) -> str:
    doc = document(plan)
    s = doc["summary"]
    if not doc["changes"]:
        return "No changes. The live service matches the configuration."
    counts = (
        f"{s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
        f"{s['delete']} to delete, {s['train']} to train."
    )
    return f"Drift: {counts}" if drift else f"Plan: {counts}"


def _detail_lines(change: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    action = Action(change["action"])
    before, after = change["before"] or {}, change["after"] or {}
    if action is Action.CREATE:
        # A face's fingerprint is already in its address.
        return [(k, None, v) for k, v in after.items() if v is not None and k != "fingerprint"]
    if action is Action.DELETE:
        return [(k, v, None) for k, v in before.items() if v is not None]
    if action is Action.TRAIN:
        return []
    lines: list[tuple[str, Any, Any]] = []
    for key in dict.fromkeys([*before, *after]):
        if key in before and key in after:
            lines.extend(field_differences(key, before[key], after[key]))
    return lines


def source_text(change: Mapping[str, Any]) -> str | None:
    source = change.get("source")
    return f"{source['file']}:{source['line']}" if source else None


def _headline(change: Mapping[str, Any], address: str, drift: bool) -> str:
    """`ADDRESS will be created`; a rename names both addresses, like Terraform's moved resources."""
    action = Action(change["action"])
    code = change.get("reason_code")
    moved = (change.get("before") or {}).get("address") if code in RENAMES else None
    if moved:
        old = short_fingerprints(str(moved))
        return f"{address} is {old} on the service" if drift else f"{old} has moved to {address}"
    if code == Reason.KEPT_FACE_MISSING:
        return f"{address} {'is missing' if drift else 'cannot be re-created'}"
    verb = (_DRIFT_VERBS if drift else _VERBS)[action]
    return f"{address} {verb}{' (a repair)' if code in REPAIRS else ''}"


def render_change(change: Mapping[str, Any], color: bool = False, *, drift: bool = False) -> list[str]:
    action = Action(change["action"])
    symbol, colour = SYMBOLS[action]
    address = short_fingerprints(change["address"])
    head = f"{symbol} {'train ' if action is Action.TRAIN else ''}{address}"
    out = [f"  # {_headline(change, address, drift)}: {change['reason']}"]
    out.append("  " + (click.style(head, fg=colour, bold=True) if color else head))
    details = _detail_lines(change)
    source = source_text(change) if change["kind"] == "face" else None
    width = max([len(label) for label, _, _ in details] + ([len("source")] if source else []), default=0)
    for label, old, new in details:
        if action is Action.CREATE:
            value = show(new)
        elif action is Action.DELETE:
            value = show(old)
        else:
            value = f"{show(old)} → {show(new)}"
        out.append(f"      {label.ljust(width)}  {short_fingerprints(value)}")
    if source:
        out.append(f"      {'source'.ljust(width)}  {source}")
    return out


def refusal_lines(doc: PlanDocument) -> list[str]:
    refusals = doc.get("refusals") or []
    if not refusals:
        return []
    return [
        "This plan is refused by the safety gates; applying it needs --force:",
        *(f"  - {r['message']}" for r in refusals),
        "",
    ]


def render_text(
    plan: Plan | PlanDocument, *, color: bool = False, endpoint: str | None = None, drift: bool = False
) -> str:
    doc = document(plan)
    lines: list[str] = []
    refused = refusal_lines(doc)
    if refused:
        head, *rest = refused
        lines.append(click.style(head, fg="red", bold=True) if color else head)
        lines.extend(rest)
    if doc["changes"]:
        where = f" on {endpoint}" if endpoint else ""
        lines.append(
            f"The live service{where} differs from the configuration:"
            if drift
            else f"facesync will perform the following actions{where}:"
        )
        lines.append("")
        for change in doc["changes"]:
            lines.extend(render_change(change, color, drift=drift))
            lines.append("")
    if doc["unmanaged"]:
        lines.append("Unmanaged collections (not in the configuration, left alone):")
        lines.extend(f"  {u['address']}  {show(u['name'])}" for u in doc["unmanaged"])
        lines.append("")
    for warning in doc["warnings"]:
        lines.append(("Warning: " if not color else click.style("Warning: ", fg="yellow")) + warning)
    if doc["warnings"]:
        lines.append("")
    summary = summary_line(doc, drift=drift)
    lines.append(click.style(summary, bold=True) if color else summary)
    return "\n".join(lines) + "\n"
