"""The machine-readable plan (schemas/plan.schema.json): versioned, stable key order."""

from __future__ import annotations

import json

from facesync.plan import Plan


def render_json(plan: Plan) -> str:
    return json.dumps(plan.to_dict(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
