"""End-to-end throughput: an MFU model calibrated on published runs, GPU-hours and wall-clock days.

MFU (model FLOPs utilisation, Chowdhery et al. 2022, PaLM, Appendix B) is model FLOPs per second
(planner.flops, no recomputation) over the dense peak of the GPU at the training precision. The
model here predicts the *end-to-end* MFU of a whole run, as published runs report it implicitly
through their GPU-hours (restarts, evaluation, checkpointing and slow nodes included):

    mfu = base(gpu) · size(N) · seq(s) · scale(n) · precision_factor

    size(N)  = 1 / (1 + (N_half(gpu) / N)^k)        small models cannot fill the GPU
    seq(s)   = min(1, (s_ref / s)^gamma)            longer sequences: more, slower attention
    scale(n) = 1 / (1 + c · log2(max(1, n / n_ref)))   communication and failures grow with scale

The coefficients live in presets/mfu_model.yaml, fitted on the kind=run rows of
presets/published_runs.csv (see docs/planner.md for the fit and the per-run errors;
`llmplan calibrate` reproduces them). Steady-state step MFU (planner.layout) is higher.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from planner.schema import GpuSpec


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


def peak_flops(gpu: GpuSpec, precision: str) -> float:
    """Dense peak FLOP/s of the GPU at a training precision."""
    peaks = {
        "bf16": gpu.peak_bf16_flops,
        "fp16": gpu.peak_fp16_flops,
        "fp8": gpu.peak_fp8_flops,
        "fp32": gpu.peak_fp32_flops,
    }
    if precision not in peaks:
        raise ValueError(f"precision must be one of bf16, fp16, fp8, fp32; got {precision!r}")
    if peaks[precision] is None:
        raise ValueError(f"{gpu.name} has no {precision} tensor cores; use bf16")
    return peaks[precision]


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


def fleet_for_days(gpu_hours: float, days: float, gpus_per_node: int, max_gpus: int) -> int:
    """Fewest nodes, a power of two, that finish `gpu_hours` within `days` (at most max_gpus).

    Powers of two keep data-parallel sizes dividing power-of-two global batches.
    """
    nodes_needed = max(1.0, gpu_hours / (days * 24.0) / gpus_per_node)
    nodes = 2 ** math.ceil(math.log2(nodes_needed) - 1e-9)
    max_nodes = max(1, max_gpus // gpus_per_node)
    return int(min(nodes, 2 ** int(math.log2(max_nodes))) * gpus_per_node)
