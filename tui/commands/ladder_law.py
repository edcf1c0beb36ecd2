"""`--scaling-law fit.json`: read a `llmplan ladder fit` result into goals.scaling_law (light: no numpy)."""

from __future__ import annotations

from planner.errors import PlanInputError
from planner.io import read_model
from planner.schema.scaling_law import PARAM_NAMES, ScalingFit, ScalingLaw


def read_scaling_law(path: str) -> ScalingLaw:
    """The usable law of a fit.json, or PlanInputError (exit 2) naming what is malformed or not identified."""
    fit = read_model(ScalingFit, path)
    if not fit.fully_identified:
        missing = [name for name in PARAM_NAMES if not fit.identified[name]]
        raise PlanInputError(f"the scaling law does not identify {', '.join(missing)}; a plan cannot use it", [
            *(f"identified.{name}: false" for name in missing), *fit.problems,
            "train more sizes or more tokens-per-parameter ratios (`llmplan ladder plan --rungs 5 --ratios 10,20,40`) "
            "and fit again"], source=path)
    if not fit.points:
        raise PlanInputError("the scaling law has no ladder points", ["points: empty; fit a ladder run"], source=path)
    p = fit.params
    max_c = max(6.0 * q.num_params * q.num_tokens for q in fit.points)
    try:
        return ScalingLaw(name="user-fit", source=fit.source or str(path), E=p["E"], A=p["A"], B=p["B"],
                          alpha=p["alpha"], beta=p["beta"], covariance=fit.covariance, num_points=len(fit.points),
                          max_compute_flops=max_c)
    except ValueError as exc:
        raise PlanInputError("the scaling law's parameters are out of range", [str(exc).splitlines()[0]],
                             source=path) from None
