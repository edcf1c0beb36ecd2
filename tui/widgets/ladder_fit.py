"""The Ladder screen's bridge to the planner: the ladder of the current plan and the fit it draws.

Like tui/state.py for the other screens, this module computes nothing itself; it calls the
functions the CLI calls and returns what the screen shows:

- `plan_ladder(plan)`: `llmplan ladder plan PLAN` with its default options (planner.ladder.plan_ladder);
- `read_fit(path)`: a fit.json from `llmplan ladder fit` and the law `llmplan plan --scaling-law` would
  take from it; a fit that does not identify every term carries the reason instead of a law;
- `fit_figure(fit, plan)`: the points of the loss-against-compute plot, with compute C = 6·N·D
  (Kaplan et al. 2020 §2.1; planner.model.flops' model FLOPs without attention): the ladder's
  measured losses, the fitted law's compute-optimal frontier L(N*(C), D*(C)) (Hoffmann et al. 2022
  eq. 4, planner.model.sizing.compute_optimal) and the big run's predicted loss with its p10-p90
  (planner.model.user_law.apply_user_law: the delta method on the fit's bootstrap covariance).

This module is imported only when the Ladder screen first opens (tui/screens/plan.py), so its
planner imports cost the wizard's first paint nothing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from planner.errors import PlanInputError
from planner.io import read_model
from planner.ladder import plan_ladder as derive_ladder
from planner.model import sizing, user_law
from planner.model.user_law import law_from_fit
from planner.schema import Range, RunPlan
from planner.schema.ladder import LadderPlan
from planner.schema.scaling_law import ScalingFit, ScalingLaw
from presets import load_catalog

FRONTIER_POINTS = 40
FRONTIER_MARGIN = 1.5
"""The frontier is drawn from the smallest compute shown / 1.5 to the largest × 1.5."""


def plan_ladder(plan: RunPlan) -> LadderPlan:
    """The ladder `llmplan ladder plan PLAN` derives for `plan` (default options)."""
    return derive_ladder(plan, load_catalog())


@dataclass(frozen=True)
class LoadedFit:
    """A fit the Ladder screen draws: a fit.json (`f` on the screen) or the goals' scaling_law."""

    source: str
    law: ScalingLaw | None
    """None when the fit does not identify every term of L(N, D); `refusal` says why."""
    points: tuple[tuple[float, float, float], ...] = ()
    """(N, D, measured loss) of the ladder points the law was fitted on (none for a goals' law)."""
    refusal: str = ""


def read_fit(path: str | Path) -> LoadedFit:
    """A fit.json as the Ladder screen shows it; PlanInputError when the file is not a valid fit.

    The law is the one `llmplan plan --scaling-law` uses (planner.model.user_law.law_from_fit): a fit
    that leaves a term unidentified, or has no points, loads with its points and the reason instead.
    """
    fit = read_model(ScalingFit, path)
    points = tuple((p.num_params, p.num_tokens, p.loss) for p in fit.points)
    try:
        return LoadedFit(str(path), law_from_fit(fit, str(path)), points)
    except PlanInputError as exc:
        return LoadedFit(str(path), None, points, "; ".join([exc.headline, *exc.lines]))


def goals_fit(plan: RunPlan) -> LoadedFit | None:
    """The law the plan was derived with (`llmplan plan --scaling-law`), or None for the published one."""
    law = plan.goals.scaling_law
    return None if law is None else LoadedFit(f"goals.scaling_law ({law.source})", law)


@dataclass(frozen=True)
class Prediction:
    """The big run under the fitted law: its compute, predicted loss and the loss's p10-p90."""

    compute: float
    num_params: float
    num_tokens: float
    loss: float
    band: Range | None = None
    """The predicted loss's p10-p90 (planner.model.user_law.apply_user_law), None without a covariance."""

    @property
    def p10(self) -> float | None:
        return self.band.p10 if self.band else None

    @property
    def p90(self) -> float | None:
        return self.band.p90 if self.band else None


@dataclass(frozen=True)
class FitFigure:
    """What the plot shows; compute in FLOPs (6·N·D), losses in nats per token."""

    points: list[tuple[float, float]] = field(default_factory=list)
    frontier: list[tuple[float, float]] = field(default_factory=list)
    """Empty when the fit does not identify every term (no frontier is drawn then)."""
    target: Prediction | None = None


def fit_figure(fit: LoadedFit, plan: RunPlan, num: int = FRONTIER_POINTS) -> FitFigure:
    """Ladder points, the fitted compute-optimal frontier and the big run's predicted point (see module)."""
    points = [(6.0 * n * d, loss) for n, d, loss in fit.points]
    if fit.law is None:
        return FitFigure(points=points)
    goals = plan.goals.model_copy(update={"scaling_law": fit.law})
    restated = user_law.apply_user_law(plan.model_copy(update={"goals": goals}))
    n, d = plan.model.num_params, plan.tokens.num_tokens
    band = restated.ranges.get("predicted_loss")
    target = Prediction(6.0 * n * d, n, d, restated.estimate.predicted_loss, band)
    law = user_law.as_loss_fit(fit.law)
    computes = [c for c, _ in points] + [target.compute]
    lo, hi = math.log10(min(computes) / FRONTIER_MARGIN), math.log10(max(computes) * FRONTIER_MARGIN)
    frontier = []
    for i in range(num):
        c = 10 ** (lo + (hi - lo) * i / (num - 1))
        frontier.append((c, law.loss(*sizing.compute_optimal(c, law))))
    return FitFigure(points=points, frontier=frontier, target=target)
