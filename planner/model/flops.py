"""Training FLOPs per token, Megatron-LM accounting: model FLOPs (MFU basis) and hardware FLOPs (HFU).

Source: Megatron-LM `megatron/training/training.py` (`num_floating_point_operations`, commit d98e8a6,
l.1065-1309) and Narayanan et al. 2021 (SC'21, arXiv 2104.04473) §5.1 / Appendix A:

- every weight matmul costs 2 FLOPs per weight per token forward (fma_expansion_factor = 2) and
  twice that backward (forward_backward_expansion_factor = 3);
- core attention (QK^T and attention·V) costs 2·2·s·d_q per token per layer forward, halved by the
  causal mask (training.py l.1168: `/ 2  # causal mask`);
- the logit layer costs 2·h·V forward; the input-embedding lookup costs nothing.

For GPT-3-style shapes (no GQA, MLP 4h, no biases) this equals Narayanan's model FLOPs per token
72·L·h²·(1 + s/(12h) + V/(12·L·h)) (Appendix A, with s/6h halved by the causal mask); see
tests/planner/test_flops.py. Model FLOPs never include recomputation; hardware FLOPs add the
recomputed forward: `full` recompute re-runs every layer's forward (Narayanan eq. 3: 96 instead of
72), `selective` re-runs only core attention (Korthikanti et al. 2022, §5).
"""

from __future__ import annotations

from typing import Literal, NamedTuple

from planner.schema import ModelShape

Recompute = Literal["none", "selective", "full"]


class ForwardFlops(NamedTuple):
    """Forward FLOPs per token, split as the recompute options need them (the parts sum to the total)."""

    layer_matmul: float
    """weights of all layers (QKV, output projection, MLP)"""
    core_attention: float
    """QK^T and attention·V over all layers, causal"""
    logits: float

    @property
    def total(self) -> float:
        return sum(self)


def forward_flops_per_token(model: ModelShape, seq_length: int | None = None) -> ForwardFlops:
    """Forward FLOPs of one token at sequence length s (Megatron training.py l.1100-1303)."""
    s = seq_length or model.seq_length
    h, L = model.hidden_size, model.num_layers
    d_q = model.hidden_size  # num_attention_heads * head_dim
    d_kv = model.num_query_groups * model.head_dim
    mlp_matrices = 3 if model.activation == "swiglu" else 2
    per_layer = 2 * (h * (d_q + 2 * d_kv) + d_q * h + mlp_matrices * h * model.ffn_hidden_size)
    core = 2 * 2 * s * d_q / 2  # QK^T and A·V, 2 FLOPs per MAC, causal mask halves it
    return ForwardFlops(layer_matmul=L * per_layer, core_attention=L * core, logits=2 * h * model.vocab_size)


def model_flops_per_token(model: ModelShape, seq_length: int | None = None) -> float:
    """Model FLOPs of training one token: 3 x forward (forward + backward of 2x), no recomputation."""
    return 3 * forward_flops_per_token(model, seq_length).total


def hardware_flops_per_token(
    model: ModelShape, recompute: Recompute = "none", seq_length: int | None = None
) -> float:
    """Model FLOPs plus what activation recomputation runs again (the HFU basis).

    `full`: one extra forward of every layer (not the logits), Narayanan et al. 2021 eq. 3;
    `selective`: one extra forward of core attention only (Korthikanti et al. 2022, §5).
    """
    fwd = forward_flops_per_token(model, seq_length)
    extra = {"none": 0.0, "selective": fwd.core_attention, "full": fwd.layer_matmul + fwd.core_attention}
    if recompute not in extra:
        raise ValueError(f"recompute must be one of none, selective, full; got {recompute!r}")
    return 3 * fwd.total + extra[recompute]


def narayanan_model_flops_per_token(
    num_layers: int, hidden_size: int, seq_length: int, vocab_size: int
) -> float:
    """Narayanan et al. 2021 Appendix A model FLOPs per token for a GPT-3 shape, with a causal mask.

    72·L·h²·(1 + s/(12h) + V/(12·L·h)) per token; the paper's s/(6h) becomes s/(12h) with the mask.
    Kept as an independent check of forward_flops_per_token (not used by the planner).
    """
    L, h, s, V = num_layers, hidden_size, seq_length, vocab_size
    return 72 * L * h * h * (1 + s / (12 * h) + V / (12 * L * h))


def training_flops(model: ModelShape, num_tokens: float, seq_length: int | None = None) -> float:
    """Model FLOPs of a whole run: per-token model FLOPs x tokens."""
    return model_flops_per_token(model, seq_length) * num_tokens
