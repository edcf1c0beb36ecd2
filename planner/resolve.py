"""Goals resolved against the Catalog: every default filled once, each recorded as an Assumption.

`resolve(goals, catalog) -> ResolvedGoals` looks up the GPU, the region, the throughput and power
models, the failure and storage presets and the calibration residuals, and fills every default the
goals leave open (the run length without a deadline, prices, the precision, GPUs per node, the
checkpoint storage and failure model). `planner.derive.derive_plan(resolved, pins=None)` is then a
pure function of its inputs: nothing is looked up, noted or defaulted while a plan is derived.

The recorded assumptions keep the names, values and sources a plan lists (RunPlan.assumptions); the
plan orders them by the figure they feed (planner.derive.plan_assumptions).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.compute import throughput

from planner.cost import pricing

from planner.model import sizing
from planner.errors import PlanInputError
from planner.schema import Assumption, Goals, GpuSpec, RegionSpec
from planner.schema.catalog import Catalog, ReliabilityPresets
from planner.cost.uncertainty import Residuals, residuals_of
from planner.model.user_law import loss_fit


@dataclass(frozen=True)
class ResolvedGoals:
    """The goals with every preset looked up and every default filled (see `resolve`)."""

    goals: Goals
    catalog: Catalog
    gpu: GpuSpec
    region: RegionSpec
    mfu_model: throughput.MfuModel
    """the sizing prior (planner.compute.throughput.predict_mfu)"""
    throughput: throughput.ThroughputModel
    power: pricing.PowerModel
    precision: str
    gpus_per_node: int
    """goals.gpus_per_node when the goals set it, else the GPU preset's node size"""
    run_days: float
    """goals.deadline_days, else the catalog's default run length"""
    run_days_source: str
    max_gpus: int
    price_per_gpu_hour_usd: float
    gpu_purchase_usd: float
    reliability: ReliabilityPresets
    residuals: tuple[Residuals, Residuals]
    """(GPU-hours, energy) calibration residuals (planner.cost.uncertainty)"""
    assumptions: tuple[Assumption, ...]

    def assumption(self, name: str) -> Assumption:
        """The recorded assumption `name` (KeyError when the goals did not need it)."""
        for a in self.assumptions:
            if a.name == name:
                return a
        raise KeyError(name)

    def has(self, name: str) -> bool:
        return any(a.name == name for a in self.assumptions)


def _note(name: str, value, unit: str, source: str, used_for: str = "") -> Assumption:
    return Assumption(name=name, value=value, unit=unit, source=source, used_for=used_for)


def check_training_presets(goals: Goals, presets: ReliabilityPresets) -> None:
    """goals.training names only storage and failure-model presets the catalog has."""
    t = goals.training
    for field, value, names in (("checkpoint_storage", t.checkpoint_storage, presets.storage_names()),
                                ("failure_model", t.failure_model, presets.failure_model_names())):
        if value is not None and value not in names:
            raise PlanInputError(f"goals.training.{field}: {value!r} is not a preset; choose one of "
                                 f"{', '.join(names)} (presets/reliability.yaml)")


def resolve(goals: Goals, catalog: Catalog) -> ResolvedGoals:
    """GPU, region, models and defaults for the goals (PlanInputError on unknown names)."""
    gpu, region, energy = catalog.gpu(goals.gpu), catalog.region(goals.region), catalog.energy
    precision = throughput.default_precision(gpu)
    price = goals.price_per_gpu_hour_usd if goals.price_per_gpu_hour_usd is not None else gpu.price_per_hour_usd
    purchase = goals.gpu_purchase_usd if goals.gpu_purchase_usd is not None else gpu.purchase_usd
    power = pricing.PowerModel(gpu_power_utilisation=energy.gpu_power_utilisation.value,
                               node_overhead_fraction=energy.node_overhead_fraction.value)
    check_training_presets(goals, catalog.reliability)
    notes = [*_hardware_notes(gpu, precision), *_price_notes(goals, gpu, price, purchase),
             *_energy_notes(goals, catalog, region), *_reliability_notes(goals, catalog.reliability),
             *_sizing_notes(goals)]
    return ResolvedGoals(
        goals=goals, catalog=catalog, gpu=gpu, region=region,
        mfu_model=throughput.MfuModel.from_preset(catalog.mfu_model),
        throughput=throughput.ThroughputModel.from_preset(catalog.mfu_model),
        power=power, precision=precision,
        gpus_per_node=goals.gpus_per_node if "gpus_per_node" in goals.model_fields_set else gpu.gpus_per_node,
        run_days=goals.deadline_days or float(energy.default_run_days.value),
        run_days_source="goals.deadline_days" if goals.deadline_days else energy.default_run_days.source,
        max_gpus=int(energy.max_gpus.value), price_per_gpu_hour_usd=price, gpu_purchase_usd=purchase,
        reliability=catalog.reliability, residuals=residuals_of(catalog), assumptions=tuple(notes),
    )


def _hardware_notes(gpu: GpuSpec, precision: str) -> list[Assumption]:
    return [
        _note("gpu", gpu.name, "", f"presets/gpus.yaml: {gpu.source} ({gpu.date})", "peak FLOP/s, TDP, price"),
        _note("precision", precision, "", "planner.compute.throughput.default_precision (bf16 where the GPU has it)",
              "peak FLOP/s"),
        _note("peak_flops", throughput.peak_flops(gpu, precision), "FLOP/s",
              f"presets/gpus.yaml ({gpu.date}), dense, at the training precision (planner.compute.precision)",
              "MFU, GPU-hours"),
    ]


def _price_notes(goals: Goals, gpu: GpuSpec, price: float, purchase: float) -> list[Assumption]:
    """Owned GPUs: the purchase price and lifetime (amortised); rented: the price per GPU-hour."""
    if goals.ownership == "owned":
        stated = goals.gpu_purchase_usd is not None
        return [
            _note("gpu_purchase_usd", purchase, "USD/GPU",
                  "goals.gpu_purchase_usd" if stated else f"presets/gpus.yaml ({gpu.date})", "amortised cost"),
            _note("gpu_lifetime_years", goals.gpu_lifetime_years, "years", "goals.gpu_lifetime_years",
                  "straight-line amortisation"),
        ]
    stated = goals.price_per_gpu_hour_usd is not None
    return [_note("price_per_gpu_hour_usd", price, "USD/GPU-hour",
                  "goals.price_per_gpu_hour_usd" if stated else f"presets/gpus.yaml typical price ({gpu.date})",
                  "cost_usd (rental includes electricity)")]


def _energy_notes(goals: Goals, catalog: Catalog, region: RegionSpec) -> list[Assumption]:
    energy = catalog.energy
    return [
        _note("gpu_power_utilisation", energy.gpu_power_utilisation.value, "fraction of TDP",
              energy.gpu_power_utilisation.source, "energy_kwh"),
        _note("node_overhead_fraction", energy.node_overhead_fraction.value, "fraction of TDP",
              energy.node_overhead_fraction.source, "energy_kwh"),
        _note("pue", goals.pue, "", "goals.pue", "energy_kwh"),
        _note("electricity_price_usd_per_kwh", goals.electricity_price_usd_per_kwh, "USD/kWh",
              "goals.electricity_price_usd_per_kwh", "energy_cost_usd"),
        _note("grid_kg_co2_per_kwh", region.grid_kg_co2_per_kwh, "kg/kWh",
              f"presets/regions.yaml {region.name}: {region.source} ({region.date})", "co2_kg"),
    ]


def _reliability_notes(goals: Goals, presets: ReliabilityPresets) -> list[Assumption]:
    """The checkpoint storage and failure rate the failure plan uses (planner.cost.reliability)."""
    t = goals.training
    model = t.failure_model or presets.default_failure_model
    stated = t.failures_per_gpu_hour is not None
    rate = t.failures_per_gpu_hour if stated else presets.failure_models[model].failures_per_gpu_hour
    return [
        _note("checkpoint_storage", t.checkpoint_storage or presets.default_storage, "",
              "goals.training.checkpoint_storage" if t.checkpoint_storage
              else "presets/reliability.yaml default_storage", "checkpoint write time and interval"),
        _note("failures_per_gpu_hour", float(rate), "1/GPU-hour",
              "goals.training.failures_per_gpu_hour" if stated else f"failure model {model} (presets/reliability.yaml)",
              "expected interruptions, checkpoint interval"),
    ]


def _sizing_notes(goals: Goals) -> list[Assumption]:
    fit = loss_fit(goals)
    notes = [
        _note("objective", goals.objective, "", "goals.objective", "model size and tokens"),
        _note("loss_fit", fit.name, "", fit.source, "compute-optimal and inference-optimal sizing, predicted_loss"),
    ]
    if goals.objective == "rule-of-thumb-20x":
        notes.append(_note("tokens_per_param_rule", sizing.TOKENS_PER_PARAM_RULE, "tokens/param",
                           "Hoffmann et al. 2022, Table 3 (approaches 1 and 2)", "tokens"))
    if goals.objective == "inference-optimal":
        notes.append(_note("inference_tokens", goals.inference_tokens, "tokens",
                           "goals.inference_tokens; Sardana & Frankle 2023 eq. 2", "size"))
    if goals.continue_from is not None:
        notes.append(_note("tokens_seen", goals.continue_from.tokens_seen, "tokens",
                           f"goals.continue_from.tokens_seen ({goals.continue_from.checkpoint})",
                           "tokens of this run (the objective's total minus these), predicted_loss L(N, seen + D)"))
    return notes
