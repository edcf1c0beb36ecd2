"""p10-p90 ranges for a plan's headline figures: GPU-hours, days, dollars, energy and CO2.

Method (lognormal error model, combined in log space):
- Throughput: the *out-of-sample* log residuals r_i = ln(reported_i / predicted_i) of the chain's
  GPU-hours (planner.chain) over the published whole runs, each predicted with coefficients fitted
  without its model family (planner.calibration.crossval, `llmplan calibrate --cv`), give a bias mu and spread
  sigma_tp (sample standard deviation, n-1). In-sample residuals would be narrower than the error a
  new run sees. The published GPU-hours include each run's own restarts, so the residuals already
  carry the *average* failure overhead; the failure model adds its *variance* only.
- Steady-state step time (the layout's tokens/s): the step-time model's leave-one-group-out log
  residuals over the throughput benchmarks (`step_residuals_of`), separately.
- Failures: the interruption rate is uncertain by x0.5..x2 (p10..p90, presets/reliability.yaml);
  the wall-clock overhead it causes moves by sigma_fail = sigma_rate * f / (1 + f), f = 1/goodput - 1
  (planner.cost.reliability.failure_overhead_sigma).
- Energy and CO2 add the spread of the energy model against published energy (sigma_energy, from the
  calibration's energy residuals when there are at least three, else an interim constant).
- A plan is a *new* run, not one of the n calibration runs, so each residual spread is widened to a
  prediction interval: sigma * t_{n-1,0.9} * sqrt(1 + 1/n) / z_0.9 (x1.09 for n = 14).
- sigma = sqrt(sigma_tp^2 + sigma_fail^2 [+ sigma_energy^2]);
  p50 = point * e^mu, p10 = point * e^(mu - z sigma), p90 = point * e^(mu + z sigma), z = 1.2816.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from planner.cost.reliability import Z90, failure_overhead_sigma, resolve_inputs
from planner.schema import Estimate, Range, RunPlan
from planner.schema.catalog import Catalog, ReliabilityPresets

INTERIM_SIGMA_TP = 0.15
"""Used only when the calibration cannot be run: ~15% is the median absolute GPU-hour error that
issue 2 requires of the throughput model, taken as one standard deviation in log space."""
INTERIM_SIGMA_ENERGY = 0.10
"""Used when fewer than three published runs report energy: 10% for GPU power vs TDP and PUE."""
TIME_FIELDS = ("gpu_hours", "wallclock_days", "cost_usd", "total_cost_usd")
ENERGY_FIELDS = ("energy_kwh", "energy_cost_usd", "co2_kg")


@dataclass(frozen=True)
class Residuals:
    """Spread of log(reported / predicted) over published runs."""

    mu: float
    sigma: float
    n: int
    source: str

    @property
    def prediction_factor(self) -> float:
        """Widening of the p10-p90 interval for a *new* run when mu and sigma are estimated from n
        runs: t_{n-1, 0.9} * sqrt(1 + 1/n) / z_0.9 (the normal prediction interval); 1 for constants."""
        if self.n < 3:
            return 1.0
        return t_quantile_90(self.n - 1) * math.sqrt(1.0 + 1.0 / self.n) / Z90


def t_quantile_90(df: int) -> float:
    """The 90% quantile of Student's t with `df` degrees of freedom, by the Cornish-Fisher expansion
    of Abramowitz & Stegun 26.7.5 (error < 1e-3 for df >= 3; t_13 = 1.3502)."""
    z, v = Z90, float(df)
    return (z + (z**3 + z) / (4 * v) + (5 * z**5 + 16 * z**3 + 3 * z) / (96 * v**2)
            + (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / (384 * v**3))


def summarise(log_residuals: list[float], source: str, fallback_sigma: float) -> Residuals:
    """Mean and sample standard deviation of log residuals; the fallback when there are under three."""
    values = [r for r in log_residuals if math.isfinite(r)]
    if len(values) < 3:
        return Residuals(0.0, fallback_sigma, len(values), f"interim constant sigma={fallback_sigma} "
                         f"({len(values)} residuals available)")
    return Residuals(statistics.fmean(values), statistics.stdev(values), len(values), source)


def _from_entry(entry) -> Residuals:
    return Residuals(float(entry.mu), float(entry.sigma), int(entry.n), str(entry.source))


def residuals_of(catalog: Catalog) -> tuple[Residuals, Residuals]:
    """(GPU-hours, energy) residuals of the planner against the published runs: the committed
    presets/calibration_residuals.yaml (`llmplan calibrate --residuals`, planner.calibration.calibrate
    recomputes them; a test checks they agree), or the interim constants when it is missing."""
    if catalog.residuals is None:
        why = "interim constant; presets/calibration_residuals.yaml is missing (llmplan calibrate --residuals)"
        return Residuals(0.0, INTERIM_SIGMA_TP, 0, why), Residuals(0.0, INTERIM_SIGMA_ENERGY, 0, why)
    return _from_entry(catalog.residuals.gpu_hours), _from_entry(catalog.residuals.energy)


def step_residuals_of(catalog: Catalog) -> Residuals:
    """Spread of the step-time model's steady-state throughput: the committed `step_time` entry of
    presets/calibration_residuals.yaml, or the interim constant when it is missing."""
    if catalog.residuals is None or catalog.residuals.step_time is None:
        return Residuals(0.0, INTERIM_SIGMA_TP, 0, "interim constant; no step_time entry in "
                         "presets/calibration_residuals.yaml (llmplan calibrate --residuals)")
    return _from_entry(catalog.residuals.step_time)


def lognormal_range(point: float, mu: float, sigma: float, method: str) -> Range:
    """p10/p50/p90 of point * e^(mu + sigma Z) for a standard normal Z."""
    return Range(
        p10=point * math.exp(mu - Z90 * sigma),
        p50=point * math.exp(mu),
        p90=point * math.exp(mu + Z90 * sigma),
        method=method,
    )


def failure_sigma(plan: RunPlan, presets: ReliabilityPresets) -> float:
    """Log-space spread that the failure model adds (0 without a reliability section); the rate's
    p10/p90 factors of the catalog's default failure model."""
    if plan.reliability is None:
        return 0.0
    inputs = resolve_inputs(presets, plan.estimate.num_gpus)
    return failure_overhead_sigma(plan.reliability, inputs.rate_p10_factor, inputs.rate_p90_factor)


def plan_ranges(plan: RunPlan, residuals: tuple[Residuals, Residuals], presets: ReliabilityPresets) -> dict[str, Range]:
    """p10-p90 ranges for gpu_hours, wallclock_days, cost_usd, total_cost_usd, energy_kwh,
    energy_cost_usd and co2_kg of `plan.estimate` (see the module docstring for the method);
    `residuals` from `residuals_of(catalog)`, `presets` the catalog's reliability presets."""
    return estimate_ranges(plan.estimate, residuals, failure_sigma(plan, presets))


def estimate_ranges(estimate: Estimate, residuals: tuple[Residuals, Residuals], s_fail: float = 0.0) -> dict[str, Range]:
    """The ranges of `plan_ranges` for an estimate alone (`llmplan estimate`): without a failure
    plan `s_fail` is 0 and only the throughput (and energy) model's spread counts."""
    tp, energy = residuals
    s_tp = tp.sigma * tp.prediction_factor
    sigma_time = math.hypot(s_tp, s_fail)
    sigma_energy = math.sqrt(s_tp**2 + s_fail**2 + (energy.sigma * energy.prediction_factor) ** 2)
    method_time = (f"lognormal: throughput residuals mu={tp.mu:+.3f} sigma={tp.sigma:.3f} (n={tp.n}; "
                   f"{tp.source}; x{tp.prediction_factor:.3f} for a new run, Student t) and "
                   f"failure-rate sigma={s_fail:.3f}")
    method_energy = f"{method_time}; energy model sigma={energy.sigma:.3f} ({energy.source})"
    out: dict[str, Range] = {}
    for name in TIME_FIELDS:
        out[name] = lognormal_range(getattr(estimate, name), tp.mu, sigma_time, method_time)
    for name in ENERGY_FIELDS:
        out[name] = lognormal_range(getattr(estimate, name), tp.mu, sigma_energy, method_energy)
    return out


def relative_half_width(r: Range, point: float) -> float:
    """The larger of (p90 - point) / point and (point - p10) / point."""
    return max(r.p90 - point, point - r.p10) / point


def step_time_range(step_time_s: float, residuals: Residuals) -> Range:
    """p10-p90 of a layout's steady-state step time from the step-time model's out-of-sample
    throughput residuals (`step_residuals_of(catalog)`): time is the reciprocal of throughput, so
    its log error is the negative of the throughput's."""
    r = residuals
    s = r.sigma * r.prediction_factor
    return Range(p10=step_time_s * math.exp(-r.mu - Z90 * s), p50=step_time_s * math.exp(-r.mu),
                 p90=step_time_s * math.exp(-r.mu + Z90 * s),
                 method=f"lognormal: step-time model residuals mu={r.mu:+.3f} sigma={r.sigma:.3f} (n={r.n}; {r.source}; "
                        f"x{r.prediction_factor:.3f} for a new layout)")
