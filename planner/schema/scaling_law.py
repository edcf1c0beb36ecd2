"""A loss law fitted on the user's own ladder: `fit.json` (ScalingFit) and the part a plan uses (ScalingLaw).

L(N, D) = E + A/N^alpha + B/D^beta (Hoffmann et al. 2022, eq. 2), fitted as Besiroglu et al. 2024
fix Chinchilla's approach 3 (planner.model.scaling_fit). A parameter the ladder cannot identify is None
in the fit, never a number; a plan accepts only a law whose five parameters are all identified.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schema.base import SCHEMA_VERSION, FreeText, PositiveFloat, SafeName, StrictModel

PARAM_NAMES = ("E", "A", "B", "alpha", "beta")
COVARIANCE_ORDER = ("log_A", "log_B", "log_E", "alpha", "beta")
"""Order of ScalingLaw.covariance: the log-sum-exp parametrisation of Hoffmann et al. 2022 §D.2."""


class ScalingLaw(StrictModel):
    """The five constants of L(N, D) and what a plan needs to draw its loss p10-p90 from them."""

    name: SafeName = "user-fit"
    source: FreeText = Field(description="where the law came from (fit.json path, ladder run directory)")
    E: PositiveFloat
    A: PositiveFloat
    B: PositiveFloat
    alpha: float = Field(gt=0, le=3)
    beta: float = Field(gt=0, le=3)
    covariance: list[list[float]] | None = Field(
        None, description="5x5 bootstrap covariance of (log A, log B, log E, alpha, beta); None: no interval")
    num_points: int = Field(0, ge=0, description="ladder points the law was fitted on")
    loo_rms_log_error: float = Field(0.0, ge=0, description="out-of-sample error of the fit: rms of the "
                                     "leave-one-out log residuals; the plan's loss p10-p90 is at least this wide")
    max_compute_flops: float = Field(0.0, ge=0, description="6·N·D of the largest ladder point")

    @model_validator(mode="after")
    def _square_covariance(self) -> ScalingLaw:
        cov = self.covariance
        if cov is not None and (len(cov) != 5 or any(len(row) != 5 for row in cov)):
            raise ValueError(f"covariance must be 5x5 over {', '.join(COVARIANCE_ORDER)}; "
                             f"got {len(cov)} rows of lengths {[len(r) for r in cov]}")
        if cov is not None and any(cov[i][i] < 0 for i in range(5)):
            raise ValueError("covariance has a negative variance on its diagonal; refit the ladder")
        return self


class Interval(StrictModel):
    """Bootstrap percentiles of one quantity (p10-p90: an 80% interval)."""

    p10: float
    p50: float
    p90: float


class FitPoint(StrictModel):
    """One ladder measurement and the fit's residual on it."""

    name: str = ""
    num_params: PositiveFloat
    num_tokens: PositiveFloat
    loss: PositiveFloat
    predicted_loss: float | None = None
    residual_log: float | None = Field(None, description="log(predicted) - log(measured)")
    loo_predicted_loss: float | None = Field(None, description="the law refitted without this point, at it")
    loo_residual_log: float | None = Field(None, description="log(loo_predicted) - log(measured): out of sample")


class Extrapolation(StrictModel):
    """The law's loss at one (N, D) and its p10-p90, with what the interval is made of."""

    name: str
    num_params: PositiveFloat
    num_tokens: PositiveFloat
    predicted_loss: float | None
    interval: Interval | None = None
    basis: FreeText = Field("", description="what the p10-p90 covers (bootstrap, leave-one-out error, E profile)")


class EProfile(StrictModel):
    """The irreducible losses E the ladder cannot reject when it cannot locate E itself.

    E is fixed on a grid over [0, min loss), the other four parameters refitted at each value, and a
    value is kept when the refitted law's squared log residuals stay within the small-sample profile
    bound S_E <= S_min·(1 + F(1, n-5; 0.8)/(n-5)) (Bates & Watts 1988, §6.1).
    """

    low: float = Field(ge=0, description="smallest E not rejected")
    high: float = Field(ge=0, description="largest E not rejected")
    grid_points: int = Field(ge=1)
    admitted: int = Field(ge=1, description="grid values of E not rejected")
    criterion: FreeText = ""


class ScalingFit(StrictModel):
    """`fit.json`: the fitted law, its bootstrap intervals, residuals, and what it cannot say."""

    kind: Literal["llmplan-scaling-fit"] = "llmplan-scaling-fit"
    schema_version: int = SCHEMA_VERSION
    law_text: str = "L(N, D) = E + A/N^alpha + B/D^beta"
    method: FreeText = ""
    params: dict[str, float | None] = Field(description="E, A, B, alpha, beta; None where not identified")
    intervals: dict[str, Interval] = Field(default_factory=dict, description="80% bootstrap intervals")
    identified: dict[str, bool]
    problems: list[str] = Field(default_factory=list, description="why a term is not identified")
    points: list[FitPoint]
    num_bootstrap: int = Field(ge=0)
    seed: int = 0
    huber_delta: float = 1e-3
    covariance: list[list[float]] | None = None
    loo_rms_log_error: float | None = Field(None, description="rms of the points' leave-one-out log residuals")
    extrapolations: list[Extrapolation] = Field(default_factory=list)
    e_profile: EProfile | None = Field(None, description="the E values the losses admit, when E is the only "
                                       "parameter not identified; every extrapolated p10-p90 spans them")
    source: FreeText = ""

    @model_validator(mode="after")
    def _all_names(self) -> ScalingFit:
        missing = [n for n in PARAM_NAMES if n not in self.params or n not in self.identified]
        if missing:
            raise ValueError(f"params and identified must name {', '.join(PARAM_NAMES)}; missing {missing}")
        unexplained = [n for n in PARAM_NAMES if self.identified[n] and self.params[n] is None]
        if unexplained:
            raise ValueError(f"identified parameters {unexplained} have no value")
        return self

    @property
    def fully_identified(self) -> bool:
        return all(self.identified[n] for n in PARAM_NAMES)
