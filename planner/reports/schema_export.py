"""JSON Schema of the plan and goals files (`llmplan schema`; committed under schema/)."""

from __future__ import annotations

import json

from planner.schema import Goals, RunPlan
from planner.schema.ladder import LadderPlan
from planner.schema.scaling_law import ScalingFit


def schema_texts() -> dict[str, str]:
    """{'runplan': ..., 'goals': ...}: the JSON Schemas as stable, indented text."""
    return {
        "runplan": json.dumps(RunPlan.model_json_schema(), indent=2, sort_keys=True) + "\n",
        "goals": json.dumps(Goals.model_json_schema(), indent=2, sort_keys=True) + "\n",
        "ladderplan": json.dumps(LadderPlan.model_json_schema(), indent=2, sort_keys=True) + "\n",
        "scalingfit": json.dumps(ScalingFit.model_json_schema(), indent=2, sort_keys=True) + "\n",
    }
