"""Failures, restarts and checkpoints: how often a run is interrupted, how often to checkpoint, what it costs.

Model (symbols as in Daly 2006):
- Interruptions are Poisson with a per-GPU rate lambda_gpu (default calibrated on Llama 3: 419
  unexpected interruptions in a 54-day snapshot on ~16,384 H100s, Llama Team 2024, Sec 3.3.4 and
  Table 5), so the whole job's mean time to interrupt is M = 1 / (lambda_gpu * num_gpus).
- delta: the time to write one checkpoint (weights + optimizer state) at the storage preset's bandwidth,
  min(aggregate, nodes * per-node).
- R: the restart time: a fixed overhead (detect, reschedule, initialise) plus reading the checkpoint.
- Young 1974, "A first order approximation to the optimum checkpoint interval", CACM 17(9):
  tau = sqrt(2 * delta * M).
- Daly 2006, "A higher order estimate of the optimum checkpoint interval for restart dumps",
  FGCS 22(3), Eq. (37): tau = sqrt(2 delta M) * (1 + sqrt(delta / 2M) / 3 + (delta / 2M) / 9) - delta
  for delta < 2M, else tau = M.
- Daly 2006's complete model of the expected wall-clock time of a job that needs T_s hours of
  failure-free compute: T_w = M * e^(R/M) * (e^((tau + delta)/M) - 1) * T_s / tau.
  Goodput = T_s / T_w; expected interruptions = T_w / M.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

from planner.errors import PlanInputError
from planner.schema import GpuSpec, ModelShape, ReliabilityPlan
from planner.schema.catalog import ReliabilityPresets

MIN_GOODPUT = 0.01
"""Below 1% goodput (Daly's model) the run is refused: it would spend its life failing and restarting."""
SMALL_COUNT = 20.0
"""Below this many expected interruptions the count's quantiles are computed exactly."""
Z90 = 1.2815515655446004
"""Standard normal quantile at 0.9: p10/p90 of a lognormal are exp(mu -/+ Z90 * sigma)."""


@dataclass(frozen=True)
class FailureInputs:
    """Resolved inputs of the failure model, with where each came from."""

    failures_per_gpu_hour: float
    rate_p10_factor: float
    rate_p90_factor: float
    restart_overhead_s: float
    write_bytes_per_s: float
    bytes_per_param: float
    storage: str
    sources: tuple[str, ...]


def resolve_inputs(
    presets: ReliabilityPresets,
    num_gpus: int,
    gpus_per_node: int = 8,
    storage: str | None = None,
    failure_model: str | None = None,
    failures_per_gpu_hour: float | None = None,
) -> FailureInputs:
    """Look up the presets (the Catalog's `reliability`, presets/reliability.yaml); raise ValueError
    naming the preset and the choices when one is unknown."""
    p = presets
    storage = storage or p.default_storage
    failure_model = failure_model or p.default_failure_model
    if storage not in p.storage:
        raise ValueError(f"storage {storage!r} is not a preset; choose one of {', '.join(p.storage_names())}")
    if failure_model not in p.failure_models:
        raise ValueError(f"failure_model {failure_model!r} is not a preset; choose one of "
                         f"{', '.join(p.failure_model_names())}")
    st, fm = p.storage[storage], p.failure_models[failure_model]
    num_nodes = max(1, math.ceil(num_gpus / max(1, gpus_per_node)))
    rate = fm.failures_per_gpu_hour if failures_per_gpu_hour is None else failures_per_gpu_hour
    rate_source = fm.source if failures_per_gpu_hour is None else "given in the goals"
    return FailureInputs(
        failures_per_gpu_hour=float(rate),
        rate_p10_factor=float(fm.rate_p10_factor),
        rate_p90_factor=float(fm.rate_p90_factor),
        restart_overhead_s=float(p.restart.overhead_s),
        write_bytes_per_s=min(float(st.aggregate_bytes_per_s), num_nodes * float(st.per_node_bytes_per_s)),
        bytes_per_param=float(p.checkpoint.bytes_per_param),
        storage=storage,
        sources=(f"failure rate: {rate_source}", f"restart: {p.restart.source}",
                 f"storage ({storage}): {st.source}", f"checkpoint size: {p.checkpoint.source}"),
    )


def young_interval(delta: float, mtti: float) -> float:
    """Young 1974: tau_opt = sqrt(2 * delta * M) (any time unit, same for both)."""
    return math.sqrt(2.0 * delta * mtti)


def daly_interval(delta: float, mtti: float) -> float:
    """Daly 2006, Eq. (37): sqrt(2dM) * (1 + sqrt(d/2M)/3 + (d/2M)/9) - d for d < 2M, else M."""
    if delta >= 2.0 * mtti:
        return mtti
    x = delta / (2.0 * mtti)
    return math.sqrt(2.0 * delta * mtti) * (1.0 + math.sqrt(x) / 3.0 + x / 9.0) - delta


def expected_wall_time(solve: float, tau: float, delta: float, restart: float, mtti: float) -> float:
    """Daly 2006's complete model: T_w = M e^(R/M) (e^((tau+delta)/M) - 1) T_s / tau (same time unit)."""
    if math.isinf(mtti):
        return solve * (tau + delta) / tau
    return mtti * math.exp(restart / mtti) * math.expm1((tau + delta) / mtti) * solve / tau


def job_mtti_hours(failures_per_gpu_hour: float, num_gpus: int) -> float:
    """Mean time to interrupt of the whole job: M = 1 / (lambda_gpu * num_gpus), in hours."""
    rate = failures_per_gpu_hour * num_gpus
    return math.inf if rate <= 0 else 1.0 / rate


def checkpoint_bytes(num_params: int, bytes_per_param: float) -> float:
    """Weights + optimizer state written per checkpoint (14 B/param: bf16 + fp32 master + Adam m, v)."""
    return float(num_params) * bytes_per_param


@dataclass(frozen=True)
class Timeline:
    """The checkpoint schedule and expected wall time of one run (seconds)."""

    delta_s: float
    restart_s: float
    mtti_s: float
    young_s: float
    daly_s: float
    interval_steps: int
    tau_s: float
    run_s: float
    wall_s: float


def timeline(inputs: FailureInputs, num_gpus: int, num_params: int, run_s: float, step_time_s: float) -> Timeline:
    """delta, R, M, the Young and Daly intervals, the interval in whole steps and Daly's T_w."""
    delta_s = checkpoint_bytes(num_params, inputs.bytes_per_param) / inputs.write_bytes_per_s
    restart_s = inputs.restart_overhead_s + delta_s
    mtti_s = job_mtti_hours(inputs.failures_per_gpu_hour, num_gpus) * 3600.0
    young_s = young_interval(delta_s, mtti_s) if math.isfinite(mtti_s) else math.inf
    daly_s = daly_interval(delta_s, mtti_s) if math.isfinite(mtti_s) else math.inf
    target_s = daly_s if math.isfinite(daly_s) else run_s
    steps = max(1, min(round(target_s / step_time_s), math.ceil(run_s / step_time_s)))
    try:
        wall_s = expected_wall_time(run_s, steps * step_time_s, delta_s, restart_s, mtti_s)
    except OverflowError:
        wall_s = math.inf
    if run_s / wall_s < MIN_GOODPUT:
        raise PlanInputError(
            f"num_gpus: {num_gpus:,} GPUs are interrupted every {mtti_s:,.0f} s on average, but a checkpoint "
            f"takes {delta_s:,.0f} s and a restart {restart_s:,.0f} s, so under {MIN_GOODPUT:.0%} of the "
            "wall-clock time would be training; use fewer GPUs, faster storage or a lower failure rate")
    return Timeline(delta_s, restart_s, mtti_s, young_s, daly_s, steps, steps * step_time_s, run_s, wall_s)


def plan_reliability(
    presets: ReliabilityPresets,
    num_gpus: int,
    gpu: GpuSpec,
    model: ModelShape,
    train_hours: float,
    step_time_s: float,
    num_params: int,
    *,
    gpus_per_node: int | None = None,
    storage: str | None = None,
    failure_model: str | None = None,
    failures_per_gpu_hour: float | None = None,
    price_per_gpu_hour_usd: float | None = None,
) -> ReliabilityPlan:
    """The failure and checkpoint plan for a run of `train_hours` failure-free wall-clock hours.

    `model` is the shape being trained (its parameter count is `num_params`); dollars use
    `price_per_gpu_hour_usd` or the GPU preset's typical price.
    """
    _check_positive(num_gpus=num_gpus, train_hours=train_hours, step_time_s=step_time_s, num_params=num_params)
    inputs = resolve_inputs(presets, num_gpus, gpus_per_node or gpu.gpus_per_node, storage, failure_model,
                            failures_per_gpu_hour)
    t = timeline(inputs, num_gpus, num_params, train_hours * 3600.0, step_time_s)
    interruptions = 0.0 if math.isinf(t.mtti_s) else t.wall_s / t.mtti_s
    lo, hi = interruption_range(interruptions, inputs.rate_p10_factor, inputs.rate_p90_factor)
    price = gpu.price_per_hour_usd if price_per_gpu_hour_usd is None else price_per_gpu_hour_usd
    wall_h, lost_h = t.wall_s / 3600.0, (t.wall_s - t.run_s) / 3600.0
    return ReliabilityPlan(
        failures_per_gpu_hour=inputs.failures_per_gpu_hour, restart_time_s=t.restart_s,
        checkpoint_bytes=checkpoint_bytes(num_params, inputs.bytes_per_param), checkpoint_write_s=t.delta_s,
        job_mtti_hours=min(t.mtti_s / 3600.0, 1e12), checkpoint_interval_s=t.tau_s,
        checkpoint_interval_steps=t.interval_steps, expected_interruptions=interruptions, lost_hours=lost_h,
        goodput=t.run_s / t.wall_s, young_interval_s=min(t.young_s, 1e15), daly_interval_s=min(t.daly_s, 1e15),
        failure_free_hours=train_hours, adjusted_wallclock_days=wall_h / 24.0,
        adjusted_gpu_hours=wall_h * num_gpus, adjusted_cost_usd=wall_h * num_gpus * price,
        extra_cost_usd=lost_h * num_gpus * price, lost_gpu_hours=lost_h * num_gpus,
        interruptions_p10=lo, interruptions_p90=hi, storage=inputs.storage,
        sources=list(inputs.sources) + [
            "interval: Young 1974 (CACM 17(9)); Daly 2006 (FGCS 22(3)) Eq. 37",
            "wall time: Daly 2006 complete model T_w = M e^(R/M) (e^((tau+delta)/M) - 1) T_s/tau",
        ],
    )


def interruption_range(expected: float, rate_p10_factor: float, rate_p90_factor: float) -> tuple[float, float]:
    """p10 and p90 of the interruption count N ~ Poisson(expected * X), ln X ~ Normal(0, sigma_rate).

    sigma_rate comes from the preset's p10/p90 rate factors. From 20 expected interruptions up the
    two spreads are combined in log space (sigma^2 = sigma_rate^2 + 1/expected, the delta-method
    variance of ln N for a Poisson count); below that the mixture's quantiles are computed exactly
    on 32 equal-probability points of X, so a run expecting almost no failures gets p10 = p90 = 0.
    """
    if expected <= 0:
        return 0.0, 0.0
    sigma_rate = (math.log(rate_p90_factor) - math.log(rate_p10_factor)) / (2 * Z90)
    if expected >= SMALL_COUNT:
        sigma = math.sqrt(sigma_rate**2 + 1.0 / expected)
        return expected * math.exp(-Z90 * sigma), expected * math.exp(Z90 * sigma)
    normal = NormalDist()
    means = [expected * math.exp(sigma_rate * normal.inv_cdf((i + 0.5) / 32)) for i in range(32)]
    pmf = [math.exp(-m) for m in means]
    cdf, k, p10 = sum(pmf) / 32, 0, None
    while True:
        if p10 is None and cdf >= 0.1:
            p10 = float(k)
        if cdf >= 0.9:
            return p10 if p10 is not None else float(k), float(k)
        k += 1
        pmf = [p * m / k for p, m in zip(pmf, means, strict=True)]
        cdf += sum(pmf) / 32


def failure_overhead_sigma(plan: ReliabilityPlan, rate_p10_factor: float = 0.5, rate_p90_factor: float = 2.0) -> float:
    """Log-space standard deviation of the wall-clock time that the failure model adds.

    The overhead fraction f = 1/goodput - 1 scales roughly with the interruption rate, so a lognormal
    rate uncertainty sigma_r moves log(1 + f) by about sigma_r * f / (1 + f).
    """
    f = 1.0 / plan.goodput - 1.0
    sigma_rate = (math.log(rate_p90_factor) - math.log(rate_p10_factor)) / (2 * Z90)
    return sigma_rate * f / (1.0 + f)


def _check_positive(**values: float) -> None:
    for name, value in values.items():
        if not (value > 0 and math.isfinite(value)):
            raise ValueError(f"{name} must be a positive finite number, got {value!r}")
