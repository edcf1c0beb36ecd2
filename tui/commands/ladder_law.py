"""`--scaling-law fit.json`: read a `llmplan ladder fit` result into goals.scaling_law (light: no numpy)."""

from __future__ import annotations

from planner.io import read_model
from planner.model.user_law import law_from_fit
from planner.schema.scaling_law import ScalingFit, ScalingLaw


def read_scaling_law(path: str) -> ScalingLaw:
    """The usable law of a fit.json, or PlanInputError (exit 2) naming what is malformed or not identified
    (planner.model.user_law.law_from_fit)."""
    return law_from_fit(read_model(ScalingFit, path), str(path))
