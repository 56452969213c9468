"""A pull-request comment: summary first, a warning when anything is destroyed, details folded."""

from __future__ import annotations

from facesync.address import Address
from facesync.plan import Plan
from facesync.render.text import render_change, summary_line
from facesync.render.values import short_fingerprints

MARKER = "<!-- facesync-plan -->"
MAX_LENGTH = 60_000
_CUT_NOTE = "\n… (cut: the plan is longer than a comment can hold; run `facesync plan` for all of it)\n"


def render_markdown(plan: Plan, *, title: str = "facesync plan", max_length: int = MAX_LENGTH) -> str:
    head = [MARKER, f"### {title}: {summary_line(plan)}", ""]
    if not plan.empty:
        s = plan.summary
        head += [
            "| create | update | replace | delete | train |",
            "|---:|---:|---:|---:|---:|",
            f"| {s['create']} | {s['update']} | {s['replace']} | {s['delete']} | {s['train']} |",
            "",
        ]
    destroyed = [c for c in plan.changes if c.action.destroys and not c.is_repair]
    repairs = sum(1 for c in plan.changes if c.is_repair)
    if repairs:
        head += [f"Repairs: {repairs} twin person(s) or duplicate face(s) are deleted.", ""]
    if destroyed:
        names = ", ".join(f"`{short_fingerprints(str(c.address))}`" for c in destroyed[:5])
        more = f" and {len(destroyed) - 5} more" if len(destroyed) > 5 else ""
        head += [
            "> [!WARNING]",
            f"> This plan destroys {len(destroyed)} resource(s): {names}{more}.",
            "",
        ]
    for warning in plan.warnings:
        head += [f"> [!NOTE]\n> {warning}", ""]
    tail = [f"Checksum: `{plan.checksum}`"] if not plan.empty else []
    if plan.unmanaged:
        tail = [
            f"Unmanaged collections: {', '.join(f'`{Address(u.kind, u.id)}`' for u in plan.unmanaged)}",
            "",
            *tail,
        ]
    if plan.empty:
        return "\n".join(head + tail).rstrip() + "\n"
    body = []
    for change in plan.changes:
        body.extend(render_change(change, color=False))
    opening = [f"<details><summary>Show {len(plan.changes)} change(s)</summary>", "", "```diff"]
    closing = ["```", "", "</details>", ""]
    fixed = len("\n".join(head + opening + closing + tail)) + len(_CUT_NOTE) + 2
    budget = max_length - fixed
    kept: list[str] = []
    used = 0
    cut = False
    for line in body:
        # A diff block shows leading `+`/`-` in colour; strip our two-space indent so it does.
        line = line[2:] if line.startswith("  ") else line
        if used + len(line) + 1 > budget:
            cut = True
            break
        kept.append(line)
        used += len(line) + 1
    text = "\n".join(head + opening + kept + closing)
    if cut:
        text += _CUT_NOTE
    return text + "\n".join(tail).rstrip() + "\n"
