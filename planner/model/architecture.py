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


PUBLISHED_SHAPES: tuple[tuple[str, float, int, int], ...] = (
    # (model, parameters, layers, hidden): the aspect ratios derive_shape stays among
    ("GPT-3 Small", 125e6, 12, 768), ("GPT-3 Medium", 350e6, 24, 1024), ("GPT-3 XL", 1.3e9, 24, 2048),
    ("GPT-3 2.7B", 2.7e9, 32, 2560), ("GPT-3 6.7B", 6.7e9, 32, 4096), ("GPT-3 13B", 13e9, 40, 5140),
    ("GPT-3 175B", 175e9, 96, 12288),  # Brown et al. 2020, Table 2.1
    ("Pythia-160M", 160e6, 12, 768), ("Pythia-410M", 410e6, 24, 1024), ("Pythia-1B", 1e9, 16, 2048),
    ("Pythia-12B", 12e9, 36, 5120),  # Biderman et al. 2023, Table 1
    ("Llama-2-7B", 6.7e9, 32, 4096), ("Llama-2-13B", 13e9, 40, 5120), ("Llama-2-70B", 69e9, 80, 8192),
    ("Llama-3-405B", 405e9, 126, 16384),  # Touvron et al. 2023, Table 1; Llama Team 2024, Table 3
    ("Chinchilla", 70e9, 80, 8192), ("Gopher", 280e9, 80, 16384),  # Hoffmann et al. 2022; Rae et al. 2021
    ("PaLM-540B", 540e9, 118, 18432),  # Chowdhery et al. 2022, Table 1
    ("MT-NLG-530B", 530e9, 105, 20480),  # Smith et al. 2022
    ("Falcon-180B", 180e9, 80, 14848),  # Almazrouei et al. 2023
)
"""Published decoder-only shapes: hidden / layers runs from 43 (GPT-3 Medium, Pythia-410M) to 205
(Gopher); derive_shape keeps within the range of models within 4x of the target size."""

ASPECT_ANCHORS: tuple[tuple[float, float], ...] = ((1e6, 32.0), (1e8, 56.0), (3e8, 56.0), (7e9, 128.0), (1e11, 128.0), (1e12, 160.0))
"""(parameters, hidden/layers) that derive_shape aims at, log-interpolated: 56 between GPT-3 Medium (43) and Small (64), 128 for
Llama 2 7B-13B and GPT-3 175B, rising to 160 toward PaLM-540B (156) and MT-NLG (195) at 1T."""

MAX_PARAMS = 1e15
"""The largest model derive_shape lays out (hidden 65536 x ~1000 layers)."""


def aspect_ratio_band(num_params: float) -> tuple[float, float]:
    """(lowest, highest) hidden/layers among PUBLISHED_SHAPES within 4x of num_params (the nearest
    model when none is that close)."""
    near = [h / n for _, p, n, h in PUBLISHED_SHAPES if num_params / 4 <= p <= num_params * 4]
    if not near:
        _, _, n, h = min(PUBLISHED_SHAPES, key=lambda row: abs(math.log(row[1] / num_params)))
        near = [h / n]
    return min(near), max(near)


def target_aspect_ratio(num_params: float) -> float:
    """hidden/layers for a model of num_params, log-linear between ASPECT_ANCHORS (clamped at the ends)."""
    xs = [math.log(p) for p, _ in ASPECT_ANCHORS]
    x = min(max(math.log(num_params), xs[0]), xs[-1])
    for (p0, r0), (p1, r1) in zip(ASPECT_ANCHORS, ASPECT_ANCHORS[1:]):
        if x <= math.log(p1):
            t = (x - math.log(p0)) / (math.log(p1) - math.log(p0))
            return math.exp(math.log(r0) + t * (math.log(r1) - math.log(r0)))
    return ASPECT_ANCHORS[-1][1]


def _hidden_candidates() -> list[int]:
    """Widths on a grid of about 1/8 of the width: steps of 64 to 1024, 128 to 2048, 256 to 4096, 512 to
    8192, then 1024 (head counts multiples of 1, 2, 2, 4 and 8 at the head dimension of head_dim_for)."""
    grid = list(range(64, 1024, 64)) + list(range(1024, 2048, 128)) + list(range(2048, 4096, 256))
    return grid + list(range(4096, 8192, 512)) + list(range(8192, 65536 + 1, 1024))


def _layer_candidates() -> list[int]:
    """Layer counts: any up to 12, even up to 24, then multiples of 4 (so pipeline stages divide them)."""
    return list(range(1, 12)) + list(range(12, 24, 2)) + list(range(24, 1025, 4))


def _nearest(grid: list[int], value: float) -> int:
    """The grid point nearest value in log space (a monotone map: larger values never map lower)."""
    return min(grid, key=lambda g: (abs(math.log(g / value)), g))


def _common(hidden: int, vocab: int, seq: int, rules: ShapeRules) -> dict:
    heads = hidden // head_dim_for(hidden)
    groups = max(1, min(rules.max_query_groups, heads // 2))
    while heads % groups:
        groups -= 1
    return dict(hidden_size=hidden, num_attention_heads=heads, num_query_groups=groups, vocab_size=vocab,
                seq_length=seq, activation=rules.activation, position_embedding=rules.position_embedding,
                normalization=rules.normalization, tied_embeddings=rules.tied_embeddings,
                add_bias_linear=rules.add_bias_linear)


def _monotone_size(target: float, vocab: int, seq: int, rules: ShapeRules) -> tuple[int, int]:
    """(layers, hidden): the continuous L with hidden = r(N)·L whose SwiGLU model holds `target`, each
    rounded to its grid. L and r(N)·L both grow with N, so neither rounded value ever decreases."""
    ratio = target_aspect_ratio(target)
    lo, hi = 0.0, 12.0  # log L
    for _ in range(60):
        mid = (lo + hi) / 2
        n_layers = math.exp(mid)
        h = ratio * n_layers
        approx = n_layers * (2.5 * h * h + 8 * h * h) + 2 * vocab * h  # attention (GQA) + SwiGLU MLP + embeddings
        lo, hi = (mid, hi) if approx < target else (lo, mid)
    n_layers = math.exp((lo + hi) / 2)
    return _nearest(_layer_candidates(), n_layers), _nearest(_hidden_candidates(), ratio * n_layers)


def _with_ffn(layers: int, hidden: int, target: float, vocab: int, seq: int, rules: ShapeRules) -> ModelShape | None:
    """The shape at (layers, hidden) whose FFN width (Llama's 8h/3 when it lands within tolerance, else
    solved and rounded to a multiple of 32 within 2h..4h, the range of Llama 1-3) holds `target`."""
    common = _common(hidden, vocab, seq, rules)
    standard = swiglu_ffn_size(hidden) if rules.activation == "swiglu" else 4 * hidden
    total = count_params(num_layers=layers, ffn_hidden_size=standard, **common)
    if abs(total - target) <= rules.tolerance * target:
        return ModelShape(num_layers=layers, ffn_hidden_size=standard, num_params=total, **common)
    base = count_params(num_layers=layers, ffn_hidden_size=0, **common)
    per_unit = (count_params(num_layers=layers, ffn_hidden_size=32, **common) - base) / 32
    ffn = 32 * round((target - base) / per_unit / 32)
    if not 2 * hidden <= ffn <= 4 * hidden:
        return None
    total = count_params(num_layers=layers, ffn_hidden_size=ffn, **common)
    if abs(total - target) > rules.tolerance * target:
        return None
    return ModelShape(num_layers=layers, ffn_hidden_size=ffn, num_params=total, **common)


def smallest_params(vocab_size: int, seq_length: int, rules: ShapeRules | None = None) -> int:
    """Parameters of the smallest shape derive_shape can lay out (one layer at width 64)."""
    rules = rules or ShapeRules()
    common = _common(64, vocab_size, seq_length, rules)
    return count_params(num_layers=1, ffn_hidden_size=swiglu_ffn_size(64), **common)


def _candidate(hidden: int, target: float, vocab: int, seq: int, rules: ShapeRules) -> ModelShape | None:
    common = _common(hidden, vocab, seq, rules)
    common["ffn_hidden_size"] = swiglu_ffn_size(hidden) if rules.activation == "swiglu" else 4 * hidden
    base = count_params(num_layers=0, **common)
    per_layer = count_params(num_layers=1, **common) - base
    exact = (target - base) / per_layer
    step = 4 if exact >= 12 else 1  # layer counts that pipeline stages divide
    layers = max(step, step * round(exact / step))
    total = base + layers * per_layer
    if abs(total - target) > rules.tolerance * target:
        return None
    return ModelShape(num_layers=layers, num_params=total, **common)


def _searched_shape(target_params: float, vocab_size: int, seq_length: int, rules: ShapeRules) -> ModelShape | None:
    """The pre-issue-13 search (any width, h/L nearest preferred_width_per_layer): the fallback for
    models dominated by their embeddings, where the monotone rule's FFN range cannot reach the target."""
    best: tuple[float, ModelShape] | None = None
    for hidden in _hidden_candidates():
        shape = _candidate(hidden, target_params, vocab_size, seq_length, rules)
        if shape is None:
            continue
        score = abs(math.log(shape.hidden_size / shape.num_layers / rules.preferred_width_per_layer))
        if best is None or score < best[0]:
            best = (score, shape)
    return None if best is None else best[1]


def derive_shape(
    target_params: float, *, vocab_size: int, seq_length: int, rules: ShapeRules | None = None
) -> ModelShape:
    """A decoder-only shape whose exact parameter count is within `rules.tolerance` of the target.

    Monotone in the target (issue 13): the layer count L and width h follow h = r(N)·L with the
    aspect ratio r(N) of ASPECT_ANCHORS (in the range of PUBLISHED_SHAPES; Kaplan et al. 2020, Fig. 5:
    loss is flat over a wide range of aspect ratios), each rounded to its grid, so neither ever
    decreases as N grows; heads follow the head dimension, GQA groups, and the FFN width (8h/3 as
    in Llama, or solved within 2h..4h) absorbs the rounding. When that cannot reach the target (models
    made mostly of embeddings) the older search over widths is used.
    """
    rules = rules or ShapeRules()
    if not math.isfinite(target_params) or target_params > MAX_PARAMS:
        raise ValueError(f"{target_params:.3g} parameters is over the largest model the planner lays out ({MAX_PARAMS:.0e})")
    layers, hidden = _monotone_size(target_params, vocab_size, seq_length, rules)
    shape = _with_ffn(layers, hidden, target_params, vocab_size, seq_length, rules)
    if shape is None:
        shape = _searched_shape(target_params, vocab_size, seq_length, rules)
    if shape is None:
        raise ValueError(
            f"no decoder-only shape with vocab_size {vocab_size} lands within "
            f"{rules.tolerance:.0%} of {target_params:,.0f} parameters; the embeddings alone hold "
            f"{vocab_size * 64 * 2:,} at the smallest width (64): raise target_params or lower vocab_size"
        )
    return shape
