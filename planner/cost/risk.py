"""Plans that hold at the edges: quantiles of days and dollars, budget use, hints and feasibility.

- Quantiles: the p10-p90 ranges of planner.cost.uncertainty are lognormal (throughput residuals, whose
  published GPU-hours include each run's restarts, plus the failure model's spread), so the q-th
  quantile is p50·(p90/p50)^(z_q/z_0.9) with z_0.8 = 0.8416, z_0.9 = 1.2816.
- Risk-aware sizing (goals.confidence): a plan sized from a budget or a deadline has its GPU-hour cap
  divided by `sizing_headroom` = e^(mu + z_q·sigma) of the calibrated throughput residuals
  (planner.cost.uncertainty), the quantile over the point estimate of GPU-hours, days and dollars. The
  published whole-run GPU-hours include their restarts, so mu carries the average failure overhead;
  the failure-rate variance (a further ~0.2% at p80) shows in budget_use and the warnings, which
  therefore allow WARN_TOLERANCE. The same factor sizes derive_plan and the sweeps' fast path.
- Warnings when the p80 of days, dollars or GPU-hours exceeds a goal; hints when the plan uses
  under half the budget or the deadline, naming what would use it.
- Feasibility: a plan without a layout that fits, one that runs longer than MAX_SANE_DAYS, or one
  whose Megatron arguments cannot be rendered cannot run: PlanInputError (exit 2) saying what
  would fit, unless goals.allow_infeasible, which keeps the plan with RunPlan.infeasible set.
"""

from __future__ import annotations

import math

from planner.model import sizing
from planner.errors import PlanInputError
from planner.training.megatron_args import megatron_argv
from planner.compute.memory import state_bytes_per_parameter
from planner.schema import BudgetUse, GpuSpec, Range, RunPlan
from planner.cost.uncertainty import Residuals
from planner.units import format_count

Z = {"p50": 0.0, "p80": 0.8416212335729143, "p90": 1.2815515655446004}
"""Standard normal quantiles."""
MAX_SANE_DAYS = 365.0
"""Longest wall-clock the planner accepts: published pretraining runs take weeks to a few months
(OPT-175B ~2 months, Zhang et al. 2022; BLOOM ~3.5 months, Le Scao et al. 2022); a plan past a
year is a mistake in its goals, not a run anyone would start."""
USE_HINT_FRACTION = 0.5
WARN_TOLERANCE = 0.01
"""A p80 within 1% of a goal is not warned about: sizing at p80 leaves the failure-rate variance out."""


def quantile(r: Range, confidence: str) -> float:
    """The lognormal quantile between p50 and p90 of a range (see the module docstring)."""
    if r.p50 <= 0 or r.p90 <= 0:
        return r.p50
    return r.p50 * (r.p90 / r.p50) ** (Z[confidence] / Z["p90"])


def _q(plan: RunPlan, name: str, point: float, confidence: str) -> float:
    r = plan.ranges.get(name)
    return point if r is None else quantile(r, confidence)


def sizing_headroom(confidence: str, tp: Residuals) -> float:
    """How much a budget or deadline must shrink so that it holds at `confidence` (>= 1): e^(mu + z_q·sigma)
    of the throughput residuals `tp` (planner.cost.uncertainty.residuals_of), sigma widened for a new run
    as planner.cost.uncertainty does."""
    return max(1.0, math.exp(tp.mu + Z[confidence] * tp.sigma * tp.prediction_factor))


def budget_use(plan: RunPlan, useful_compute_flops: float | None) -> BudgetUse:
    g, e, conf = plan.goals, plan.estimate, plan.goals.confidence
    cost_q = _q(plan, "total_cost_usd", e.total_cost_usd, conf)
    useful_usd = None
    if useful_compute_flops is not None:
        useful_usd = cost_q * min(1.0, useful_compute_flops / e.model_flops)  # at the same quantile
    return BudgetUse(
        confidence=conf, budget_usd=g.budget_usd, cost_usd_at_confidence=cost_q,
        unspent_usd=None if g.budget_usd is None else g.budget_usd - cost_q,
        useful_compute_usd=useful_usd, deadline_days=g.deadline_days,
        days_at_confidence=_q(plan, "wallclock_days", e.wallclock_days, conf),
    )


def risk_warnings(plan: RunPlan) -> list[str]:
    """A warning for each goal the p80 of days, dollars or GPU-hours exceeds."""
    g, e, out = plan.goals, plan.estimate, []
    checks = (("deadline_days", g.deadline_days, "wallclock_days", e.wallclock_days, "days"),
              ("budget_usd", g.budget_usd, "total_cost_usd", e.total_cost_usd, "USD"),
              ("budget_gpu_hours", g.budget_gpu_hours, "gpu_hours", e.gpu_hours, "GPU-hours"))
    for field, goal, name, point, unit in checks:
        p80 = _q(plan, name, point, "p80")
        if goal is not None and p80 > goal * (1 + WARN_TOLERANCE):
            out.append(f"p80 of {name} ({p80:,.4g} {unit}, failures included) exceeds {field} ({goal:,.4g}): one run in "
                       f"five would miss it; lower the goals or raise {field} (the point estimate is {point:,.4g})")
    return out


def use_hints(plan: RunPlan, use: BudgetUse) -> list[str]:
    """Hints when the plan uses under half the budget or the deadline: why, and what would use it."""
    g, e, hints = plan.goals, plan.estimate, []
    conf = use.confidence
    if g.budget_usd is not None and use.useful_compute_usd is not None and use.unspent_usd > 0:
        hints.append(f"the data supports about ${use.useful_compute_usd:,.0f} of compute usefully "
                         f"({sizing.MAX_USEFUL_EPOCHS} epochs of unique_tokens_available); ${use.unspent_usd:,.0f} of "
                         f"budget_usd is left: more unique data would use it")
    elif g.budget_usd is not None and use.cost_usd_at_confidence < USE_HINT_FRACTION * g.budget_usd:
        share = use.cost_usd_at_confidence / g.budget_usd
        full = e.model_flops * g.budget_usd / use.cost_usd_at_confidence
        n_opt, d_opt = sizing.compute_optimal(full)
        why = f"{plan.binding_constraint} sets the size" if (g.target_params or g.target_tokens) else \
            f"objective {g.objective} sets the size"
        hints.append(f"the plan uses {share:.0%} of budget_usd (${use.cost_usd_at_confidence:,.0f} at {conf} of "
                     f"${g.budget_usd:,.0f}; ${use.unspent_usd:,.0f} left) because {why}; objective "
                     f"compute-optimal without target_params would spend it on about {format_count(n_opt)} parameters "
                     f"and {format_count(d_opt)} tokens")
    if g.deadline_days is not None and use.days_at_confidence < USE_HINT_FRACTION * g.deadline_days:
        more = e.model_flops / e.flops_per_token * g.deadline_days / use.days_at_confidence
        hints.append(f"the run takes {use.days_at_confidence:.3g} days at {conf}, {use.days_at_confidence / g.deadline_days:.0%} "
                     f"of deadline_days ({g.deadline_days:g}); the same {e.num_gpus:,} GPUs could train about "
                     f"{format_count(more)} tokens by the deadline (objective fixed-size), or about half as many GPUs would finish in time")
    return hints


def gpus_for_states(num_params: float, precision: str, memory_bytes: float, num_gpus: int, per_node: int) -> int:
    """GPUs whose memory (less 10%) holds the weights, gradients and sharded optimizer states alone
    (planner.compute.memory.state_bytes_per_parameter with the distributed optimizer): a lower bound."""
    per_param = sum(state_bytes_per_parameter(precision, 1, num_gpus))
    need = num_params * per_param / (0.9 * memory_bytes)
    return max(per_node, per_node * math.ceil(need / per_node))


def _gpus_for_states(plan: RunPlan, gpu: GpuSpec) -> int:
    return gpus_for_states(plan.model.num_params, plan.recipe.precision, gpu.memory_bytes, plan.estimate.num_gpus,
                           plan.goals.gpus_per_node)


def estimate_problems(num_params: float, estimate, memory_bytes: float, precision: str, per_node: int) -> list[str]:
    """The cheap part of feasibility_problems, for the sweeps' fast path (no layout search): a run past
    MAX_SANE_DAYS, or model states that the whole fleet's memory cannot hold."""
    out, e = [], estimate
    if e.wallclock_days > MAX_SANE_DAYS:
        out.append(f"estimate.wallclock_days: {e.wallclock_days:,.0f} days is past {MAX_SANE_DAYS:g} (planner.cost.risk.MAX_SANE_DAYS); "
                   f"finishing within it needs about {math.ceil(e.num_gpus * e.wallclock_days / MAX_SANE_DAYS):,} GPUs")
    need = gpus_for_states(num_params, precision, memory_bytes, e.num_gpus, per_node)
    if need > e.num_gpus:
        out.append(f"layout: the model states alone need at least {need:,} x {e.gpu} (the plan has {e.num_gpus:,})")
    return out


def feasibility_problems(plan: RunPlan, gpu: GpuSpec) -> list[str]:
    """Why a plan cannot run as planned, each with what would fit (empty when it can)."""
    e, out = plan.estimate, []
    if plan.layout is None:
        why = next((w for w in plan.warnings if w.startswith("no parallel layout fits")), "no parallel layout fits")
        out.append(f"layout: {why}; the model states alone need at least {_gpus_for_states(plan, gpu):,} x {e.gpu} "
                   f"(the plan has {e.num_gpus:,})")
    if e.wallclock_days > MAX_SANE_DAYS:
        gpus = math.ceil(e.num_gpus * e.wallclock_days / MAX_SANE_DAYS)
        tokens = plan.tokens.num_tokens * MAX_SANE_DAYS / e.wallclock_days
        out.append(f"estimate.wallclock_days: {e.wallclock_days:,.0f} days is past {MAX_SANE_DAYS:g} "
                   f"(planner.cost.risk.MAX_SANE_DAYS); finishing within it needs about {gpus:,} GPUs, or at most "
                   f"{format_count(tokens)} tokens on {e.num_gpus:,}")
    if plan.layout is not None:
        try:
            megatron_argv(plan)
        except Exception as exc:  # noqa: BLE001 - any failure means the plan cannot be exported
            out.append(f"megatron arguments: cannot be rendered ({exc.__class__.__name__}: {exc})")
    return out


def check_feasible(plan: RunPlan, gpu: GpuSpec) -> RunPlan:
    """The plan (on `gpu`, its GPU preset), marked infeasible when goals.allow_infeasible; else
    PlanInputError listing why."""
    problems = feasibility_problems(plan, gpu)
    if not problems:
        return plan
    if not plan.goals.allow_infeasible:
        raise PlanInputError("the plan cannot run as planned", [
            *problems, "goals.allow_infeasible (plan --allow-infeasible) keeps it for exploration, marked infeasible"])
    marked = [f"INFEASIBLE: {p}" for p in problems]
    return plan.model_copy(update={"infeasible": problems, "warnings": [*marked, *plan.warnings]})


def finish_plan(plan: RunPlan, useful_compute_flops: float | None, gpu: GpuSpec) -> RunPlan:
    """Budget use, risk warnings, hints and the feasibility check (the last step of derive_plan)."""
    use = budget_use(plan, useful_compute_flops)
    plan = plan.model_copy(update={"budget_use": use, "warnings": [*plan.warnings, *risk_warnings(plan)],
                                   "hints": use_hints(plan, use)})
    return check_feasible(plan, gpu)
