"""Compute, time, dollars, energy and CO2 of training a given shape on a given number of tokens.

One function, `estimate_run`, used by `llmplan estimate`, by derive_plan and by calibrate, so the
three can never disagree. Presets are resolved by the caller (`resolve_context`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from planner import cost, flops, sizing, throughput
from planner.schema import Assumption, Estimate, Goals, GpuSpec, ModelShape, RegionSpec


@dataclass
class Context:
    """The presets a plan draws on, resolved once from the goals."""

    gpu: GpuSpec
    region: RegionSpec
    mfu_model: throughput.MfuModel
    """the sizing prior (planner.throughput.predict_mfu)"""
    throughput: throughput.ThroughputModel
    power: cost.PowerModel
    energy_sources: dict[str, str]
    default_run_days: float
    max_gpus: int
    precision: str
    gpus_per_node: int
    """goals.gpus_per_node when the goals set it, else the GPU preset's node size"""
    assumptions: list[Assumption] = field(default_factory=list)

    def note(self, name: str, value, unit: str, source: str, used_for: str = "") -> None:
        self.assumptions = [a for a in self.assumptions if a.name != name]
        self.assumptions.append(Assumption(name=name, value=value, unit=unit, source=source, used_for=used_for))


def resolve_context(goals: Goals) -> Context:
    """GPU, region, MFU model and energy defaults for the goals (PlanInputError on unknown names)."""
    import presets

    gpu = presets.find_gpu(goals.gpu)
    region = presets.find_region(goals.region)
    energy = presets.load_energy_defaults()
    mfu_preset = presets.load_mfu_model()
    return Context(
        gpu=gpu,
        region=region,
        mfu_model=throughput.MfuModel.from_preset(mfu_preset),
        throughput=throughput.ThroughputModel.from_preset(mfu_preset),
        power=cost.PowerModel(
            gpu_power_utilisation=energy["gpu_power_utilisation"]["value"],
            node_overhead_fraction=energy["node_overhead_fraction"]["value"],
        ),
        energy_sources={k: v["source"] for k, v in energy.items()},
        default_run_days=float(energy["default_run_days"]["value"]),
        max_gpus=int(energy["max_gpus"]["value"]),
        precision=throughput.default_precision(gpu),
        gpus_per_node=goals.gpus_per_node if "gpus_per_node" in goals.model_fields_set else gpu.gpus_per_node,
    )


def price_per_gpu_hour(goals: Goals, ctx: Context) -> float:
    return goals.price_per_gpu_hour_usd if goals.price_per_gpu_hour_usd is not None else ctx.gpu.price_per_hour_usd


def purchase_per_gpu(goals: Goals, ctx: Context) -> float:
    return goals.gpu_purchase_usd if goals.gpu_purchase_usd is not None else ctx.gpu.purchase_usd


def cost_per_gpu_hour(goals: Goals, ctx: Context) -> float:
    """All-in dollars per GPU-hour (rental, or amortisation + electricity when owned)."""
    return cost.cost_per_gpu_hour_usd(
        goals.ownership, price_per_gpu_hour(goals, ctx), purchase_per_gpu(goals, ctx),
        goals.gpu_lifetime_years, ctx.gpu.tdp_w, ctx.power, goals.pue, goals.electricity_price_usd_per_kwh,
    )


def mfu_for(goals: Goals, ctx: Context, num_params: float, num_gpus: int) -> float:
    """The sizing prior's end-to-end MFU (planner.throughput.predict_mfu), or goals.mfu."""
    if goals.mfu is not None:
        return goals.mfu
    return throughput.predict_mfu(
        ctx.mfu_model, ctx.gpu, num_params=num_params, seq_length=goals.seq_len,
        num_gpus=num_gpus, precision=ctx.precision,
    )


def _estimate_from_parts(goals, ctx, model, num_tokens, num_gpus, gpu_hours, mfu, unique_tokens, recompute) -> Estimate:
    """The Estimate of a run of `gpu_hours` on `num_gpus` at end-to-end `mfu` (dollars, energy, CO2)."""
    days = throughput.wallclock_days_for(gpu_hours, num_gpus)
    if goals.ownership == "owned":
        cost_usd = cost.owned_cost_usd(gpu_hours, purchase_per_gpu(goals, ctx), goals.gpu_lifetime_years)
    else:
        cost_usd = cost.rented_cost_usd(gpu_hours, price_per_gpu_hour(goals, ctx))
    kwh = cost.energy_kwh(gpu_hours, ctx.gpu.tdp_w, ctx.power, goals.pue)
    energy_usd = cost.energy_cost_usd(kwh, goals.electricity_price_usd_per_kwh)
    fpt = flops.model_flops_per_token(model, goals.seq_len)
    return Estimate(
        gpu=ctx.gpu.name,
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
        co2_kg=cost.co2_kg(kwh, ctx.region.grid_kg_co2_per_kwh),
        total_cost_usd=cost.total_cost_usd(cost_usd, energy_usd, goals.ownership),
        predicted_loss=sizing.predicted_loss(model.num_params, num_tokens, unique_tokens),
    )


def gpu_hours_and_fleet(goals: Goals, ctx: Context, model: ModelShape, num_tokens: float) -> tuple[float, int, float]:
    """(GPU-hours, GPU count, end-to-end MFU) of the layout-to-dollars chain (planner.chain)."""
    e = estimate_run(goals, ctx, model, num_tokens)
    return e.gpu_hours, e.num_gpus, e.mfu


def estimate_run(
    goals: Goals, ctx: Context, model: ModelShape, num_tokens: float, *,
    unique_tokens: float | None = None, recompute: str | None = None, global_batch_size: int | None = None,
    layout=None,
) -> Estimate:
    """The Estimate section of a plan for `model` trained on `num_tokens`: the chain of
    planner.chain.estimate_chain (the layout's step time, then the named overheads). `recompute` is
    ignored (the layout's mode counts); `layout` and `global_batch_size` fix what the chain would choose."""
    from planner.chain import estimate_chain  # planner.chain builds on this module's Context

    del recompute
    chain = estimate_chain(goals, ctx, model, num_tokens, unique_tokens=unique_tokens,
                           global_batch_size=global_batch_size, layout=layout)
    _note_estimate_inputs(goals, ctx, chain.estimate)
    return chain.estimate


def _note_estimate_inputs(goals: Goals, ctx: Context, est: Estimate) -> None:
    g, num_gpus = ctx.gpu, est.num_gpus
    mfu_src = ("goals.mfu" if goals.mfu is not None else
               "planner.chain: step_mfu of the layout's step time x the overheads")
    ctx.note("gpu", g.name, "", f"presets/gpus.yaml: {g.source} ({g.date})", "peak FLOP/s, TDP, price")
    ctx.note("precision", ctx.precision, "", "planner.throughput.default_precision (bf16 where the GPU has it)", "peak FLOP/s")
    ctx.note("peak_flops", throughput.peak_flops(g, ctx.precision), "FLOP/s",
             f"presets/gpus.yaml ({g.date}), dense, at the training precision (planner.precision)", "MFU, GPU-hours")
    ctx.note("mfu", round(est.mfu, 4), "fraction", mfu_src, "GPU-hours = model FLOPs / (peak x MFU) / 3600")
    if est.step_mfu is not None:
        ctx.note("step_mfu", round(est.step_mfu, 4), "fraction",
                 "planner.step_time of the chosen layout, kernel and fp8 efficiencies fitted on the throughput "
                 "benchmarks (presets/mfu_model.yaml step_model; `llmplan calibrate --cv`)", "end_to_end_mfu")
    for o in est.overheads:
        ctx.note(f"overhead.{o.name}", round(o.fraction, 4), "fraction", o.source, "end_to_end_mfu")
    ctx.note("num_gpus", num_gpus, "GPUs", "goals.num_gpus" if goals.num_gpus else
             f"derived: whole nodes of {ctx.gpus_per_node} finishing in "
             f"{goals.deadline_days or ctx.default_run_days:g} days ({'goals.deadline_days' if goals.deadline_days else ctx.energy_sources['default_run_days']})",
             "wall-clock days, MFU scale factor")
    if goals.ownership == "owned":
        ctx.note("gpu_purchase_usd", purchase_per_gpu(goals, ctx), "USD/GPU",
                 "goals.gpu_purchase_usd" if goals.gpu_purchase_usd is not None else f"presets/gpus.yaml ({g.date})", "amortised cost")
        ctx.note("gpu_lifetime_years", goals.gpu_lifetime_years, "years", "goals.gpu_lifetime_years", "straight-line amortisation")
    else:
        ctx.note("price_per_gpu_hour_usd", price_per_gpu_hour(goals, ctx), "USD/GPU-hour",
                 "goals.price_per_gpu_hour_usd" if goals.price_per_gpu_hour_usd is not None else f"presets/gpus.yaml typical price ({g.date})",
                 "cost_usd (rental includes electricity)")
    ctx.note("gpu_power_utilisation", ctx.power.gpu_power_utilisation, "fraction of TDP", ctx.energy_sources["gpu_power_utilisation"], "energy_kwh")
    ctx.note("node_overhead_fraction", ctx.power.node_overhead_fraction, "fraction of TDP", ctx.energy_sources["node_overhead_fraction"], "energy_kwh")
    ctx.note("pue", goals.pue, "", "goals.pue", "energy_kwh")
    ctx.note("electricity_price_usd_per_kwh", goals.electricity_price_usd_per_kwh, "USD/kWh", "goals.electricity_price_usd_per_kwh", "energy_cost_usd")
    ctx.note("grid_kg_co2_per_kwh", ctx.region.grid_kg_co2_per_kwh, "kg/kWh",
             f"presets/regions.yaml {ctx.region.name}: {ctx.region.source} ({ctx.region.date})", "co2_kg")
