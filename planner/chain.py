"""The layout-to-dollars chain: a run's GPU-hours from the chosen layout's steady-state step time
times named overheads. It gives the figures of every plan and of `llmplan estimate`
(planner.estimate.estimate_run calls it).

    end_to_end_mfu = step_mfu x operational_efficiency x evaluation x checkpoint_stalls x failures_and_restarts
    GPU-hours      = model FLOPs / (peak at the training precision x end_to_end_mfu) / 3600

- step_mfu: model FLOPs per second of the layout's step (planner.compute.step_time, coefficients fitted on
  the throughput benchmarks by planner.calibration.crossval) over the peak (planner.compute.precision);
- operational_efficiency: per GPU generation, fitted on whole published runs (planner.calibration.crossval);
- evaluation, checkpoint stalls, failures and restarts: planner.training.recipe defaults and Daly 2006.

planner.calibration.crossval measures it out of sample (`llmplan calibrate --cv`; the table is in
docs/planner.md): each prediction made with coefficients fitted without the run's own family.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.compute import throughput

from planner.cost import pricing

from planner.model import flops, sizing
from planner.compute.layout import search_layouts
from planner.training.recipe import choose_global_batch_size
from planner.resolve import ResolvedGoals
from planner.cost.risk import sizing_headroom
from planner.cost.reliability import plan_reliability
from planner.schema import Estimate, Goals, LayoutPlan, ModelShape, Overhead, ReliabilityPlan


def cost_per_gpu_hour(rg: ResolvedGoals, goals: Goals | None = None) -> float:
    """All-in dollars per GPU-hour (rental, or amortisation + electricity when owned)."""
    goals = goals or rg.goals
    return pricing.cost_per_gpu_hour_usd(
        goals.ownership, rg.price_per_gpu_hour_usd, rg.gpu_purchase_usd,
        goals.gpu_lifetime_years, rg.gpu.tdp_w, rg.power, goals.pue, goals.electricity_price_usd_per_kwh,
    )


def mfu_for(goals: Goals, rg: ResolvedGoals, num_params: float, num_gpus: int) -> float:
    """The sizing prior's end-to-end MFU (planner.compute.throughput.predict_mfu), or goals.mfu."""
    if goals.mfu is not None:
        return goals.mfu
    return throughput.predict_mfu(
        rg.mfu_model, rg.gpu, num_params=num_params, seq_length=goals.seq_len,
        num_gpus=num_gpus, precision=rg.precision,
    )


def prior_compute_flops(goals: Goals, rg: ResolvedGoals, gpu_hours: float, num_params: float) -> float:
    """Model FLOPs that `gpu_hours` buy for a model of about `num_params` at the sizing prior's MFU on
    the fleet the run would use (goals.num_gpus, or whole nodes finishing in the run length):
    C = GPU-hours x 3600 x peak x MFU."""
    num_gpus = goals.num_gpus or throughput.fleet_for_days(gpu_hours, rg.run_days, rg.gpus_per_node, rg.max_gpus)
    mfu = goals.mfu or throughput.predict_mfu(rg.mfu_model, rg.gpu, num_params=num_params,
                                              seq_length=goals.seq_len, num_gpus=num_gpus, precision=rg.precision)
    return gpu_hours * 3600 * throughput.peak_flops(rg.gpu, rg.precision) * mfu


def estimate_from_parts(goals, rg: ResolvedGoals, model, num_tokens, num_gpus, gpu_hours, mfu, unique_tokens,
                        recompute) -> Estimate:
    """The Estimate of a run of `gpu_hours` on `num_gpus` at end-to-end `mfu` (dollars, energy, CO2)."""
    days = throughput.wallclock_days_for(gpu_hours, num_gpus)
    if goals.ownership == "owned":
        cost_usd = pricing.owned_cost_usd(gpu_hours, rg.gpu_purchase_usd, goals.gpu_lifetime_years)
    else:
        cost_usd = pricing.rented_cost_usd(gpu_hours, rg.price_per_gpu_hour_usd)
    kwh = pricing.energy_kwh(gpu_hours, rg.gpu.tdp_w, rg.power, goals.pue)
    energy_usd = pricing.energy_cost_usd(kwh, goals.electricity_price_usd_per_kwh)
    fpt = flops.model_flops_per_token(model, goals.seq_len)
    return Estimate(
        gpu=rg.gpu.name,
        num_gpus=num_gpus,
        flops_per_token=fpt,
        model_flops=fpt * num_tokens,
        hardware_flops=flops.hardware_flops_per_token(model, recompute, goals.seq_len) * num_tokens,
        mfu=min(mfu, 1.0),
        tokens_per_s=throughput.tokens_per_s_for(num_tokens, gpu_hours, num_gpus),
        gpu_hours=gpu_hours,
        wallclock_days=days,
        cost_usd=cost_usd,
        energy_kwh=kwh,
        energy_cost_usd=energy_usd,
        co2_kg=pricing.co2_kg(kwh, rg.region.grid_kg_co2_per_kwh),
        total_cost_usd=pricing.total_cost_usd(cost_usd, energy_usd, goals.ownership),
        predicted_loss=sizing.predicted_loss(model.num_params, num_tokens, unique_tokens),
    )


@dataclass(frozen=True)
class Chain:
    """What one pass of the layout-to-dollars chain found (see `estimate_chain`)."""

    estimate: Estimate
    """GPU-hours, days, dollars, energy and CO2, with step_mfu, end_to_end_mfu and the overheads"""
    layout: LayoutPlan | None
    reliability: ReliabilityPlan | None
    global_batch_size: int


def _prior_fleet(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float) -> int:
    """GPUs finishing in the deadline (or the default run length) at the sizing prior's MFU."""
    total = flops.training_flops(model, num_tokens, goals.seq_len)
    days = rg.run_days
    num_gpus = rg.gpus_per_node
    for _ in range(3):
        hours = throughput.gpu_hours_for(total, rg.gpu, mfu_for(goals, rg, model.num_params, num_gpus), rg.precision)
        num_gpus = throughput.fleet_for_days(hours, days, rg.gpus_per_node, rg.max_gpus,
                                             round_up=goals.deadline_days is not None)
    return num_gpus


def estimate_chain(
    goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float, *,
    unique_tokens: float | None = None, global_batch_size: int | None = None,
    layout: LayoutPlan | None = None, space=None,
) -> Chain:
    """The plan's figures from one chain: layout -> steady-state step time -> named overheads ->
    GPU-hours, days, dollars, energy and CO2.

    - the layout: `layout`, or the fastest that fits (planner.compute.layout) on goals.num_gpus, or on the
      fleet that finishes within the deadline at goals.confidence (planner.cost.risk.sizing_headroom;
      the default run length without a deadline);
    - step_mfu: model FLOPs per second of that layout's steady-state step (planner.compute.step_time) over
      the peak at the training precision (planner.compute.precision);
    - overheads (`overheads` below): operational efficiency per GPU generation (fitted on
      whole published runs), evaluation, checkpoint stalls, failures and restarts (Daly 2006);
    - end_to_end_mfu = step_mfu x product of the overheads; GPU-hours = model FLOPs / (peak x it).
    With goals.mfu set, that MFU replaces the chain (no layout needed for the figures).
    """
    model = model if model.seq_length == goals.seq_len else model.model_copy(update={"seq_length": goals.seq_len})
    total = flops.training_flops(model, num_tokens, goals.seq_len)
    gbs = global_batch_size or choose_global_batch_size(total, num_tokens, goals.seq_len)
    num_gpus = layout.layout.num_gpus if layout is not None else goals.num_gpus or _prior_fleet(goals, rg, model, num_tokens)
    deadline_days = rg.run_days
    if goals.deadline_days:  # a deadline holds at goals.confidence, failures and model error included
        deadline_days /= sizing_headroom(goals.confidence, rg.residuals[0])
    for _ in range(4):
        chain = _chain_at(goals, rg, model, num_tokens, gbs, num_gpus, layout, space, unique_tokens)
        if (layout is not None or goals.num_gpus or goals.deadline_days is None
                or chain.estimate.wallclock_days <= deadline_days * 1.001):
            break
        bigger = throughput.fleet_for_days(chain.estimate.gpu_hours, deadline_days, rg.gpus_per_node, rg.max_gpus)
        if bigger <= num_gpus:
            break
        num_gpus = bigger
    return chain


def _search(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_gpus: int, gbs: int, space) -> LayoutPlan | None:
    """The fastest layout that fits (planner.compute.layout), remembered: sizing prices the same model on the
    same fleet several times (planner.derive's token fit), and the layout does not depend on tokens."""
    key = (model.model_dump_json(), rg.gpu.model_dump_json(), num_gpus, gbs, goals.seq_len, rg.gpus_per_node,
           rg.precision, space, rg.throughput.step_model)
    if key not in _LAYOUTS:
        if len(_LAYOUTS) > 256:
            _LAYOUTS.clear()
        _LAYOUTS[key] = search_layouts(model, rg.gpu, num_gpus, global_batch_size=gbs, seq_length=goals.seq_len,
                                       gpus_per_node=rg.gpus_per_node, precision=rg.precision, top_k=0,
                                       space=space, step_model=rg.throughput.step_model).best
    return _LAYOUTS[key]


_LAYOUTS: dict[tuple, LayoutPlan | None] = {}


def clear_layout_cache() -> None:
    """Forget the remembered layouts (benchmarks time a cold derivation with it)."""
    _LAYOUTS.clear()


def _chain_at(goals, rg, model, num_tokens, gbs, num_gpus, layout, space, unique_tokens) -> Chain:
    if layout is None:
        layout = _search(goals, rg, model, num_gpus, gbs, space)
    peak = throughput.peak_flops(rg.gpu, rg.precision)
    fpt = flops.model_flops_per_token(model, goals.seq_len)
    if layout is not None and rg.gpu.generation != "CPU":
        step_mfu, step_time_s = layout.mfu, layout.step_time_s
    else:  # nothing fits, or the CPU pseudo-device (no step-time calibration): the sizing prior's
        # end-to-end MFU stands in, less the operational efficiency the overheads add back
        eta = 1.0 if rg.gpu.generation == "CPU" else rg.throughput.operational_efficiency_for(rg.gpu)[0]
        step_mfu = min(0.9, mfu_for(goals, rg, model.num_params, num_gpus) / eta)
        step_time_s = gbs * goals.seq_len * fpt / (peak * step_mfu * num_gpus)
    steady_hours = num_tokens * fpt / (peak * step_mfu) / 3600.0 / num_gpus  # wall-clock
    found = overheads(goals, rg, model, num_tokens, gbs, num_gpus, steady_hours, step_time_s)
    if goals.mfu is not None:  # the user's end-to-end MFU replaces the chain
        e2e, items, step = goals.mfu, [], None
    else:
        e2e, items, step = step_mfu * math.prod(o.fraction for o in found.items), found.items, min(step_mfu, 1.0)
    gpu_hours = num_tokens * fpt / (peak * e2e) / 3600.0
    estimate = estimate_from_parts(goals, rg, model, num_tokens, num_gpus, gpu_hours, e2e, unique_tokens,
                                    layout.layout.recompute if layout is not None else "none")
    estimate = estimate.model_copy(update={"step_mfu": step, "end_to_end_mfu": min(e2e, 1.0) if step else None,
                                           "overheads": items, "step_time_s": step_time_s})
    return Chain(estimate, layout, found.reliability, gbs)


@dataclass(frozen=True)
class Overheads:
    items: list[Overhead]
    reliability: ReliabilityPlan | None


def overheads(goals: Goals, rg: ResolvedGoals, model: ModelShape, num_tokens: float, gbs: int, num_gpus: int,
              steady_hours: float, step_time_s: float) -> Overheads:
    """The named factors between steady state and a whole run, each a fraction of wall-clock time:

    - operational_efficiency: fitted per GPU generation on whole published runs (planner.calibration.calibrate);
    - evaluation: eval_iters forward-only batches (about 1/3 of a training step each, the backward
      pass being twice the forward; Narayanan et al. 2021 §5.1) every eval_interval_steps
      (planner.training.recipe's defaults);
    - checkpoint_stalls: tau / (tau + delta), the share of each checkpoint interval tau not spent
      writing a checkpoint of delta seconds (Daly 2006);
    - failures_and_restarts: the rest of Daly's goodput T_s / T_w (lost work, restart time R).
    """
    eta, eta_source = rg.throughput.operational_efficiency_for(rg.gpu)
    if rg.gpu.generation == "CPU":
        eta, eta_source = 1.0, "the CPU pseudo-device's MFU was measured end to end (presets/mfu_model.yaml)"
    steps = max(1, math.ceil(num_tokens / (gbs * goals.seq_len)))
    interval = max(1, min(1000, steps // 10))
    eval_fraction = 1.0 / (1.0 + EVAL_ITERS / 3.0 / interval)
    items = [
        Overhead(name="operational_efficiency", fraction=eta, source=eta_source),
        Overhead(name="evaluation", fraction=eval_fraction,
                 source=f"{EVAL_ITERS} forward-only batches every {interval} steps (planner.training.recipe defaults)"),
    ]
    train_hours = steady_hours / (eta * eval_fraction)
    reliability = None
    try:
        reliability = plan_reliability(
            rg.reliability, num_gpus, rg.gpu, model, train_hours, step_time_s, model.num_params, gpus_per_node=rg.gpus_per_node,
            price_per_gpu_hour_usd=goals.price_per_gpu_hour_usd, storage=goals.training.checkpoint_storage,
            failure_model=goals.training.failure_model, failures_per_gpu_hour=goals.training.failures_per_gpu_hour)
    except ValueError:  # a non-positive duration: no failure plan (PlanInputError, e.g. goodput < 1%, propagates)
        pass
    if reliability is not None:
        tau, delta = reliability.checkpoint_interval_s, reliability.checkpoint_write_s
        stall = tau / (tau + delta)
        items.append(Overhead(name="checkpoint_stalls", fraction=stall,
                              source=f"a {delta:,.0f} s checkpoint write every {tau:,.0f} s (Young 1974, Daly 2006)"))
        items.append(Overhead(name="failures_and_restarts", fraction=min(1.0, reliability.goodput / stall),
                              source=f"{reliability.expected_interruptions:,.1f} expected interruptions, "
                                     f"{reliability.restart_time_s:,.0f} s restarts (Daly 2006 eq. 37 and T_w)"))
    return Overheads(items, reliability)


EVAL_ITERS = 10
"""Validation batches per evaluation (planner.schema.recipe.Recipe.eval_iters default)."""
