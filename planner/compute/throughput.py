"""Throughput: the calibrated step-time and overhead coefficients, a sizing prior, GPU-hours and days.

The plan's figures come from one chain (planner.estimate): the chosen layout's steady-state step
time (planner.compute.step_time, with the kernel and fp8 efficiencies of `ThroughputModel.step_model`)
times named overheads, one of which, the operational efficiency per GPU generation, is fitted on
whole published runs (planner.calibration.calibrate). All coefficients live in presets/mfu_model.yaml.

`predict_mfu` below is only a *sizing prior*: a closed-form guess of the end-to-end MFU that the
budget-driven sizing uses before a model, and so a layout, exists. It is refitted to the chain
(`llmplan calibrate --fit`) and never shown as a plan figure. Its form:

MFU (model FLOPs utilisation, Chowdhery et al. 2022, PaLM, Appendix B) is model FLOPs per second
(planner.model.flops, no recomputation) over the dense peak of the GPU at the training precision. The
model here predicts the *end-to-end* MFU of a whole run, as published runs report it implicitly
through their GPU-hours (restarts, evaluation, checkpointing and slow nodes included):

    mfu = base(gpu) · size(N) · seq(s) · scale(n) · precision_factor

    size(N)  = 1 / (1 + (N_half(gpu) / N)^k)        small models cannot fill the GPU
    seq(s)   = min(1, (s_ref / s)^gamma)            longer sequences: more, slower attention
    scale(n) = 1 / (1 + c · log2(max(1, n / n_ref)))   communication and failures grow with scale

"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.compute import precision as precision_table
from planner.schema import GpuSpec
from planner.compute.step_time import StepTimeModel


@dataclass(frozen=True)
class GpuMfu:
    base: float
    half_size_params: float


@dataclass(frozen=True)
class MfuModel:
    gpus: dict[str, GpuMfu]
    default: GpuMfu
    size_exponent: float
    seq_ref: int
    seq_exponent: float
    scale_ref_gpus: int
    scale_coefficient: float
    precision_factor: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_preset(cls, data: dict) -> "MfuModel":
        def gpu_mfu(values: dict) -> GpuMfu:
            return GpuMfu(base=float(values["base"]), half_size_params=float(values["half_size_params"]))

        return cls(
            gpus={name: gpu_mfu(values) for name, values in data["gpus"].items()},
            default=gpu_mfu(data["default"]),
            size_exponent=float(data["size_exponent"]),
            seq_ref=int(data["seq_ref"]),
            seq_exponent=float(data["seq_exponent"]),
            scale_ref_gpus=int(data["scale_ref_gpus"]),
            scale_coefficient=float(data["scale_coefficient"]),
            precision_factor={k: float(v) for k, v in data.get("precision_factor", {}).items()},
            source=data.get("source", ""),
        )

    def for_gpu(self, gpu: GpuSpec) -> GpuMfu:
        return self.gpus.get(gpu.name, self.default)


@dataclass(frozen=True)
class ThroughputModel:
    """The fitted coefficients of the chain (planner.estimate; fitted by planner.calibration.calibrate)."""

    step_model: StepTimeModel
    """Megatron-Core's step-time efficiencies: what a plan's layout is timed with."""
    operational_efficiency: dict[str, float]
    """Per GPU generation: whole runs' GPU-hours over steady state, after failures, checkpoints
    and evaluation (slow nodes, data stalls, hangs, software upgrades, queue gaps)."""
    pooled_operational_efficiency: float
    """For generations without a published whole run: the geometric mean over all of them."""
    framework_kernel_efficiency: dict[str, float] = field(default_factory=dict)
    source: str = ""

    @classmethod
    def from_preset(cls, data: dict) -> "ThroughputModel":
        step = data.get("step_model", {})
        ops = {k: float(v) for k, v in data.get("operational_efficiency", {}).items()}
        return cls(
            step_model=StepTimeModel(**{k: float(v) for k, v in step.items()}),
            operational_efficiency={k: v for k, v in ops.items() if k != "pooled"},
            pooled_operational_efficiency=ops.get("pooled", 0.8),
            framework_kernel_efficiency={k: float(v) for k, v in data.get("framework_kernel_efficiency", {}).items()},
            source=str(data.get("source", "")).strip(),
        )

    def operational_efficiency_for(self, gpu: GpuSpec) -> tuple[float, str]:
        """(factor, where it came from) for the GPU's generation, pooled when none was fitted."""
        if gpu.generation in self.operational_efficiency:
            return self.operational_efficiency[gpu.generation], (
                f"fitted on published {gpu.generation} whole runs (planner.calibration.calibrate; presets/mfu_model.yaml)")
        return self.pooled_operational_efficiency, (
            f"no published {gpu.generation or gpu.name} whole run: geometric mean over all generations "
            "(planner.calibration.calibrate; presets/mfu_model.yaml)")


def peak_flops(gpu: GpuSpec, precision: str) -> float:
    """Dense peak FLOP/s of the GPU at a training precision (planner.compute.precision, the one table)."""
    return precision_table.peak_flops(gpu, precision)


def default_precision(gpu: GpuSpec) -> str:
    """bf16 where the GPU runs it faster than fp32; else fp16 (V100) or fp32 (CPU)."""
    if gpu.peak_bf16_flops > gpu.peak_fp32_flops:
        return "bf16"
    return "fp16" if gpu.peak_fp16_flops > gpu.peak_fp32_flops else "fp32"


def mfu_factors(
    mfu_model: MfuModel, gpu: GpuSpec, *, num_params: float, seq_length: int, num_gpus: int,
    precision: str = "bf16",
) -> dict[str, float]:
    """The factors whose product is the predicted MFU (see the module docstring)."""
    coeffs = mfu_model.for_gpu(gpu)
    doublings = math.log2(max(1.0, num_gpus / mfu_model.scale_ref_gpus))
    return {
        "base": coeffs.base,
        "size": 1.0 / (1.0 + (coeffs.half_size_params / num_params) ** mfu_model.size_exponent),
        "seq": min(1.0, (mfu_model.seq_ref / seq_length) ** mfu_model.seq_exponent),
        "scale": 1.0 / (1.0 + mfu_model.scale_coefficient * doublings),
        "precision": mfu_model.precision_factor.get(precision, 1.0),
    }


def predict_mfu(
    mfu_model: MfuModel, gpu: GpuSpec, *, num_params: float, seq_length: int, num_gpus: int,
    precision: str = "bf16",
) -> float:
    """End-to-end MFU of a run: the product of mfu_factors, capped at 1."""
    factors = mfu_factors(mfu_model, gpu, num_params=num_params, seq_length=seq_length,
                          num_gpus=num_gpus, precision=precision)
    return min(math.prod(factors.values()), 1.0)


def gpu_hours_for(total_flops: float, gpu: GpuSpec, mfu: float, precision: str) -> float:
    """GPU-hours = FLOPs / (peak · MFU) / 3600."""
    return total_flops / (peak_flops(gpu, precision) * mfu) / 3600.0


def wallclock_days_for(gpu_hours: float, num_gpus: int) -> float:
    return gpu_hours / num_gpus / 24.0


def tokens_per_s_for(num_tokens: float, gpu_hours: float, num_gpus: int) -> float:
    """Cluster tokens per second implied by a run of `gpu_hours` on `num_gpus`."""
    return num_tokens / (gpu_hours / num_gpus * 3600.0)


def fleet_for_days(gpu_hours: float, days: float, gpus_per_node: int, max_gpus: int, *, round_up: bool = True) -> int:
    """Fewest nodes, a power of two, that finish `gpu_hours` within `days` (at most max_gpus); with
    `round_up=False` (no deadline, only the default run length) the power of two nearest in log
    space, so a run is not put on up to twice the GPUs its month needs.

    Powers of two keep data-parallel sizes dividing power-of-two global batches.
    """
    nodes_needed = max(1.0, gpu_hours / (days * 24.0) / gpus_per_node)
    exponent = math.ceil(math.log2(nodes_needed) - 1e-9) if round_up else round(math.log2(nodes_needed))
    nodes = 2 ** exponent
    max_nodes = max(1, max_gpus // gpus_per_node)
    return int(min(nodes, 2 ** int(math.log2(max_nodes))) * gpus_per_node)
