"""Plan renderers: text (terminal), JSON (machines), Markdown (pull-request comments)."""

from facesync.render.json import render_json
from facesync.render.markdown import render_markdown
from facesync.render.text import render_text, summary_line

__all__ = ["render_json", "render_markdown", "render_text", "summary_line"]
