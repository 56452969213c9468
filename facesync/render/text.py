"""Terraform-like text: `+` create, `~` update, `-/+` replace, `-` delete, `*` train."""

from __future__ import annotations

from typing import Any

import click

from facesync.address import Address
from facesync.plan import Action, Change, Plan
from facesync.render.values import field_differences, short_fingerprints, show

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


def summary_line(plan: Plan) -> str:
    if plan.empty:
        return "No changes. The live service matches the configuration."
    s = plan.summary
    return (
        f"Plan: {s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
        f"{s['delete']} to delete, {s['train']} to train."
    )


def _detail_lines(change: Change) -> list[tuple[str, Any, Any]]:
    before, after = change.before or {}, change.after or {}
    if change.action is Action.CREATE:
        # A face's fingerprint is already in its address.
        return [(k, None, v) for k, v in after.items() if v is not None and k != "fingerprint"]
    if change.action is Action.DELETE:
        return [(k, v, None) for k, v in before.items() if v is not None]
    if change.action is Action.TRAIN:
        return []
    lines: list[tuple[str, Any, Any]] = []
    for key in dict.fromkeys([*before, *after]):
        if key in before and key in after:
            lines.extend(field_differences(key, before[key], after[key]))
    return lines


def render_change(change: Change, color: bool = False) -> list[str]:
    symbol, colour = SYMBOLS[change.action]
    address = short_fingerprints(str(change.address))
    head = f"{symbol} {'train ' if change.action is Action.TRAIN else ''}{address}"
    verb = "will be deleted (repair)" if change.is_repair else _VERBS[change.action]
    out = [f"  # {address} {verb}: {change.explanation}"]
    out.append("  " + (click.style(head, fg=colour, bold=True) if color else head))
    details = _detail_lines(change)
    width = max((len(label) for label, _, _ in details), default=0)
    for label, old, new in details:
        if change.action is Action.CREATE:
            value = show(new)
        elif change.action is Action.DELETE:
            value = show(old)
        else:
            value = f"{show(old)} → {show(new)}"
        out.append(f"      {label.ljust(width)}  {short_fingerprints(value)}")
    return out


def render_text(plan: Plan, *, color: bool = False, endpoint: str | None = None) -> str:
    lines: list[str] = []
    if not plan.empty:
        where = f" on {endpoint}" if endpoint else ""
        lines.append(f"facesync will perform the following actions{where}:")
        lines.append("")
        for change in plan.changes:
            lines.extend(render_change(change, color))
            lines.append("")
    if plan.unmanaged:
        lines.append("Unmanaged collections (not in the configuration, left alone):")
        lines.extend(f"  {Address(u.kind, u.id)}  {show(u.name)}" for u in plan.unmanaged)
        lines.append("")
    for warning in plan.warnings:
        lines.append(("Warning: " if not color else click.style("Warning: ", fg="yellow")) + warning)
    if plan.warnings:
        lines.append("")
    summary = summary_line(plan)
    lines.append(click.style(summary, bold=True) if color else summary)
    return "\n".join(lines) + "\n"
