"""Decoder-only transformer shapes: the exact parameter count and a shape for a target size.

The parameter count follows the weights a Megatron-Core `GPTModel` (or a Hugging Face Llama/GPT-2
checkpoint) actually holds; it reproduces released checkpoints exactly:

- Llama 2 7B (Touvron et al. 2023, model card): 6,738,415,616 parameters;
- Llama 2 70B (GQA with 8 KV heads): 68,976,648,192 parameters;
- GPT-3 175B (Brown et al. 2020, Table D.1: 96 layers, d_model 12288, 96 heads, tied embeddings,
  learned positions, biases, LayerNorm): within 0.5% of the 174.6B the paper states.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from planner.schema import ModelShape


@dataclass(frozen=True)
class ShapeRules:
    """How derive_shape lays out a model. Defaults follow Llama 2/3 (Touvron et al. 2023; Llama Team 2024)."""

    activation: Literal["swiglu", "gelu"] = "swiglu"
    position_embedding: Literal["rope", "learned"] = "rope"
    normalization: Literal["RMSNorm", "LayerNorm"] = "RMSNorm"
    tied_embeddings: bool = False
    add_bias_linear: bool = False
    max_query_groups: int = 8
    """GQA: at most 8 KV heads (Llama 3 uses 8 at every size) and at most half the heads."""
    preferred_width_per_layer: float = 128.0
    """hidden_size / num_layers that the search prefers (Llama 2 7B and 13B: 128; 70B: 102)."""
    tolerance: float = 0.02
    """Relative distance from the target parameter count a derived shape may have."""


def _norm_params(hidden_size: int, normalization: str) -> int:
    return hidden_size * (2 if normalization == "LayerNorm" else 1)


def count_params(
    *,
    num_layers: int,
    hidden_size: int,
    num_attention_heads: int,
    num_query_groups: int,
    ffn_hidden_size: int,
    vocab_size: int,
    seq_length: int,
    activation: str = "swiglu",
    position_embedding: str = "rope",
    normalization: str = "RMSNorm",
    tied_embeddings: bool = False,
    add_bias_linear: bool = False,
) -> int:
    """Exact number of weights of a decoder-only transformer.

    Per layer: Q and O projections h·h each, K and V h·(g·h/a) each (GQA, Ainslie et al. 2023),
    the MLP 3·h·f (SwiGLU, Shazeer 2020) or 2·h·f (GELU), two norms (RMSNorm: h; LayerNorm: 2h),
    plus biases when `add_bias_linear`. Outside the layers: the input embedding V·h, an untied
    output layer V·h, learned positions s·h, and the final norm.
    """
    h, f = hidden_size, ffn_hidden_size
    kv_dim = num_query_groups * (hidden_size // num_attention_heads)
    attention = 2 * h * h + 2 * h * kv_dim
    mlp = (3 if activation == "swiglu" else 2) * h * f
    if add_bias_linear:
        attention += h + 2 * kv_dim + h
        mlp += (2 * f if activation == "swiglu" else f) + h
    per_layer = attention + mlp + 2 * _norm_params(h, normalization)
    embeddings = vocab_size * h * (1 if tied_embeddings else 2)
    if position_embedding == "learned":
        embeddings += seq_length * h
    return num_layers * per_layer + embeddings + _norm_params(h, normalization)


def shape_params(shape: ModelShape) -> int:
    """count_params for an existing ModelShape (ignores its stored num_params)."""
    fields = shape.model_dump(exclude={"num_params"})
    return count_params(**fields)


def make_shape(**fields) -> ModelShape:
    """A ModelShape with num_params filled in exactly."""
    fields.pop("num_params", None)
    return ModelShape(**fields, num_params=count_params(**fields))


def swiglu_ffn_size(hidden_size: int) -> int:
    """8h/3 rounded up to a multiple of 256 (Llama's `multiple_of`; 11008 for h=4096), or of h/4 when smaller."""
    multiple = min(256, max(8, hidden_size // 4))
    return multiple * math.ceil(8 * hidden_size / 3 / multiple)


def head_dim_for(hidden_size: int) -> int:
    """128 from h=2048 up (Llama, GPT-3 large), 64 from 512, else 32."""
    if hidden_size >= 2048:
        return 128
    return 64 if hidden_size >= 512 else 32


def _hidden_candidates() -> list[int]:
    """Widths whose head count is a multiple of 2 (below 512), 4 (below 2048) or 8, so TP divides it."""
    small = list(range(64, 512, 64))
    medium = list(range(512, 2048, 256))
    large = list(range(2048, 65536 + 1, 1024))
    return small + medium + large


def _candidate(hidden: int, target: float, vocab: int, seq: int, rules: ShapeRules) -> ModelShape | None:
    heads = hidden // head_dim_for(hidden)
    groups = max(1, min(rules.max_query_groups, heads // 2))
    while heads % groups:
        groups -= 1
    ffn = swiglu_ffn_size(hidden) if rules.activation == "swiglu" else 4 * hidden
    common = dict(
        hidden_size=hidden, num_attention_heads=heads, num_query_groups=groups,
        ffn_hidden_size=ffn, vocab_size=vocab, seq_length=seq, activation=rules.activation,
        position_embedding=rules.position_embedding, normalization=rules.normalization,
        tied_embeddings=rules.tied_embeddings, add_bias_linear=rules.add_bias_linear,
    )
    base = count_params(num_layers=0, **common)
    per_layer = count_params(num_layers=1, **common) - base
    exact = (target - base) / per_layer
    step = 4 if exact >= 12 else 1  # layer counts that pipeline stages divide
    layers = max(step, step * round(exact / step))
    total = base + layers * per_layer
    if abs(total - target) > rules.tolerance * target:
        return None
    return ModelShape(num_layers=layers, num_params=total, **common)


def derive_shape(
    target_params: float, *, vocab_size: int, seq_length: int, rules: ShapeRules | None = None
) -> ModelShape:
    """A decoder-only shape whose exact parameter count is within `rules.tolerance` of the target.

    Searches hidden sizes (multiples of 64, 256 and 1024 as the model grows), sets heads from the head
    dimension, GQA groups, the SwiGLU width 8h/3, then the layer count (a multiple of 4 from 12
    layers up, so pipeline stages divide it) that lands nearest the target; among shapes within tolerance it keeps the one whose h/L is nearest
    `preferred_width_per_layer` (Kaplan et al. 2020, Fig. 5: loss is flat over a wide range of
    aspect ratios, so the choice follows the Llama family).
    """
    rules = rules or ShapeRules()
    best: tuple[float, ModelShape] | None = None
    for hidden in _hidden_candidates():
        shape = _candidate(hidden, target_params, vocab_size, seq_length, rules)
        if shape is None:
            continue
        score = abs(math.log(shape.hidden_size / shape.num_layers / rules.preferred_width_per_layer))
        if best is None or score < best[0]:
            best = (score, shape)
    if best is None:
        raise ValueError(
            f"no decoder-only shape with vocab_size {vocab_size} lands within "
            f"{rules.tolerance:.0%} of {target_params:,.0f} parameters; the embeddings alone hold "
            f"{vocab_size * 64 * 2:,} at the smallest width (64): raise target_params or lower vocab_size"
        )
    return best[1]
