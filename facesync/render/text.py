"""Terraform-like text: `+` create, `~` update, `-/+` replace, `-` delete, `*` train.

Every renderer reads the run's document (`facesync.document`): one plan, or a section per
environment with a summary and the differences between them. A saved plan file renders exactly
like a fresh plan (`facesync show`). A plan says what apply will do; drift says where the live
service and the configuration differ, naming which side holds which value.

Every string that came from the configuration or the service is made printable first (terminal
escapes and bidi overrides are shown, never obeyed).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from facesync.plan import RENAMES, REPAIRS, Action, Plan, Reason
from facesync.render.values import field_differences, short_fingerprints, show
from facesync.text import printable

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
    Action.CREATE: "is in the configuration but missing on the service",
    Action.UPDATE: "differs between the service and the configuration",
    Action.REPLACE: "differs in a way only a replacement could fix",
    Action.DELETE: "is on the service but not in the configuration",
    Action.TRAIN: "is not trained on what it holds",
}
DRIFT_NOUNS = {
    Action.CREATE: "missing",
    Action.UPDATE: "differing",
    Action.REPLACE: "differing (replace)",
    Action.DELETE: "not in the configuration",
    Action.TRAIN: "untrained",
}
# Reasons the drift verb already says: repeating them reads "is not in the configuration: not in
# the configuration".
_SAID_BY_DRIFT_VERB = frozenset({"declared", "not_declared"})


def document(plan: Plan | PlanDocument) -> PlanDocument:
    return plan.to_dict() if isinstance(plan, Plan) else plan


def summary_line(plan: Plan | PlanDocument, *, drift: bool = False) -> str:
    doc = document(plan)
    s = doc["summary"]
    if not doc["changes"]:
        if drift:
            return "No drift. The live service matches the configuration."
        return "No changes. The live service matches the configuration."
    if drift:
        counts = ", ".join(f"{s[a.value]} {DRIFT_NOUNS[a]}" for a in Action if s[a.value])
        return f"Drift: {counts}."
    counts = (
        f"{s['create']} to create, {s['update']} to update, {s['replace']} to replace, "
        f"{s['delete']} to delete, {s['train']} to train."
    )
    return f"Plan: {counts}"


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


def _headline(change: Mapping[str, Any], drift: bool) -> str:
    """`# ADDRESS will be created: why`; a rename names both addresses, like Terraform's moved
    resources; drift leaves out a reason its verb already says."""
    action = Action(change["action"])
    address = short_fingerprints(change["address"])
    code = change.get("reason_code")
    moved = (change.get("before") or {}).get("address") if code in RENAMES else None
    if moved:
        old = short_fingerprints(str(moved))
        head = f"{address} is {old} on the service" if drift else f"{old} has moved to {address}"
    elif code == Reason.KEPT_FACE_MISSING:
        head = f"{address} {'is missing' if drift else 'cannot be re-created'}"
    else:
        verb = (_DRIFT_VERBS if drift else _VERBS)[action]
        head = f"{address} {verb}{' (a repair)' if code in REPAIRS else ''}"
    if drift and code in _SAID_BY_DRIFT_VERB:
        return printable(f"# {head}")
    return printable(f"# {head}: {change['reason']}")


def render_change(change: Mapping[str, Any], color: bool = False, *, drift: bool = False) -> list[str]:
    action = Action(change["action"])
    symbol, colour = SYMBOLS[action]
    address = short_fingerprints(change["address"])
    head = printable(f"{symbol} {'train ' if action is Action.TRAIN else ''}{address}")
    out = ["  " + _headline(change, drift)]
    out.append("  " + (click.style(head, fg=colour, bold=True) if color else head))
    details = _detail_lines(change)
    source = source_text(change) if change["kind"] == "face" else None
    width = max([len(label) for label, _, _ in details] + ([len("source")] if source else []), default=0)
    for label, old, new in details:
        if action is Action.CREATE:
            value = f"{show(new)}" + ("  (configured)" if drift else "")
        elif action is Action.DELETE:
            value = f"{show(old)}" + ("  (live)" if drift else "")
        elif drift:
            value = f"live {show(old)}, configured {show(new)}"
        else:
            value = f"{show(old)} → {show(new)}"
        out.append(printable(f"      {label.ljust(width)}  {short_fingerprints(value)}"))
    if source:
        out.append(printable(f"      {'source'.ljust(width)}  {source}"))
    return out


def accepting_flags(refusals: list[Mapping[str, Any]]) -> list[str]:
    """The flags that would accept these refusals: --force for the safety gates, --force-env for
    a protected environment."""
    flags = {"--force-env" if r.get("gate") == "protected_environment" else "--force" for r in refusals}
    return sorted(flags)


def refusal_lines(doc: PlanDocument) -> list[str]:
    refusals = doc.get("refusals") or []
    if not refusals:
        return []
    needs = accepting_flags(refusals)
    return [
        f"This plan is refused by the safety gates; applying it needs {' and '.join(needs)}:",
        *(printable(f"  - {r['message']}") for r in refusals),
        "",
    ]


def finding_place(finding: Mapping[str, Any]) -> tuple[str, str | None, str]:
    """(image, config line, what the face is of) of an image finding, as shown to people."""
    source = finding.get("source")
    line = f"{source['file']}:{source['line']}:{source['column']}" if source else None
    owner = short_fingerprints(str(finding["address"]).rsplit("/face[", 1)[0])
    return str(finding["image"]), line, owner


def image_findings(doc: PlanDocument) -> tuple[list[Mapping[str, Any]], list[Mapping[str, Any]], int]:
    """The errors and warnings of a plan's image checks, and how many images were checked."""
    checks = doc.get("image_checks") or {}
    findings = checks.get("findings") or []
    errors = [f for f in findings if f.get("severity") == "error"]
    return errors, [f for f in findings if f.get("severity") != "error"], int(checks.get("checked") or 0)


def image_lines(doc: PlanDocument, color: bool) -> list[str]:
    """What detecting the new faces' images found: what the service would refuse, then doubts."""
    errors, warnings, checked = image_findings(doc)
    lines: list[str] = []
    for found, head, colour in (
        (
            errors,
            f"Error: the service would refuse {len(errors)} of the {checked} new face image(s); "
            "apply stops before any write:",
            "red",
        ),
        (warnings, f"Warning: {len(warnings)} new face image(s) may not add the intended face:", "yellow"),
    ):
        if not found:
            continue
        lines.append(click.style(head, fg=colour, bold=True) if color else head)
        for finding in found:
            image, line, owner = finding_place(finding)
            lines.append(printable(f"  - {image}" + (f" ({line})" if line else "") + f", for {owner}:"))
            lines.append(printable(f"      {finding['message']}"))
        lines.append("")
    return lines


def warning_text(warning: Any) -> str:
    """A warning as a person reads it: its message (older plans held bare strings)."""
    if isinstance(warning, Mapping):
        return str(warning.get("message", ""))
    return str(warning)


def _plan_text(doc: PlanDocument, *, color: bool, endpoint: str | None, drift: bool) -> str:
    lines: list[str] = []
    refused = refusal_lines(doc)
    if refused and not drift:
        head, *rest = refused
        lines.append(click.style(head, fg="red", bold=True) if color else head)
        lines.extend(rest)
    if doc["changes"]:
        where = f" on {printable(endpoint)}" if endpoint else ""
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
        lines.extend(printable(f"  {u['address']}  {show(u['name'])}") for u in doc["unmanaged"])
        lines.append("")
    for warning in doc["warnings"]:
        lines.append(
            ("Warning: " if not color else click.style("Warning: ", fg="yellow"))
            + printable(warning_text(warning))
        )
    if doc["warnings"]:
        lines.append("")
    lines.extend(image_lines(doc, color))
    summary = summary_line(doc, drift=drift)
    lines.append(click.style(summary, bold=True) if color else summary)
    return "\n".join(lines) + "\n"


def status(entry: Mapping[str, Any], drift: bool) -> str:
    """One environment's state in a word or two, for summaries and tables."""
    if "error" in entry:
        return "error"
    if entry.get("refusals") and not drift:
        return "refused"
    if not entry["changes"]:
        return "in sync" if drift else "no changes"
    return "drift" if drift else "changes"


def difference_lines(doc: PlanDocument) -> list[str]:
    lines: list[str] = []
    for diff in doc.get("differences") or []:
        lines.append(printable(f"  {short_fingerprints(diff['address'])}"))
        lines.extend(printable(f"      {name}: {state}") for name, state in diff["environments"].items())
    return lines


def _environments_text(doc: PlanDocument, *, color: bool, drift: bool) -> str:
    out: list[str] = []
    for entry in doc["environments"]:
        name = entry["environment"]
        endpoint = (entry.get("scope") or {}).get("endpoint")
        rule = printable(f"── environment {name}" + (f" ({endpoint})" if endpoint else "") + " ")
        out.append(click.style(rule.ljust(72, "─"), bold=True) if color else rule.ljust(72, "─"))
        if "changes" not in entry:
            out += [printable(f"Error: {entry['error']}"), ""]
            continue
        out.append(_plan_text(entry, color=color, endpoint=endpoint, drift=drift))
        if "error" in entry:
            out += [printable(f"Error: {entry['error']}"), ""]
    out.append("─" * 72)
    diffs = difference_lines(doc)
    if diffs:
        out += ["The environments differ from each other:", *diffs, ""]
    for entry in doc["environments"]:
        if "changes" not in entry:
            out.append(printable(f"  {entry['environment']}: error"))
            continue
        s = entry["summary"]
        if drift:
            counts = ", ".join(f"{s[a.value]} {DRIFT_NOUNS[a]}" for a in Action if s[a.value])
        else:
            counts = ", ".join(f"{s[a.value]} {a.value}" for a in Action if s[a.value])
        state = printable(f"  {entry['environment']}: {status(entry, drift)}")
        out.append(state + (f" ({counts})" if counts else ""))
    return "\n".join(out) + "\n"


def render_text(
    plan: Plan | PlanDocument, *, color: bool = False, endpoint: str | None = None, drift: bool = False
) -> str:
    """The plan (or drift) for a terminal; `endpoint` defaults to the one the plan was made for."""
    # Every string from the configuration or the service is made printable where it is written
    # into a line (after JSON quoting: escaping first would double the backslashes).
    doc = document(plan)
    if "environments" in doc:
        return _environments_text(doc, color=color, drift=drift)
    if endpoint is None:
        endpoint = (doc.get("scope") or {}).get("endpoint")
    return _plan_text(doc, color=color, endpoint=endpoint, drift=drift)
