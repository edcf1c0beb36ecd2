"""p10-p90 ranges for a plan's headline figures: GPU-hours, days, dollars, energy and CO2.

Method (lognormal error model, combined in log space):
- Throughput: the *out-of-sample* log residuals r_i = ln(reported_i / predicted_i) of the chain's
  GPU-hours (planner.chain) over the published whole runs, each predicted with coefficients fitted
  without its model family (planner.crossval, `llmplan calibrate --cv`), give a bias mu and spread
  sigma_tp (sample standard deviation, n-1). In-sample residuals would be narrower than the error a
  new run sees. The published GPU-hours include each run's own restarts, so the residuals already
  carry the *average* failure overhead; the failure model adds its *variance* only.
- Steady-state step time (the layout's tokens/s): the step-time model's leave-one-group-out log
  residuals over the throughput benchmarks (`step_residuals`), separately.
- Failures: the interruption rate is uncertain by x0.5..x2 (p10..p90, presets/reliability.yaml);
  the wall-clock overhead it causes moves by sigma_fail = sigma_rate * f / (1 + f), f = 1/goodput - 1
  (planner.reliability.failure_overhead_sigma).
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
from functools import lru_cache

from planner.reliability import Z90, failure_overhead_sigma, resolve_inputs
from planner.schema import Estimate, Goals, Range, RunPlan

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


RESIDUALS_FILE = "calibration_residuals.yaml"
"""In presets/: the committed output of `computed_residuals()` (`llmplan calibrate --residuals`), so
a plan or `llmplan estimate` does not rerun the calibration (~50 ms) at every start. A test checks it
equals the recomputed values, the way the MFU coefficients and the JSON Schemas are checked."""


@lru_cache(maxsize=1)
def step_residuals() -> Residuals:
    """Spread of the step-time model's steady-state throughput: the committed
    presets/calibration_residuals.yaml `step_time` entry, or computed now when it is missing."""
    from presets.loader import PRESETS_DIR

    path = PRESETS_DIR / RESIDUALS_FILE
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    if "step_time" not in data:
        return computed_step_residuals()
    d = data["step_time"]
    return Residuals(float(d["mu"]), float(d["sigma"]), int(d["n"]), str(d["source"]))


@lru_cache(maxsize=1)
def calibration_residuals() -> tuple[Residuals, Residuals]:
    """(GPU-hours, energy) residuals of the planner against the published runs: the committed
    presets/calibration_residuals.yaml, or computed now when it is missing."""
    from presets.loader import PRESETS_DIR

    path = PRESETS_DIR / RESIDUALS_FILE
    if not path.exists():
        return computed_residuals()
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    return tuple(Residuals(float(d["mu"]), float(d["sigma"]), int(d["n"]), str(d["source"]))
                 for d in (data["gpu_hours"], data["energy"]))


def computed_residuals() -> tuple[Residuals, Residuals]:
    """(GPU-hours, energy) residuals computed now: GPU-hours from the chain's leave-one-family-out
    predictions of the whole published runs (planner.crossval, `llmplan calibrate --cv`), energy
    from the calibration table (planner.calibrate)."""
    try:
        tp = [math.log(r["reported"] / r["predicted"]) for r in cross_validated_runs()]
        _, energy = _published_log_residuals()
    except (ImportError, AttributeError, KeyError, ValueError, OSError) as exc:
        why = f"calibration unavailable ({exc.__class__.__name__})"
        return (Residuals(0.0, INTERIM_SIGMA_TP, 0, f"interim constant; {why}"),
                Residuals(0.0, INTERIM_SIGMA_ENERGY, 0, f"interim constant; {why}"))
    src = ("out-of-sample log residuals of GPU-hours: the chain's leave-one-family-out predictions of the "
           "published whole runs (planner.crossval)")
    return (summarise(tp, src, INTERIM_SIGMA_TP),
            summarise(energy, "log residuals of energy vs published runs", INTERIM_SIGMA_ENERGY))


def computed_step_residuals() -> Residuals:
    """Spread of steady-state throughput: the step-time model's leave-one-group-out log residuals
    over the throughput benchmark rows (planner.crossval)."""
    from planner.crossval import cross_validate_throughput, throughput_rows, _data_paths

    runs_csvs, bench = _data_paths()
    rows = cross_validate_throughput(throughput_rows(runs_csvs[0], bench))
    return summarise([math.log(r["reported"] / r["predicted"]) for r in rows],
                     "out-of-sample log residuals of steady-state tokens/s per GPU: the step-time model's "
                     "leave-one-group-out predictions of the throughput benchmarks (planner.crossval)", INTERIM_SIGMA_TP)


def cross_validated_runs() -> list[dict]:
    from planner.crossval import cross_validation_of_runs  # reads the presets' run tables

    return cross_validation_of_runs()


def residuals_yaml(residuals: tuple[Residuals, Residuals] | None = None) -> str:
    """The text of presets/calibration_residuals.yaml for `residuals` (default: computed now)."""
    import yaml

    tp, energy = residuals or computed_residuals()
    step = computed_step_residuals()
    body = {name: {"mu": r.mu, "sigma": r.sigma, "n": r.n, "source": r.source}
            for name, r in (("gpu_hours", tp), ("energy", energy), ("step_time", step))}
    return ("# Written by `llmplan calibrate --residuals presets/calibration_residuals.yaml` after any change to\n"
            "# the estimator, the MFU model or published_runs.csv; tests/planner/test_uncertainty.py checks it.\n"
            + yaml.safe_dump(body, sort_keys=False))


def _published_log_residuals() -> tuple[list[float], list[float]]:
    """ln(reported/predicted) of GPU-hours and energy over the kind=run published runs, from the planner's
    calibration table (planner.calibrate, the same numbers `llmplan calibrate` prints)."""
    rows = [r for r in _calibration_rows() if r["kind"] == "run"]
    tp = [_log_ratio(r.get("reported_gpu_hours"), r.get("predicted_gpu_hours")) for r in rows]
    energy = [_log_ratio(r.get("reported_energy_kwh"), r.get("predicted_energy_kwh")) for r in rows]
    return [x for x in tp if x is not None], [x for x in energy if x is not None]


def _calibration_rows() -> list[dict]:
    from planner.calibrate import calibration_table  # reads presets/published_runs.csv

    return calibration_table()


def published_run_predictions(names: tuple[str, ...] | None = None) -> list[dict]:
    """Calibration rows (planner.calibrate) with reported GPU-hours, each with the Goals that plan the
    same run from scratch (size, tokens, sequence length, GPU, GPU count when the source gives it)."""
    import presets

    runs = {row["name"]: row for row in presets_rows(presets.PUBLISHED_RUNS_CSV)}
    out = []
    for row in _calibration_rows():
        if row["kind"] != "run" or row.get("reported_gpu_hours") is None or (names and row["name"] not in names):
            continue
        out.append({**row, "goals": _goals_for_row(runs[row["name"]])})
    return out


def presets_rows(path) -> list[dict]:
    import csv

    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _goals_for_row(row: dict) -> Goals:
    return Goals(
        name="calibration", objective="fixed-size", target_params=float(row["params"]),
        target_tokens=float(row["tokens"]), seq_len=int(row["seq_len"]), gpu=row["gpu"],
        num_gpus=int(row["n_gpus"]) if row["n_gpus"] else None,
        pue=float(row["pue"]) if row["pue"] else 1.1,
    )


def _log_ratio(reported, predicted) -> float | None:
    try:
        reported, predicted = float(reported), float(predicted)
    except (TypeError, ValueError):
        return None
    if not (reported > 0 and predicted > 0) or math.isnan(reported) or math.isnan(predicted):
        return None
    return math.log(reported / predicted)


def lognormal_range(point: float, mu: float, sigma: float, method: str) -> Range:
    """p10/p50/p90 of point * e^(mu + sigma Z) for a standard normal Z."""
    return Range(
        p10=point * math.exp(mu - Z90 * sigma),
        p50=point * math.exp(mu),
        p90=point * math.exp(mu + Z90 * sigma),
        method=method,
    )


def failure_sigma(plan: RunPlan) -> float:
    """Log-space spread that the failure model adds (0 without a reliability section)."""
    if plan.reliability is None:
        return 0.0
    inputs = resolve_inputs(plan.estimate.num_gpus)
    return failure_overhead_sigma(plan.reliability, inputs.rate_p10_factor, inputs.rate_p90_factor)


def plan_ranges(plan: RunPlan, residuals: tuple[Residuals, Residuals] | None = None) -> dict[str, Range]:
    """p10-p90 ranges for gpu_hours, wallclock_days, cost_usd, total_cost_usd, energy_kwh,
    energy_cost_usd and co2_kg of `plan.estimate` (see the module docstring for the method)."""
    return estimate_ranges(plan.estimate, failure_sigma(plan), residuals)


def estimate_ranges(estimate: Estimate, s_fail: float = 0.0,
                    residuals: tuple[Residuals, Residuals] | None = None) -> dict[str, Range]:
    """The ranges of `plan_ranges` for an estimate alone (`llmplan estimate`): without a failure
    plan `s_fail` is 0 and only the throughput (and energy) model's spread counts."""
    tp, energy = residuals or calibration_residuals()
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


def step_time_range(step_time_s: float, residuals: Residuals | None = None) -> Range:
    """p10-p90 of a layout's steady-state step time from the step-time model's out-of-sample
    throughput residuals (`step_residuals`): time is the reciprocal of throughput, so its log
    error is the negative of the throughput's."""
    r = residuals or step_residuals()
    s = r.sigma * r.prediction_factor
    return Range(p10=step_time_s * math.exp(-r.mu - Z90 * s), p50=step_time_s * math.exp(-r.mu),
                 p90=step_time_s * math.exp(-r.mu + Z90 * s),
                 method=f"lognormal: step-time model residuals mu={r.mu:+.3f} sigma={r.sigma:.3f} (n={r.n}; {r.source}; "
                        f"x{r.prediction_factor:.3f} for a new layout)")
