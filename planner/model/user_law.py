"""The user's own loss law (goals.scaling_law, from `llmplan ladder fit`) inside a plan.

- `loss_fit(goals)`: the LossFit the planner sizes with: the user's law when the goals carry one,
  else the published default (planner.model.sizing.DEFAULT_FIT, Besiroglu et al. 2024). Compute-optimal
  and inference-optimal N and D then follow Hoffmann et al. 2022 eq. 4 / Sardana & Frankle 2023 on
  that law (planner.model.sizing).
- `loss_range(law, N, D)`: the predicted loss's p10-p90 by the delta method on the fit's bootstrap
  covariance of θ = (log A, log B, log E, α, β): Var L = gᵀ Σ g with g = ∂L/∂θ =
  (A·N^−α, B·D^−β, E, −A·N^−α·ln N, −B·D^−β·ln D); p10/p90 = L ∓ 1.2816·sd (normal quantiles),
  widened to at least L·exp(∓1.2816·σ_LOO) with σ_LOO the fit's leave-one-out rms log error.
- `apply_user_law(plan)`: a derived plan's predicted loss, its range and its assumptions restated on
  the user's law (the hook planner.derive.assemble_plan calls).

Pure Python (no numpy): derive imports it on every plan.
"""

from __future__ import annotations

import math

from planner.errors import PlanInputError
from planner.model import sizing
from planner.schema import Assumption, Goals, Range, RunPlan
from planner.schema.scaling_law import PARAM_NAMES, ScalingFit, ScalingLaw


def law_from_fit(fit: ScalingFit, source: str, name: str = "user-fit") -> ScalingLaw:
    """The ScalingLaw a plan can use from a `llmplan ladder fit` result, or PlanInputError (exit 2) naming
    every parameter the ladder did not identify, an empty fit, or parameters out of range."""
    if not fit.fully_identified:
        missing = [n for n in PARAM_NAMES if not fit.identified[n]]
        raise PlanInputError(f"the fit does not identify {', '.join(missing)}; a plan cannot use it", [
            *(f"identified.{n}: false" for n in missing), *(fit.problems or ["no reason recorded"]),
            "train more sizes or more tokens-per-parameter ratios (`llmplan ladder plan --rungs 5 --ratios 10,20,40`) "
            "and fit again"], source=source)
    if not fit.points:
        raise PlanInputError("the fit has no ladder points", ["points: empty; fit a ladder run"], source=source)
    p = fit.params
    try:
        return ScalingLaw(name=name, source=fit.source or source, E=p["E"], A=p["A"], B=p["B"], alpha=p["alpha"],
                          beta=p["beta"], covariance=fit.covariance, num_points=len(fit.points),
                          loo_rms_log_error=fit.loo_rms_log_error or 0.0,
                          max_compute_flops=max(6.0 * q.num_params * q.num_tokens for q in fit.points))
    except ValueError as exc:
        raise PlanInputError("the fit's parameters are out of range", [str(exc).splitlines()[0]],
                             source=source) from None

Z80 = 1.2815515655446004
"""Standard normal 90th percentile: p10/p90 = mean ∓ Z80·sd."""
EXTRAPOLATION_WARNING = 1000.0
"""Warn when the plan's compute is more than this multiple of the largest ladder rung's."""


def as_loss_fit(law: ScalingLaw) -> sizing.LossFit:
    return sizing.LossFit(law.name, E=law.E, A=law.A, B=law.B, alpha=law.alpha, beta=law.beta,
                          source=f"goals.scaling_law ({law.source})")


def loss_fit(goals: Goals) -> sizing.LossFit:
    """The law the planner sizes with (see the module docstring)."""
    law = getattr(goals, "scaling_law", None)
    return sizing.DEFAULT_FIT if law is None else as_loss_fit(law)


def loss_range(law: ScalingLaw, num_params: float, num_tokens: float, point: float) -> Range | None:
    """p10-p50-p90 of the predicted loss around `point`: the delta method on the bootstrap covariance,
    widened to at least ±Z80 of the fit's leave-one-out rms log error (never narrower than the fit's
    out-of-sample error); None with neither."""
    if law.covariance is None and law.loo_rms_log_error == 0:
        return None
    sd = 0.0
    if law.covariance is not None:
        n_term = law.A * num_params ** -law.alpha
        d_term = law.B * num_tokens ** -law.beta
        g = [n_term, d_term, law.E, -n_term * math.log(num_params), -d_term * math.log(num_tokens)]
        sd = math.sqrt(max(sum(g[i] * law.covariance[i][j] * g[j] for i in range(5) for j in range(5)), 0.0))
    spread = math.exp(Z80 * law.loo_rms_log_error)
    return Range(p10=min(point - Z80 * sd, point / spread), p50=point, p90=max(point + Z80 * sd, point * spread),
                 method="delta method on the scaling-law fit's bootstrap covariance, at least as wide as its "
                        "leave-one-out error (planner.model.user_law)")


def apply_user_law(plan: RunPlan) -> RunPlan:
    """`plan` with predicted_loss, ranges['predicted_loss'], the loss_fit assumption and an
    extrapolation warning from goals.scaling_law (unchanged when the goals carry none)."""
    law = plan.goals.scaling_law
    if law is None:
        return plan
    fit = as_loss_fit(law)
    n, d = plan.model.num_params, plan.tokens.num_tokens
    unique = plan.goals.unique_tokens_available
    loss = sizing.predicted_loss(n, d, unique, fit)
    if unique is not None and d > unique:  # the interval at Muennighoff's effective N' and D'
        n, d = sizing.effective_params(n, unique, fit), sizing.effective_tokens(d, unique)
    ranges = dict(plan.ranges)
    interval = loss_range(law, n, d, loss)
    if interval is not None:
        ranges["predicted_loss"] = interval
    assumptions = [a for a in plan.assumptions if a.name != "loss_fit"]
    assumptions.append(a_loss_fit(plan, law))
    warnings = list(plan.warnings)
    compute = 6.0 * plan.model.num_params * plan.tokens.num_tokens
    if law.max_compute_flops > 0 and compute > EXTRAPOLATION_WARNING * law.max_compute_flops:
        warnings.append(f"the run's compute ({compute:.3g} FLOPs) is {compute / law.max_compute_flops:,.0f}x the "
                        f"largest ladder rung's the scaling law was fitted on; predicted_loss is a long extrapolation")
    estimate = plan.estimate.model_copy(update={"predicted_loss": loss})
    return plan.model_copy(update={"estimate": estimate, "ranges": ranges, "assumptions": assumptions,
                                   "warnings": warnings})


def a_loss_fit(plan: RunPlan, law: ScalingLaw):
    value = f"{law.name}: E={law.E:.4g} A={law.A:.4g} B={law.B:.4g} alpha={law.alpha:.4g} beta={law.beta:.4g}"
    return Assumption(name="loss_fit", value=value, source=f"goals.scaling_law ({law.source})",
                      used_for="compute-optimal and inference-optimal sizing, predicted_loss and its range")
