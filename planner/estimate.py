"""Compute, time, dollars, energy and CO2 of training a given shape on a given number of tokens.

One function, `estimate_run`, used by `llmplan estimate`, by derive_plan and by calibrate, so the
three can never disagree. Presets and defaults are resolved by the caller (planner.resolve.resolve).
"""

from __future__ import annotations

from planner.chain import estimate_chain
from planner.resolve import ResolvedGoals
from planner.schema import Assumption, Estimate, ModelShape


def estimate_run(
    rg: ResolvedGoals, model: ModelShape, num_tokens: float, *,
    unique_tokens: float | None = None, global_batch_size: int | None = None, layout=None,
) -> Estimate:
    """The Estimate section of a plan for `model` trained on `num_tokens`: the chain of
    planner.chain.estimate_chain (the layout's step time, then the named overheads); `layout` and
    `global_batch_size` fix what the chain would choose."""
    return estimate_chain(rg.goals, rg, model, num_tokens, unique_tokens=unique_tokens,
                          global_batch_size=global_batch_size, layout=layout).estimate


def estimate_assumptions(rg: ResolvedGoals, est: Estimate) -> list[Assumption]:
    """The assumptions behind an Estimate, in the order a plan lists them: the resolved GPU and
    precision, the MFU and its overheads, the GPU count, then prices, power and the grid."""
    goals = rg.goals
    mfu_src = ("goals.mfu" if goals.mfu is not None else
               "planner.chain: step_mfu of the layout's step time x the overheads")
    out = [rg.assumption("gpu"), rg.assumption("precision"), rg.assumption("peak_flops"),
           Assumption(name="mfu", value=round(est.mfu, 4), unit="fraction", source=mfu_src,
                      used_for="GPU-hours = model FLOPs / (peak x MFU) / 3600")]
    if est.step_mfu is not None:
        out.append(Assumption(
            name="step_mfu", value=round(est.step_mfu, 4), unit="fraction",
            source="planner.compute.step_time of the chosen layout, kernel and fp8 efficiencies fitted on the throughput "
                   "benchmarks (presets/mfu_model.yaml step_model; `llmplan calibrate --cv`)", used_for="end_to_end_mfu"))
    out += [Assumption(name=f"overhead.{o.name}", value=round(o.fraction, 4), unit="fraction", source=o.source,
                       used_for="end_to_end_mfu") for o in est.overheads]
    out.append(Assumption(
        name="num_gpus", value=est.num_gpus, unit="GPUs",
        source="goals.num_gpus" if goals.num_gpus else
        f"derived: whole nodes of {rg.gpus_per_node} finishing in {rg.run_days:g} days ({rg.run_days_source})",
        used_for="wall-clock days, MFU scale factor"))
    names = (("gpu_purchase_usd", "gpu_lifetime_years") if goals.ownership == "owned" else ("price_per_gpu_hour_usd",))
    names += ("gpu_power_utilisation", "node_overhead_fraction", "pue", "electricity_price_usd_per_kwh", "grid_kg_co2_per_kwh")
    return out + [rg.assumption(name) for name in names]
