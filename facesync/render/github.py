"""GitHub Actions workflow commands (`::error file=…,line=…,col=…,title=…::message`): how CI
logs put a message on the line of a file in the pull request's diff."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from facesync.text import printable


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(
    severity: str, message: str, *, file: str = "", line: int = 0, column: int = 0, title: str | None = None
) -> str:
    """One annotation; `severity` is error, warning or notice. Without a file, the run's log."""
    props = [f"file={_escape_property(file)}"] if file else []
    if file and line > 0:
        props += [f"line={line}", f"col={column}"] if column > 0 else [f"line={line}"]
    if title:
        props.append(f"title={_escape_property(title)}")
    head = f"::{severity} {','.join(props)}" if props else f"::{severity}"
    return f"{head}::{_escape_data(message)}"


def image_annotations(doc: Mapping[str, Any]) -> list[str]:
    """One annotation per image finding of a run's document, at the config line of its face entry
    (relative to the working directory, as GitHub wants it). A finding alike in several
    environments is one annotation naming them."""
    plans = [e for e in doc["environments"] if "changes" in e] if "environments" in doc else [doc]
    found: dict[tuple[str, str, int, int, str], list[str]] = {}
    for plan in plans:
        root = (plan.get("scope") or {}).get("config_root") or "."
        for finding in (plan.get("image_checks") or {}).get("findings") or []:
            source = finding.get("source") or {}
            file = os.path.normpath(os.path.join(root, source["file"])) if source.get("file") else ""
            message = f"{finding['image']}: {finding['message']}"
            key = (finding["severity"], file, source.get("line", 0), source.get("column", 0), message)
            names = found.setdefault(key, [])
            if "environment" in plan:
                names.append(str(plan["environment"]))
    lines = []
    for (severity, file, line, column, message), names in found.items():
        title = "facesync: image check" + (f" ({', '.join(names)})" if names else "")
        lines.append(
            annotation(
                "error" if severity == "error" else "warning",
                printable(message),
                file=printable(file),
                line=line,
                column=column,
                title=printable(title),
            )
        )
    return lines
