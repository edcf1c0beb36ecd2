"""Memory per GPU of a Megatron-style training run, component by component.

Sources:
- Model states: Megatron-LM `megatron/training/theoretical_memory_usage.py` (NVIDIA/Megatron-LM
  @ d98e8a6), `num_bytes_per_parameter`: 18 bytes/param, or 6 + 12/DP with the distributed
  optimizer (bf16 weight 2 + fp32 main grad 4 + fp32 master 4 + Adam m 4 + v 4; the distributed
  optimizer = ZeRO-1 shards the last 12 over the data-parallel group). ZeRO-2/3 (Rajbhandari et
  al. 2020, Fig. 1) also shard gradients / weights over the data-parallel group.
- Activations: Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
  Models" (arXiv 2205.05198), §4 and Table 2: per layer s·b·h·(34 + 5·a·s/h) bytes without
  parallelism, 34 = 11 (attention) + 19 (MLP) + 4 (two norms); TP divides the 24 inside the TP
  regions, sequence parallelism (SP) divides the rest; selective recompute or FlashAttention
  (Dao et al. 2022) removes the 5·a·s/h term; full recompute keeps 2·s·b·h (the layer input).
  The first 1F1B pipeline stage holds p micro-batches of its L/p layers (§4.2.3), ×(1+(p−1)/(p·v))
  when interleaved; the embedding input adds 8·s·b + s·b·h per micro-batch and the output layer
  4·s·b·h·(1+V/h) (Megatron's theoretical_memory_usage.py l.330-376). Context parallelism
  divides s.

Generalised to GQA and SwiGLU term by term (the paper's terms, with q = query projection width,
k = KV projection width, f = FFN width): attention 2h (QKV input) + 2q + 2k (Q, K) + 2k (V) +
2q (output-projection input) + h (dropout mask) = 11h for MHA; MLP 2h (fc1 input) + 2f or 4f
(activation input, SwiGLU keeps gate and up) + 2f (fc2 input) + h (dropout mask) = 19h for a
GELU MLP with f = 4h; norms 4h.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.compute.parallel import stage_num_layers
from planner.compute.precision import get_precision
from planner.schema import ModelShape, ParallelLayout


def state_bytes_per_parameter(precision: str, zero_stage: int, data_parallel_size: int) -> tuple[float, float, float]:
    """(weights, gradients, optimizer) bytes per parameter of one rank's shard.

    zero_stage 0: replicated; 1 (Megatron distributed optimizer): optimizer / DP; 2: also
    gradients / DP; 3: also weights / DP (Rajbhandari et al. 2020, ZeRO, §5).
    bf16 with zero_stage 1 gives 2 + 4 + 12/DP = 6 + 12/DP (Megatron l.296).
    """
    table = get_precision(precision)  # bytes per parameter: Megatron theoretical_memory_usage.py l.293-296
    if zero_stage not in (0, 1, 2, 3):
        raise ValueError(f"zero_stage ({zero_stage}) must be 0, 1, 2 or 3")
    weights, grads, optim = table.weight_bytes, table.gradient_bytes, table.optimizer_bytes
    d = data_parallel_size
    return (
        weights / d if zero_stage >= 3 else weights,
        grads / d if zero_stage >= 2 else grads,
        optim / d if zero_stage >= 1 else optim,
    )


def padded_vocab_size(vocab_size: int, tensor_parallel_size: int, divisible_by: int = 128) -> int:
    """Megatron pads the vocabulary to a multiple of make_vocab_size_divisible_by × TP
    (megatron/training/tokenizer/tokenizer.py `_vocab_size_with_padding`)."""
    multiple = divisible_by * tensor_parallel_size
    return multiple * math.ceil(vocab_size / multiple)


def _layer_parameters(model: ModelShape, tp: int) -> tuple[int, int]:
    """(TP-sharded, replicated) parameters of one transformer layer on one TP rank.

    Megatron-Core ColumnParallelLinear splits the output dim (QKV, fc1, their biases),
    RowParallelLinear the input dim (proj, fc2; their biases are replicated); norms are replicated.
    """
    h, f = model.hidden_size, model.ffn_hidden_size
    q = h  # query projection width = kv_channels × heads = h in ModelShape
    kv = model.num_query_groups * model.head_dim
    fc1_out = 2 * f if model.activation == "swiglu" else f
    sharded = (h * (q + 2 * kv) + q * h + h * fc1_out + f * h) // tp
    norm = h * (2 if model.normalization == "LayerNorm" else 1)
    replicated = 2 * norm
    if model.add_bias_linear:
        sharded += (q + 2 * kv + fc1_out) // tp
        replicated += 2 * h
    return sharded, replicated


def per_rank_parameter_count(
    model: ModelShape, layout: ParallelLayout, tp_rank: int = 0, pp_rank: int = 0,
    *, make_vocab_size_divisible_by: int = 128,
) -> int:
    """Exact parameters held by the rank (tp_rank, pp_rank) of a Megatron-Core GPTModel.

    Layers: the stage's layer count × per-layer shard (see `_layer_parameters`); the first stage
    adds the vocab-parallel embedding V/t·h (and learned positions s·h, replicated); the last stage
    adds the final norm and the output layer V/t·h (a separate copy when embeddings are tied and
    p > 1, as Megatron keeps `shared_embedding` on both ends; none when tied and p = 1).
    `make_vocab_size_divisible_by` pads V to a multiple of it × TP as Megatron does (default 128;
    1 = no padding).
    Every TP rank holds the same count when TP divides heads, KV groups and the FFN width.
    """
    t, p = layout.tensor_model_parallel_size, layout.pipeline_model_parallel_size
    if not 0 <= tp_rank < t or not 0 <= pp_rank < p:
        raise ValueError(f"rank (tp {tp_rank}, pp {pp_rank}) outside TP={t}, PP={p}")
    for name, value in (("num_attention_heads", model.num_attention_heads),
                        ("num_query_groups", model.num_query_groups),
                        ("ffn_hidden_size", model.ffn_hidden_size)):
        if value % t:
            raise ValueError(f"tensor_model_parallel_size ({t}) must divide {name} ({value})")
    h = model.hidden_size
    vocab = padded_vocab_size(model.vocab_size, t, make_vocab_size_divisible_by)
    sharded, replicated = _layer_parameters(model, t)
    count = stage_num_layers(model.num_layers, layout)[pp_rank] * (sharded + replicated)
    if pp_rank == 0:
        count += vocab // t * h
        if model.position_embedding == "learned":
            count += model.seq_length * h
    if pp_rank == p - 1:
        count += h * (2 if model.normalization == "LayerNorm" else 1)
        if not model.tied_embeddings or p > 1:
            count += vocab // t * h
    return count


def sharding_group_size(layout: ParallelLayout) -> int:
    """Ranks the distributed optimizer / ZeRO shards over: Megatron-Core's data-parallel group
    *with* context parallelism (parallel_state `get_data_parallel_group(with_context_parallel=True)`),
    DP x CP; equal to DP when CP = 1 (as in Megatron's theoretical_memory_usage.py, which has no CP)."""
    return layout.data_parallel_size * layout.context_parallel_size


@dataclass(frozen=True)
class RankMemory:
    """Bytes on one GPU, by component; `total_bytes` is their sum."""

    pp_rank: int
    num_parameters: int
    weights_bytes: float
    gradients_bytes: float
    optimizer_bytes: float
    activations_bytes: float
    overhead_bytes: float

    @property
    def model_state_bytes(self) -> float:
        return self.weights_bytes + self.gradients_bytes + self.optimizer_bytes

    @property
    def total_bytes(self) -> float:
        return self.model_state_bytes + self.activations_bytes + self.overhead_bytes


def layer_activation_bytes_per_token(
    model: ModelShape, layout: ParallelLayout, *, precision: str = "bf16", flash_attention: bool = True,
    recompute: str | None = None,
) -> float:
    """Activation bytes one transformer layer keeps per token of one micro-batch (Korthikanti
    et al. 2022, Table 2, generalised to GQA/SwiGLU as in the module docstring); multiply by the
    tokens per CP rank, s/cp · b.

    recompute "none": all terms; "selective": without the 5·a·s/h attention-core term;
    "full": only the layer input (2h, ÷t with SP). FlashAttention also drops the 5·a·s/h term.
    `recompute` overrides layout.recompute.
    """
    recompute = recompute or layout.recompute
    t = layout.tensor_model_parallel_size
    sp_div = t if layout.sequence_parallel else 1
    unit = get_precision(precision).activation_bytes / 2  # the paper counts 2-byte activations, 1-byte masks
    h, q = model.hidden_size, model.hidden_size
    kv = model.num_query_groups * model.head_dim
    if recompute == "full":
        return 2 * h * unit / sp_div
    f = model.ffn_hidden_size
    act_in = 4 * f if model.activation == "swiglu" else 2 * f
    inside_tp = (2 * q + 4 * kv + 2 * q + act_in + 2 * f) * unit  # Q, K, V, proj input, MLP inner
    outside_tp = (4 * h + 2 * h + 2 * h) * unit + 2 * h  # norms, QKV and fc1 inputs; dropout masks
    per_token = inside_tp / t + outside_tp / sp_div
    if recompute == "none" and not flash_attention:
        s_local = model.seq_length / layout.context_parallel_size
        per_token += 5 * model.num_attention_heads * s_local * unit / t
    return per_token


def activation_bytes(
    model: ModelShape, layout: ParallelLayout, pp_rank: int = 0, *,
    precision: str = "bf16", flash_attention: bool = True, make_vocab_size_divisible_by: int = 128,
) -> float:
    """Peak activation bytes held by pipeline rank `pp_rank` (see module docstring).

    In-flight micro-batches under 1F1B: min(m, p − r) on rank r; with interleaving (v > 1) the first
    rank holds p·(1 + (p−1)/(p·v)) micro-batches' worth of its layers (Korthikanti et al. 2022,
    §4.2.3; Megatron l.343-366). Full recompute adds one layer's recomputed working set.
    Embedding input (8·s·b + s·b·h per micro-batch, ÷t) sits on rank 0, the output layer and loss
    (4·s·b·h·(1+V/h)/t for one micro-batch) on the last rank.
    """
    t, p, v = (layout.tensor_model_parallel_size, layout.pipeline_model_parallel_size,
               layout.virtual_pipeline_model_parallel_size)
    tokens = model.seq_length / layout.context_parallel_size * layout.micro_batch_size
    unit = get_precision(precision).activation_bytes / 2
    m = layout.num_microbatches
    layers = stage_num_layers(model.num_layers, layout)[pp_rank]
    if v > 1:
        in_flight = (p - pp_rank) * (1 + (p - 1) / (p * v))
    else:
        in_flight = min(m, p - pp_rank)
    per_layer = layer_activation_bytes_per_token(model, layout, precision=precision,
                                                 flash_attention=flash_attention)
    total = per_layer * tokens * layers * in_flight
    if layout.recompute == "full":
        total += layer_activation_bytes_per_token(model, layout, precision=precision, recompute="selective",
                                                  flash_attention=flash_attention) * tokens
    if pp_rank == 0:
        embed_in_flight = p * (1 + (p - 1) / (p * v)) if v > 1 else min(m, p)
        total += (8 + model.hidden_size * unit) * tokens * embed_in_flight / t
    if pp_rank == p - 1:
        vocab = padded_vocab_size(model.vocab_size, t, make_vocab_size_divisible_by)
        total += 4 * unit * tokens * model.hidden_size * (1 + vocab / model.hidden_size) / t
    return total


def peak_candidate_ranks(layout: ParallelLayout) -> tuple[int, ...]:
    """Pipeline ranks that can hold the most memory: the first (embedding, most micro-batches in
    flight), the last (output layer, logits) and, with an uneven split, the second (a full middle
    stage with p − 1 micro-batches in flight)."""
    p = layout.pipeline_model_parallel_size
    if p == 1:
        return (0,)
    if layout.num_layers_in_first_pipeline_stage is None and layout.num_layers_in_last_pipeline_stage is None:
        return (0, p - 1)
    return tuple(sorted({0, 1, p - 1}))


def per_rank_memory(
    model: ModelShape, layout: ParallelLayout, pp_rank: int | None = None, *,
    precision: str = "bf16", zero_stage: int | None = None, overhead_bytes: float = 0.0,
    flash_attention: bool = True, make_vocab_size_divisible_by: int = 128,
) -> RankMemory:
    """Bytes on one GPU of pipeline rank `pp_rank`, by component; `None` = the most loaded rank.

    zero_stage defaults to 1 with `layout.use_distributed_optimizer`, else 0.
    `overhead_bytes`: framework overhead (CUDA context, NCCL buffers), e.g. GpuSpec.framework_overhead_bytes.
    """
    if pp_rank is None:
        ranks = peak_candidate_ranks(layout)
        return max((per_rank_memory(model, layout, r, precision=precision, zero_stage=zero_stage,
                                    overhead_bytes=overhead_bytes, flash_attention=flash_attention,
                                    make_vocab_size_divisible_by=make_vocab_size_divisible_by)
                    for r in sorted(ranks)), key=lambda mem: mem.total_bytes)
    if zero_stage is None:
        zero_stage = 1 if layout.use_distributed_optimizer else 0
    params = per_rank_parameter_count(model, layout, 0, pp_rank,
                                      make_vocab_size_divisible_by=make_vocab_size_divisible_by)
    w, g, o = state_bytes_per_parameter(precision, zero_stage, sharding_group_size(layout))
    return RankMemory(
        pp_rank=pp_rank, num_parameters=params,
        weights_bytes=params * w, gradients_bytes=params * g, optimizer_bytes=params * o,
        activations_bytes=activation_bytes(
            model, layout, pp_rank, precision=precision, flash_attention=flash_attention,
            make_vocab_size_divisible_by=make_vocab_size_divisible_by),
        overhead_bytes=overhead_bytes,
    )
