"""Cost so far and a re-forecast of the total, against what the plan said.

GPU-hours so far = sum over every attempt of every stage of (end, or now, - start) x the devices the
stage holds (GPUs; CPU processes for a CPU-only plan). Dollars and energy so far use the plan's own
rates (estimate.cost_usd / estimate.gpu_hours and estimate.energy_kwh / estimate.gpu_hours), so the
comparison with the plan is like for like. The forecast takes the measured training throughput (the
median tokens_per_s of the last logged steps in metrics.jsonl) and extrapolates the remaining tokens
(plan.tokens.num_tokens minus the tokens trained so far, steps x recipe.global_batch_tokens):

    remaining_s = remaining_tokens / measured_tokens_per_s
    forecast_gpu_hours = gpu_hours_so_far + remaining_s / 3600 x train devices
    forecast_days = days elapsed since the first stage started + remaining_s / 86400

"at this pace: 41 days and $1.9M; the plan said 36 days and $1.7M". A warning names each budget
(goals.budget_usd, budget_gpu_hours, deadline_days) the forecast passes.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from executor.rundir import RunState, utc_now
from planner.schema import RunPlan
from planner.units import format_duration_days, format_usd

PACE_WINDOW_STEPS = 20


@dataclass(frozen=True)
class CostReport:
    gpu_hours_so_far: float
    cost_usd_so_far: float
    energy_kwh_so_far: float
    plan_gpu_hours: float
    plan_cost_usd: float
    plan_energy_kwh: float
    plan_days: float
    tokens_done: float
    tokens_total: float
    measured_tokens_per_s: float | None = None
    forecast_days: float | None = None
    forecast_gpu_hours: float | None = None
    forecast_cost_usd: float | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def progress(self) -> float:
        return min(1.0, self.tokens_done / self.tokens_total) if self.tokens_total else 0.0

    def summary(self) -> str:
        head = (f"so far: {self.gpu_hours_so_far:,.3g} GPU-hours, {money(self.cost_usd_so_far)}, "
                f"{self.energy_kwh_so_far:,.3g} kWh ({self.progress:.0%} of the tokens)")
        if self.forecast_days is None:
            pace = "no training throughput measured yet"
        else:
            pace = (f"at this pace: {duration(self.forecast_days)} and {money(self.forecast_cost_usd)}; "
                    f"the plan said {duration(self.plan_days)} and {money(self.plan_cost_usd)}")
        return "\n".join([head, pace, *(f"WARNING: {w}" for w in self.warnings)])


def money(usd: float | None) -> str:
    """The monitor's dollars (planner.units.format_usd): `$60.3k`, `$1.5M`, `$12.50`; `?` when unknown."""
    return format_usd(usd, decimals=1, missing="?")


def duration(days: float) -> str:
    """The monitor's durations (planner.units.format_duration_days): `2.5 days`, `31 days`, `3.0 hours`."""
    return format_duration_days(days, tenths=True)


def read_metrics(path: str | Path) -> list[dict]:
    """The JSON lines of metrics.jsonl; a torn last line (a writer mid-append) is skipped."""
    out = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict):
            out.append(record)
    return out


def gpu_hours_so_far(state: RunState, now: datetime | None = None) -> float:
    now = now or utc_now()
    total_s = 0.0
    for stage in state.stages.values():
        for attempt in stage.attempts:
            if attempt.started_at:
                end = attempt.ended_at or now
                total_s += max(0.0, (end - attempt.started_at).total_seconds()) * stage.num_devices
    return total_s / 3600


def measured_tokens_per_s(metrics: list[dict]) -> float | None:
    rates = [float(m["tokens_per_s"]) for m in metrics if isinstance(m.get("tokens_per_s"), int | float)
             and m["tokens_per_s"] > 0]
    return statistics.median(rates[-PACE_WINDOW_STEPS:]) if rates else None


def tokens_done(metrics: list[dict], plan: RunPlan) -> float:
    steps = [m["step"] for m in metrics if isinstance(m.get("step"), int)]
    return max(steps, default=0) * plan.recipe.global_batch_tokens


def cost_report(plan: RunPlan, state: RunState, now: datetime | None = None) -> CostReport:
    now = now or utc_now()
    est = plan.estimate
    usd_per_hour = est.cost_usd / est.gpu_hours
    kwh_per_hour = est.energy_kwh / est.gpu_hours
    used = gpu_hours_so_far(state, now)
    metrics = read_metrics(Path(state.run_dir) / "metrics.jsonl")
    done, total = tokens_done(metrics, plan), plan.tokens.num_tokens
    pace = measured_tokens_per_s(metrics)
    report = dict(
        gpu_hours_so_far=used, cost_usd_so_far=used * usd_per_hour, energy_kwh_so_far=used * kwh_per_hour,
        plan_gpu_hours=est.gpu_hours, plan_cost_usd=est.cost_usd, plan_energy_kwh=est.energy_kwh,
        plan_days=est.wallclock_days, tokens_done=done, tokens_total=total,
    )
    if pace is None:
        return CostReport(**report)
    remaining_s = max(0.0, total - done) / pace
    train_devices = state.stages["train"].num_devices if "train" in state.stages else est.num_gpus
    attempts = [a for s in state.stages.values() for a in s.attempts if a.started_at]
    # a run with every attempt ended stopped its clock at the last end, not at `now`
    last = max((a.ended_at for a in attempts), default=None) if all(a.ended_at for a in attempts) else now
    elapsed_days = (last - min(a.started_at for a in attempts)).total_seconds() / 86400 if attempts else 0.0
    forecast_hours = used + remaining_s / 3600 * train_devices
    forecast = CostReport(
        **report, measured_tokens_per_s=pace, forecast_days=elapsed_days + remaining_s / 86400,
        forecast_gpu_hours=forecast_hours, forecast_cost_usd=forecast_hours * usd_per_hour,
    )
    forecast.warnings.extend(budget_warnings(plan, forecast))
    return forecast


def budget_warnings(plan: RunPlan, report: CostReport) -> list[str]:
    goals, out = plan.goals, []
    if goals.budget_usd is not None and (report.forecast_cost_usd or 0) > goals.budget_usd:
        out.append(f"forecast cost {money(report.forecast_cost_usd)} passes goals.budget_usd "
                   f"{money(goals.budget_usd)}")
    if goals.budget_gpu_hours is not None and (report.forecast_gpu_hours or 0) > goals.budget_gpu_hours:
        out.append(f"forecast {report.forecast_gpu_hours:,.3g} GPU-hours passes goals.budget_gpu_hours "
                   f"{goals.budget_gpu_hours:,.3g}")
    if goals.deadline_days is not None and (report.forecast_days or 0) > goals.deadline_days:
        out.append(f"forecast {duration(report.forecast_days)} passes goals.deadline_days "
                   f"{goals.deadline_days:g}")
    return out
