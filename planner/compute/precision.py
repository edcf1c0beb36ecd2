"""One precision table: the peak each precision runs at and the bytes it keeps per value.

Every module that needs a peak FLOP/s or a byte count per precision reads it here: the estimate
(MFU denominator), the step-time model (GEMM and attention kernel peaks), the layout search's
bounds and the memory model (bytes of weights, gradients, optimizer state and activations).

MFU convention (Chowdhery et al. 2022, PaLM, Appendix B): model FLOPs per second (planner.model.flops,
causal attention counted once, no recomputation) over the dense peak of the GPU *at the training
precision*: the bf16 peak for bf16 and fp16 runs, the fp8 peak for fp8 runs. fp8 recipes
(Transformer Engine, torchao Float8) run the linear layers' GEMMs in fp8 and keep core attention,
the logits and the activations between layers in bf16, so the step-time model costs GEMMs at the
fp8 peak and attention at the bf16 peak (`attention_peak_field`).

Bytes per parameter: Megatron-LM `megatron/training/theoretical_memory_usage.py` (commit d98e8a6,
l.293-296): bf16 weight (2), fp32 main gradient (4), fp32 master weight plus Adam m and v (12);
fp8 keeps bf16 weights and fp32 master weights (Transformer Engine's fp8 recipe, same 18 bytes);
fp32 has no master copy (4 + 4 + 8). Activations: 2 bytes (Korthikanti et al. 2022, Table 2
counts 2-byte activations), 4 in fp32.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Precision:
    name: str
    peak_field: str
    """GpuSpec field of the dense peak the GEMMs run at (and the MFU denominator)."""
    attention_peak_field: str
    """GpuSpec field of the peak of core attention and the logits (bf16 under an fp8 recipe)."""
    weight_bytes: float
    gradient_bytes: float
    optimizer_bytes: float
    activation_bytes: float


PRECISIONS: dict[str, Precision] = {
    "bf16": Precision("bf16", "peak_bf16_flops", "peak_bf16_flops", 2, 4, 12, 2),
    "fp16": Precision("fp16", "peak_fp16_flops", "peak_fp16_flops", 2, 4, 12, 2),
    "fp8": Precision("fp8", "peak_fp8_flops", "peak_bf16_flops", 2, 4, 12, 2),
    "fp32": Precision("fp32", "peak_fp32_flops", "peak_fp32_flops", 4, 4, 8, 4),
}


def get_precision(name: str) -> Precision:
    """The table row of `name`; ValueError naming the allowed precisions."""
    try:
        return PRECISIONS[name]
    except KeyError:
        raise ValueError(f"precision ({name!r}) must be one of {', '.join(PRECISIONS)}") from None


def peak_flops(gpu: Any, precision: str) -> float:
    """Dense peak FLOP/s of `gpu` at `precision` (the MFU denominator); ValueError when the GPU has
    no such tensor cores (e.g. fp8 on an A100)."""
    value = getattr(gpu, get_precision(precision).peak_field)
    if value is None:
        raise ValueError(f"{gpu.name} has no {precision} tensor cores; use bf16")
    return value


def attention_peak_flops(gpu: Any, precision: str) -> float:
    """Dense peak FLOP/s of core attention and the logits at `precision`."""
    return getattr(gpu, get_precision(precision).attention_peak_field)


__all__ = ["PRECISIONS", "Precision", "attention_peak_flops", "get_precision", "peak_flops"]
