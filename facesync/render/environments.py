"""A run over several environments: one section per environment, a summary table, and where the
environments differ from each other. Reads the document of `facesync.environments.document`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from facesync.plan import Action
from facesync.render.markdown import MAX_LENGTH, comment_marker
from facesync.render.markdown import render_markdown as render_plan_markdown
from facesync.render.text import render_text as render_plan_text
from facesync.render.values import short_fingerprints

_ACTIONS = [a.value for a in Action]


def _status(entry: Mapping[str, Any], drift: bool) -> str:
    if "error" in entry:
        return "error"
    if entry.get("refusals"):
        return "refused"
    if not entry["changes"]:
        return "in sync" if drift else "no changes"
    return "drift" if drift else "changes"


def difference_lines(doc: Mapping[str, Any]) -> list[str]:
    lines: list[str] = []
    for diff in doc.get("differences") or []:
        lines.append(f"  {short_fingerprints(diff['address'])}")
        lines.extend(f"      {name}: {state}" for name, state in diff["environments"].items())
    return lines


def render_environments_text(doc: Mapping[str, Any], *, color: bool = False, drift: bool = False) -> str:
    out: list[str] = []
    for entry in doc["environments"]:
        name = entry["environment"]
        endpoint = (entry.get("scope") or {}).get("endpoint")
        rule = f"── environment {name}" + (f" ({endpoint})" if endpoint else "") + " "
        out.append(click.style(rule.ljust(72, "─"), bold=True) if color else rule.ljust(72, "─"))
        if "error" in entry:
            out += [f"Error: {entry['error']}", ""]
            continue
        out.append(render_plan_text(entry, color=color, endpoint=endpoint, drift=drift))
    out.append("─" * 72)
    diffs = difference_lines(doc)
    if diffs:
        out += ["The environments differ from each other:", *diffs, ""]
    for entry in doc["environments"]:
        if "error" in entry:
            out.append(f"  {entry['environment']}: error")
            continue
        s = entry["summary"]
        counts = ", ".join(f"{s[a]} {a}" for a in _ACTIONS if s[a])
        out.append(f"  {entry['environment']}: {_status(entry, drift)}" + (f" ({counts})" if counts else ""))
    return "\n".join(out) + "\n"


def render_environments_markdown(
    doc: Mapping[str, Any], *, title: str = "facesync plan", marker: str | None = None, drift: bool = False
) -> str:
    entries = doc["environments"]
    first_scope: Mapping[str, Any] = next((e["scope"] for e in entries if e.get("scope")), {})
    marker_doc = {"scope": {"config_root": first_scope.get("config_root", ""), "endpoint": "environments"}}
    names = ", ".join(f"`{e['environment']}`" for e in entries)
    lines = [comment_marker(marker_doc, marker), f"### {title}: {len(entries)} environment(s) — {names}", ""]
    lines += [
        "| environment | endpoint | status | " + " | ".join(_ACTIONS) + " | checksum |",
        "|---|---|---|" + "---:|" * len(_ACTIONS) + "---|",
    ]
    for entry in entries:
        endpoint = (entry.get("scope") or {}).get("endpoint", "")
        if "error" in entry:
            lines.append(f"| `{entry['environment']}` | `{endpoint}` | error |" + " |" * len(_ACTIONS) + " |")
            continue
        s = entry["summary"]
        lines.append(
            f"| `{entry['environment']}` | `{endpoint}` | {_status(entry, drift)} | "
            + " | ".join(str(s[a]) for a in _ACTIONS)
            + f" | `{entry['checksum'][:19]}…` |"
        )
    lines.append("")
    diffs = doc.get("differences") or []
    if diffs:
        lines += ["> [!IMPORTANT]", f"> The environments differ from each other at {len(diffs)} address(es):"]
        for diff in diffs[:20]:
            states = "; ".join(f"{n}: {s}" for n, s in diff["environments"].items())
            lines.append(f"> - `{short_fingerprints(diff['address'])}` — {states}")
        if len(diffs) > 20:
            lines.append(f"> - and {len(diffs) - 20} more")
        lines.append("")
    budget = max(2_000, (MAX_LENGTH - len("\n".join(lines))) // max(1, len(entries)))
    for entry in entries:
        if "error" in entry:
            lines += [f"#### `{entry['environment']}`: error", "", f"```\n{entry['error']}\n```", ""]
            continue
        lines.append(
            render_plan_markdown(
                entry, title=f"`{entry['environment']}`", drift=drift, section=True, max_length=budget
            )
        )
    lines.append(f"Checksum (all environments): `{doc['checksum']}`")
    return "\n".join(lines).rstrip() + "\n"
