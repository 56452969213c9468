"""Renderers of the run's document (one plan, or one per environment): text for terminals, JSON
for machines, Markdown for pull-request comments; GitHub annotations for CI logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from facesync.render.json import render_json
from facesync.render.markdown import render_markdown
from facesync.render.text import render_text, summary_line

__all__ = ["render", "render_json", "render_markdown", "render_text", "summary_line"]

FORMATS = ("text", "json", "markdown")


def render(
    doc: Mapping[str, Any], fmt: str, *, color: bool = False, drift: bool = False, marker: str | None = None
) -> str:
    """The document in one of `FORMATS`."""
    if fmt == "json":
        return render_json(doc)
    if fmt == "markdown":
        return render_markdown(doc, marker=marker, drift=drift)
    return render_text(doc, color=color, drift=drift)
