"""Plan a scaling-law ladder below a target run: sizes, token ratios, shapes, cost (issue 17).

What teams that fit their own law do (Hoffmann et al. 2022 §3.3: models of 70M-16B at several token
counts each; Llama 3 report §3.2.1: compute-optimal runs from 6e18 to 1e22 FLOPs before choosing
405B; OLMo-core's model ladder): train small models of the same family on the same data, fit
L(N, D), then size the big run from that law. This module plans such a ladder:

- sizes: `num_sizes` parameter counts log-uniform over `span_decades` (about 1.5-2 decades), the
  largest as big as the compute budget allows, q_i = 10^(−span·(k−1−i)/(k−1)) · N_max;
- ratios: every size at each tokens-per-parameter ratio (default 10, 20, 40 around Chinchilla's
  20), so D varies at fixed N and the D term is identified (planner.model.scaling_fit.design_problems);
- budget: Σ model FLOPs of the rungs ≤ budget_fraction × the target's model FLOPs (default 2%).
  With C ≈ 6·N·D = 6·r·N², N_max = sqrt(f·C_target / (6·Σ_j r_j·Σ_i q_i²)), refined on the exact
  FLOPs of the derived shapes (planner.model.flops includes attention, which weighs more at small sizes);
- shapes: planner.model.architecture.derive_shape, the big run's shape rules; batch, layout, recipe and
  GPU-hours/dollars/days per rung from the same derive path as any plan (planner.derive.assemble_plan,
  which calls planner.estimate.estimate_run);
- holdout (optional): one larger rung (one size step up, at the geometric mean of the ratios), not
  used in the fit, to check the law's prediction.
"""

from __future__ import annotations

import math

from planner.model import architecture, sizing
from planner.derive import assemble_plan
from planner.errors import PlanInputError
from planner.resolve import resolve
from planner.io import canonical_sha256
from planner.schema import SCHEMA_VERSION, Assumption, Goals, RunPlan
from planner.schema.catalog import Catalog
from planner.schema.ladder import LadderPlan, LadderRung, LadderTarget, LadderTotals

DEFAULT_NUM_SIZES = 5
DEFAULT_RATIOS = (10.0, 20.0, 40.0)
DEFAULT_SPAN_DECADES = 1.75
DEFAULT_BUDGET_FRACTION = 0.02
CPU_PIN_REASON = ("CPU rungs: megatron-core's local layer spec has no sequence-parallel norm "
                  "(executor/train/cpu_compat.py), so the layout search keeps sequence_parallel off")
MAX_SIZE_FRACTION = 0.3
"""The largest fitted rung is at most this share of the target's parameters (a ladder, not a rehearsal)."""


def relative_sizes(num_sizes: int, span_decades: float) -> list[float]:
    """q_i = 10^(−span·(k−1−i)/(k−1)), smallest first; the largest is 1."""
    if num_sizes == 1:
        return [1.0]
    return [10 ** (-span_decades * (num_sizes - 1 - i) / (num_sizes - 1)) for i in range(num_sizes)]


def holdout_ratio(ratios) -> float:
    """The held-out rung's tokens per parameter: the geometric mean of the ladder's ratios (20 for 10, 20, 40)."""
    return float(f"{math.exp(sum(math.log(r) for r in ratios) / len(ratios)):.3g}")


def rung_goals(goals: Goals, name: str, num_params: float, num_tokens: float) -> Goals:
    """The goals of one rung: the target's data, hardware and prices; its own size and tokens."""
    return goals.model_copy(update={"name": name, "objective": "fixed-size", "target_params": num_params,
                                    "target_tokens": num_tokens, "unique_tokens_available": goals.unique_tokens_available})


def base_goals(plan: RunPlan) -> Goals:
    """The target's goals without what only the big run has: budget, deadline, size, a multi-node fleet."""
    g = plan.goals
    keep_gpus = g.num_gpus if g.num_gpus is not None and g.num_gpus <= g.gpus_per_node else None
    data = g.model_dump(exclude={"budget_usd", "budget_gpu_hours", "deadline_days", "target_params",
                                 "target_tokens", "num_gpus"}, exclude_unset=True)
    if keep_gpus is not None:
        data["num_gpus"] = keep_gpus
    return Goals.model_validate(data)


def rung_plan(ladder: LadderPlan, rung: LadderRung, catalog: Catalog) -> RunPlan:
    """The full RunPlan of one rung (what the executor trains), derived again from the ladder."""
    goals = rung_goals(ladder.goals, rung.name, rung.num_params, rung.num_tokens)
    plan = assemble_plan(goals, resolve(goals, catalog), rung.model, rung.num_tokens, f"ladder {ladder.name} rung {rung.name}",
                         ladder.pins)
    if plan.recipe.train_steps != rung.train_steps or plan.model.num_params != rung.num_params:
        raise PlanInputError(f"ladder rung {rung.name} no longer derives the same run", [
            f"rungs[{rung.name}].train_steps: {rung.train_steps} in the ladder, {plan.recipe.train_steps} now",
            "re-plan the ladder with `llmplan ladder plan` (presets or llmplan changed since)"])
    return plan


SIZE_NUDGES = (1.0, 0.97, 1.03, 0.94, 1.06, 0.91, 1.09, 0.88, 1.12, 0.85, 1.15)
"""Small models have few shapes (derive_shape lands within 2%): a rung takes the nearest size within ±15%."""


def _shape(goals: Goals, name: str, num_params: float):
    for nudge in SIZE_NUDGES:
        try:
            return architecture.derive_shape(num_params * nudge, vocab_size=goals.vocab_size, seq_length=goals.seq_len)
        except ValueError as exc:
            error = exc
    raise PlanInputError("no model shape for a ladder rung", [
        f"rung {name} ({num_params:,.0f} parameters, ±15%): {error}",
        "raise --budget-fraction, lower --span-decades or use fewer --ratios"])


def _rung(catalog: Catalog, goals: Goals, name: str, role: str, num_params: float, ratio: float, pins) -> LadderRung:
    shape = _shape(goals, name, num_params)
    tokens = ratio * shape.num_params
    rgoals = rung_goals(goals, name, shape.num_params, tokens)
    plan = assemble_plan(rgoals, resolve(rgoals, catalog), shape, tokens, f"ladder rung {name}", pins)
    e = plan.estimate
    return LadderRung(
        name=name, role=role, num_params=shape.num_params, num_tokens=tokens, tokens_per_param=ratio, model=shape,
        global_batch_size=plan.recipe.global_batch_size, train_steps=plan.recipe.train_steps, num_gpus=e.num_gpus,
        layout=plan.layout.layout if plan.layout else None, model_flops=e.model_flops, gpu_hours=e.gpu_hours,
        cost_usd=e.total_cost_usd, wallclock_days=e.wallclock_days,
        reference_loss=sizing.predicted_loss(shape.num_params, tokens, goals.unique_tokens_available),
    )


def _rungs(catalog: Catalog, goals: Goals, n_max: float, num_sizes: int, ratios, span: float, holdout: bool, pins) -> list[LadderRung]:
    rungs = []
    for i, q in enumerate(relative_sizes(num_sizes, span)):
        for r in ratios:
            rungs.append(_rung(catalog, goals, f"s{i + 1}-r{r:g}", "fit", q * n_max, r, pins))
    if holdout:
        step, ratio = 10 ** (span / max(1, num_sizes - 1)), holdout_ratio(ratios)
        rungs.append(_rung(catalog, goals, f"holdout-r{ratio:g}", "holdout", n_max * step, ratio, pins))
    return rungs


def plan_ladder(plan: RunPlan, catalog: Catalog, *, num_sizes: int = DEFAULT_NUM_SIZES, ratios=DEFAULT_RATIOS,
                span_decades: float = DEFAULT_SPAN_DECADES, budget_fraction: float = DEFAULT_BUDGET_FRACTION,
                holdout: bool = False, pins: dict | None = None, name: str | None = None) -> LadderPlan:
    """The ladder for `plan` (see the module docstring); PlanInputError when no ladder fits the budget."""
    _check_inputs(num_sizes, ratios, span_decades, budget_fraction)
    goals = base_goals(plan)
    if plan.estimate.gpu.strip().upper() == "CPU" and "sequence_parallel" not in (pins or {}).get("layout", {}):
        pins = {**(pins or {}), "layout": {**(pins or {}).get("layout", {}), "sequence_parallel": False},
                "reason": (pins or {}).get("reason", CPU_PIN_REASON)}
    target_flops = plan.estimate.model_flops
    q = relative_sizes(num_sizes, span_decades)
    weight = sum(ratios) * sum(x * x for x in q)
    if holdout:
        weight += holdout_ratio(ratios) * 10 ** (2 * span_decades / max(1, num_sizes - 1))
    n_max = math.sqrt(budget_fraction * target_flops / (6.0 * weight))
    cap = MAX_SIZE_FRACTION * plan.model.num_params
    capped = n_max > cap
    n_max = min(n_max, cap)
    for _ in range(6):  # refine on the derived shapes' exact FLOPs (attention, discrete widths)
        rungs = _rungs(catalog, goals, n_max, num_sizes, ratios, span_decades, holdout, pins)
        total = sum(r.model_flops for r in rungs)
        if total <= budget_fraction * target_flops * 1.0001:
            break
        n_max *= 0.98 * math.sqrt(budget_fraction * target_flops / total)
    else:
        raise PlanInputError("no ladder fits the budget", [
            f"budget_fraction: {budget_fraction:g} of {target_flops:.3g} FLOPs; the smallest ladder tried needs "
            f"{total:.3g}", "raise --budget-fraction or use fewer sizes or ratios"])
    stuck = [r for r in rungs if r.layout is None]
    if stuck:  # a ladder is run, not only priced: every rung needs a layout its GPUs can train it with
        raise PlanInputError("no parallel layout runs a ladder rung", [
            f"rung {r.name}: {r.model.num_params:,} parameters ({r.model.num_attention_heads} attention heads), "
            f"global batch {r.global_batch_size} on {r.num_gpus} x {plan.estimate.gpu}" for r in stuck] + [
            "raise --ratios or --budget-fraction (larger rungs and batches), or lower --span-decades"])
    return _assemble(plan, goals, rungs, ratios, span_decades, budget_fraction, capped, pins, name)


def _check_inputs(num_sizes: int, ratios, span: float, fraction: float) -> None:
    lines = []
    if num_sizes < 1 or num_sizes > 20:
        lines.append(f"--rungs: {num_sizes}; give 1 to 20 model sizes (the fit needs at least 3)")
    if not ratios or any(r <= 0 for r in ratios) or len(set(ratios)) != len(ratios):
        lines.append(f"--ratios: {list(ratios)}; give distinct positive tokens-per-parameter ratios such as 10,20,40")
    if not 0.5 <= span <= 3.0:
        lines.append(f"--span-decades: {span:g}; give 0.5 to 3 (the issue asks for about 1.5-2)")
    if not 0 < fraction <= 1:
        lines.append(f"--budget-fraction: {fraction:g}; give a fraction of the target's compute in (0, 1]")
    if lines:
        raise PlanInputError("cannot plan this ladder", lines)


def _assemble(plan: RunPlan, goals: Goals, rungs, ratios, span, fraction, capped, pins, name) -> LadderPlan:
    e = plan.estimate
    totals = LadderTotals(
        model_flops=sum(r.model_flops for r in rungs), gpu_hours=sum(r.gpu_hours for r in rungs),
        cost_usd=sum(r.cost_usd for r in rungs), wallclock_days_serial=sum(r.wallclock_days for r in rungs),
        compute_fraction=sum(r.model_flops for r in rungs) / e.model_flops,
        cost_fraction=sum(r.cost_usd for r in rungs) / e.total_cost_usd if e.total_cost_usd > 0 else 0.0,
    )
    fit = [r for r in rungs if r.role == "fit"]
    span_real = math.log10(max(r.num_params for r in fit) / min(r.num_params for r in fit))
    warnings = []
    if capped:
        warnings.append(f"the budget would allow rungs above {MAX_SIZE_FRACTION:.0%} of the target's size; "
                        "the largest rung is capped there (the ladder spends less than its budget)")
    if len({r.num_params for r in fit}) < 3 or len(ratios) < 2:
        warnings.append("fewer than 3 sizes or a single ratio: the fit will not identify every term of L(N, D)")
    notes = [
        ("ladder_sizes", f"{len({r.num_params for r in fit})} sizes log-uniform over {span_real:.2f} decades",
         "planner.ladder.relative_sizes", "rung sizes"),
        ("ladder_ratios", ", ".join(f"{r:g}" for r in ratios), "Hoffmann et al. 2022 §3.3 (several D per N)",
         "rung tokens"),
        ("ladder_budget_fraction", fraction, "planner.ladder default 2% of the target's model FLOPs", "largest rung"),
        ("ladder_shapes", "planner.model.architecture.derive_shape", "the target's shape rules", "rung shapes"),
        ("ladder_cost", "planner.estimate.estimate_run", "same presets as the target plan", "rung GPU-hours, $"),
    ]
    return LadderPlan(
        schema_version=SCHEMA_VERSION, name=name or f"{plan.name}-ladder",
        description=f"scaling-law ladder for {plan.name} ({plan.model.num_params:,} parameters)",
        target=LadderTarget(name=plan.name, num_params=plan.model.num_params, num_tokens=plan.tokens.num_tokens,
                            model_flops=e.model_flops, gpu_hours=e.gpu_hours, cost_usd=e.total_cost_usd,
                            wallclock_days=e.wallclock_days, plan_sha256=canonical_sha256(plan)),
        goals=goals, span_decades=round(span, 6), ratios=list(ratios), budget_fraction=fraction, pins=pins,
        rungs=rungs, totals=totals, warnings=warnings,
        assumptions=[Assumption(name=n, value=v, source=s, used_for=u) for n, v, s, u in notes],
    )
