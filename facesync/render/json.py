"""The machine-readable plan (schemas/plan.schema.json): versioned, stable key order."""

from __future__ import annotations

import json

from facesync.plan import Plan
from facesync.render.text import PlanDocument, document


def render_json(plan: Plan | PlanDocument) -> str:
    return json.dumps(document(plan), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
