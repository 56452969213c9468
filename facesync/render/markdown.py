"""A pull-request comment: refusals first, then a summary per collection, a warning when anything
is destroyed, and the changes folded — valid CommonMark, bounded in size, and marked so that a CI
job finds and updates its own comment (one per configuration root and endpoint)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping
from typing import Any

from facesync.plan import Action, Plan
from facesync.render.text import PlanDocument, document, render_change, summary_line
from facesync.render.values import short_fingerprints

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
    return f"{MARKER_PREFIX}:{name.replace('--', '-')} -->"


def _collection(address: str) -> str:
    return address.split("/", 1)[0]


def _scope_line(doc: PlanDocument) -> list[str]:
    scope = doc.get("scope")
    if not scope:
        return []
    parts = [f"Endpoint `{scope['endpoint']}`", f"config `{scope['config_root']}`"]
    if scope.get("targets"):
        parts.append("targets " + ", ".join(f"`{t}`" for t in scope["targets"]))
    return [" · ".join(parts), ""]


def _table(doc: PlanDocument) -> list[str]:
    per: dict[str, Counter[str]] = {}
    for change in doc["changes"]:
        per.setdefault(_collection(change["address"]), Counter())[change["action"]] += 1
    rows = [
        "| collection | " + " | ".join(_ACTIONS) + " |",
        "|---|" + "---:|" * len(_ACTIONS),
    ]
    for collection, counts in per.items():
        rows.append(f"| `{collection}` | " + " | ".join(str(counts[a]) for a in _ACTIONS) + " |")
    total = doc["summary"]
    rows.append("| **total** | " + " | ".join(f"**{total[a]}**" for a in _ACTIONS) + " |")
    return [*rows, ""]


def render_markdown(
    plan: Plan | PlanDocument,
    *,
    title: str = "facesync plan",
    marker: str | None = None,
    max_length: int = MAX_LENGTH,
    drift: bool = False,
) -> str:
    doc = document(plan)
    head = [comment_marker(doc, marker), f"### {title}: {summary_line(doc, drift=drift)}", ""]
    head += _scope_line(doc)
    refusals = doc.get("refusals") or []
    if refusals:
        head += [
            "> [!CAUTION]",
            "> **This plan is refused by the safety gates**: applying it fails (exit 3) unless "
            "`--force` is given.",
            *(f"> - {r['message']}" for r in refusals),
            "",
        ]
    changes = doc["changes"]
    if changes:
        head += _table(doc)
    destroyed = [c for c in changes if Action(c["action"]).destroys]
    if destroyed:
        names = ", ".join(f"`{short_fingerprints(c['address'])}`" for c in destroyed[:5])
        more = f" and {len(destroyed) - 5} more" if len(destroyed) > 5 else ""
        head += ["> [!WARNING]", f"> This plan destroys {len(destroyed)} resource(s): {names}{more}.", ""]
    for warning in doc["warnings"]:
        head += ["> [!NOTE]", f"> {warning}", ""]
    tail: list[str] = []
    if doc["unmanaged"]:
        unmanaged = ", ".join(f"`{u['address']}`" for u in doc["unmanaged"])
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
    body = [f"<details><summary>Show {len(changes)} change(s)</summary>", "", "```diff", *shown, "```", ""]
    body += ["</details>", ""]
    if len(shown) < len(changes):
        body += [
            f"Showing {len(shown)} of {len(changes)} changes: the rest does not fit in a comment. "
            "Run `facesync plan`, or `facesync show` on the plan file, for all of them.",
            "",
        ]
    return "\n".join(head + body + tail).rstrip() + "\n"


def _block(change: Mapping[str, Any], drift: bool) -> str:
    # A diff block colours leading `+`/`-`: drop the two-space indent so it does.
    lines = [line[2:] if line.startswith("  ") else line for line in render_change(change, drift=drift)]
    return "\n".join(lines)
