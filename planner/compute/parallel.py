"""Megatron's parallel-layout rules, each written once, in one table.

A layout (TP x PP x VPP x CP x DP, micro-batch, global batch) runs under Megatron-LM only if its
sizes divide what they split. Every rule has a stable reason `code`, the Megatron name of the size it
constrains and its source (RULES). Three readers use the same predicates and messages:

- the search (planner.compute.layout) counts the layouts it rejects under the rule's code (the "rejected"
  counts of `llmplan layout --json`);
- `llmplan validate` checks a plan's layout (layout_violations, through planner.compute.layout.validate_plan_layout);
- `llmplan layout --tp/--pp/...` checks the sizes a user pins before searching (pinned_violations).

The rules that need only the layout (sequence parallelism, virtual stages, batch divisibility, the
interleaved schedule) are written in planner.schema.layout, so ParallelLayout's own validator
enforces them; they are listed here with the others.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from planner.schema import ModelShape, ParallelLayout
from planner.schema.layout import (Violation, batch_divides, choices, divisors, interleave_fits,
                                   layout_only_violations, nearest_multiples, shown_values)


@dataclass(frozen=True)
class Rule:
    code: str
    field: str
    """Megatron name of the size the rule constrains."""
    reason: str
    """One line, as `llmplan layout` prints why layouts were rejected."""
    source: str


_RULE_TABLE = """
tp_heads: tensor_model_parallel_size
    tensor_model_parallel_size does not divide num_attention_heads
    Megatron-LM megatron/core/transformer/transformer_config.py, TransformerConfig.__post_init__

tp_query_groups: tensor_model_parallel_size
    tensor_model_parallel_size does not divide num_query_groups
    Megatron-LM transformer_config.py, TransformerConfig.__post_init__ (llmplan does not replicate KV heads)

tp_ffn: tensor_model_parallel_size
    tensor_model_parallel_size does not divide ffn_hidden_size
    Megatron-LM megatron/core/tensor_parallel/layers.py: ColumnParallelLinear splits its output width by TP
    (megatron/core/utils.py divide asserts divisibility)

tp_node: tensor_model_parallel_size
    tensor_model_parallel_size does not divide gpus_per_node
    Narayanan et al. 2021, Sec. 3.3, Takeaway #1: tensor parallelism within a node, so TP groups stay on NVLink

sp_needs_tp: sequence_parallel
    sequence_parallel needs tensor_model_parallel_size > 1
    Megatron-LM megatron/training/arguments.py turns sequence_parallel off at TP 1 (a plan says what runs)

pp_layers: pipeline_model_parallel_size
    pipeline_model_parallel_size x virtual stages does not divide num_layers
    Megatron-LM arguments.py and transformer_config.py (num_layers per pipeline and virtual stage); uneven
    splits: --decoder-first/last-pipeline-num-layers, --account-for-embedding/loss-in-pipeline-split

vpp_needs_pp: virtual_pipeline_model_parallel_size
    virtual stages need pipeline_model_parallel_size > 1
    Megatron-LM arguments.py: the interleaved schedule needs pipeline parallelism

cp_sequence: context_parallel_size
    2 x context_parallel_size does not divide seq_length
    Megatron-LM megatron/training/utils.py get_batch_on_this_cp_rank: the load-balanced causal split cuts
    the sequence into 2 x CP chunks

num_gpus: data_parallel_size
    tensor x pipeline x context x data parallel sizes are not the number of GPUs
    Megatron-LM arguments.py: data_parallel_size = world_size / (TP x PP x CP), which must divide

batch: global_batch_size
    micro_batch_size x data_parallel_size does not divide global_batch_size
    Megatron-LM megatron/core/num_microbatches_calculator.py

interleave_microbatches: global_batch_size
    interleaved schedule needs num_microbatches to be a multiple of pipeline_model_parallel_size
    Megatron-LM megatron/core/pipeline_parallel/schedules.py; Narayanan et al. 2021, Sec. 2.2.2

batch_tokens: global_batch_size
    global_batch_size x seq_length is not the recipe's global_batch_tokens
    llmplan: the layout and the recipe describe the same batch
"""
"""Each rule: `code: field` (the Megatron name of the size it constrains), the reason `llmplan layout`
prints for layouts rejected by it, and its source."""


def _parse_rules(table: str) -> tuple[Rule, ...]:
    rules = []
    for block in table.strip().split("\n\n"):
        head, reason, *source = [line.strip() for line in block.splitlines()]
        code, field = head.split(": ")
        rules.append(Rule(code, field, reason, " ".join(source)))
    return tuple(rules)


RULES = _parse_rules(_RULE_TABLE)
RULE_BY_CODE = {rule.code: rule for rule in RULES}

REASONS = {**{rule.code: rule.reason for rule in RULES if rule.code not in ("sp_needs_tp", "vpp_needs_pp",
                                                                              "num_gpus", "batch_tokens")},
           "out_of_memory": "does not fit in GPU memory with headroom",
           "slower_bound": "cannot reach the top K: its pipeline time alone (compute, bubble, TP/CP/PP "
                           "communication; a lower bound on its step time) exceeds the K+1-th fastest step"}
"""Why the search rejects a layout (keys of LayoutSearchResult.rejected and of `llmplan layout --json`'s
"rejected", in the order they are counted); the search never builds layouts that break the others."""

TENSOR_SPLITS = (("tp_heads", "num_attention_heads"), ("tp_query_groups", "num_query_groups"),
                 ("tp_ffn", "ffn_hidden_size"))
"""The model widths tensor parallelism splits, with their rule codes."""


class NodeShape(Protocol):
    """What the rules need of the cluster: a ClusterSpec, or a plan's LayoutPlan."""

    gpus_per_node: int


def tensor_breaks(t: int, model: ModelShape, gpus_per_node: int) -> list[str]:
    """Codes of the tensor-parallel rules TP size `t` breaks: the model widths it must divide
    (TENSOR_SPLITS), then `tp_node`."""
    out = [code for code, name in TENSOR_SPLITS if getattr(model, name) % t]
    if gpus_per_node % t:
        out.append("tp_node")
    return out


def cp_fits(cp: int, seq_length: int) -> bool:
    """Rule `cp_sequence`: 2 x CP divides seq_length (CP 1 always fits)."""
    return cp == 1 or seq_length % (2 * cp) == 0


def stage_num_layers(num_layers: int, layout: ParallelLayout) -> list[int]:
    """Transformer layers held by each pipeline rank (all its virtual chunks together).

    Even split L/p, or Megatron's uneven split with --decoder-first/last-pipeline-num-layers
    (the Llama 3 405B run: 126 layers on 16 stages as 7 + 14×8 + 7, Llama Team 2024, §3.3.2).
    Raises ValueError (rule `pp_layers`) when the layers cannot be split that way.
    """
    return list(stage_layer_counts(num_layers, layout.pipeline_model_parallel_size,
                                   layout.num_layers_in_first_pipeline_stage,
                                   layout.num_layers_in_last_pipeline_stage))


@lru_cache(maxsize=4096)
def stage_layer_counts(num_layers: int, p: int, first: int | None, last: int | None) -> tuple[int, ...]:
    """stage_num_layers from the sizes alone (cached: the search asks for the same splits often)."""
    if first is None and last is None:
        if num_layers % p:
            raise ValueError(f"pipeline_model_parallel_size ({p}) must divide num_layers ({num_layers})")
        return (num_layers // p,) * p
    if p == 1:
        raise ValueError("num_layers_in_first/last_pipeline_stage need pipeline_model_parallel_size > 1")
    first = first if first is not None else 0
    last = last if last is not None else 0
    middle_stages = p - (first > 0) - (last > 0)
    rest = num_layers - first - last
    if rest < 0 or (middle_stages and rest % middle_stages) or (not middle_stages and rest):
        raise ValueError(
            f"num_layers ({num_layers}) minus first ({first}) and last ({last}) stage layers must "
            f"split evenly over the other {middle_stages} pipeline stages"
        )
    mid = rest // middle_stages if middle_stages else 0
    counts = [mid] * p
    if first:
        counts[0] = first
    if last:
        counts[-1] = last
    return tuple(counts)


def stage_splits(num_layers: int, p: int, allow_uneven: bool) -> list[tuple[int | None, int | None]]:
    """Rule `pp_layers` as the search enumerates it: the (first, last) stage layer counts of PP size
    `p`, [(None, None)] when p divides the layers, [] when no split is allowed.

    Preferred uneven split: Megatron's --account-for-embedding/loss-in-pipeline-split, where the
    embedding and the loss each take a layer's slot, so the first and last stage hold one layer less
    (Llama 3 405B: 126 layers on 16 stages as 7 + 14x8 + 7, Llama Team 2024, Sec. 3.3.2). Otherwise
    --decoder-first/last-pipeline-num-layers with ceil(L/p) layers on every middle stage and the
    remainder shared by the first and last stage (both lighter: they also hold embedding and loss).
    """
    if num_layers % p == 0:
        return [(None, None)]
    if not allow_uneven or p < 3:
        return []
    if (num_layers + 2) % p == 0 and (num_layers + 2) // p >= 2:
        per_stage = (num_layers + 2) // p
        return [(per_stage - 1, per_stage - 1)]
    mid = -(-num_layers // p)
    rest = num_layers - (p - 2) * mid
    if rest >= 2:
        return [(rest // 2, rest - rest // 2)]
    return []


def virtual_stage_counts(num_layers: int, p: int, first: int | None, last: int | None, limit: int) -> list[int]:
    """Rule `pp_layers` for virtual stages: the counts (up to `limit`) that divide the layer slots per
    rank, for even or account-for-embedding/loss splits (other uneven splits run without)."""
    if p == 1:
        return [1]
    if first is None:
        slots = num_layers // p
    elif first == last and (num_layers + 2) == (first + 1) * p:
        slots = first + 1
    else:
        return [1]
    return divisors(slots, min(slots, limit))


def layout_violations(layout: ParallelLayout, model: ModelShape, cluster: NodeShape, *,
                      num_gpus: int | None = None, global_batch_tokens: float | None = None) -> list[Violation]:
    """Every rule `layout` breaks for `model` on nodes of `cluster.gpus_per_node` GPUs, each with its
    numbers and the nearest valid values; `num_gpus` and `global_batch_tokens` (a plan's) add the
    rules `num_gpus` and `batch_tokens`. Empty when the layout can run."""
    lay, gpn = layout, cluster.gpus_per_node
    t, p = lay.tensor_model_parallel_size, lay.pipeline_model_parallel_size
    cp, d, L = lay.context_parallel_size, lay.data_parallel_size, model.num_layers
    alone = {violation.code: violation for violation in layout_only_violations(lay)}
    broken = tensor_breaks(t, model, gpn)
    out = []
    for code, name in TENSOR_SPLITS:
        if code in broken:
            value = getattr(model, name)
            fits = [k for k in divisors(value) if k <= max(gpn, t)] if value > 64 else divisors(value)
            out.append(Violation(code, "tensor_model_parallel_size", f"tensor_model_parallel_size ({t}) must "
                                 f"divide {name} ({value}); try {choices(fits)}", shown_values(fits)))
    if "tp_node" in broken:
        out.append(Violation("tp_node", "tensor_model_parallel_size", f"tensor_model_parallel_size ({t}) must "
                             f"divide gpus_per_node ({gpn}) so TP groups stay inside a node; "
                             f"try {choices(divisors(gpn))}", shown_values(divisors(gpn))))
    out += [alone[code] for code in ("sp_needs_tp",) if code in alone]
    out += _pipeline_violations(lay, L, alone)
    if num_gpus is not None and t * p * cp * d != num_gpus:
        rest = t * p * cp
        hint = (f"try data_parallel_size {num_gpus // rest}" if num_gpus % rest == 0 else
                f"try num_gpus {choices(nearest_multiples(num_gpus, rest))}")
        fixes = (num_gpus // rest,) if num_gpus % rest == 0 else ()
        out.append(Violation("num_gpus", "data_parallel_size", f"tensor ({t}) x pipeline ({p}) x context ({cp}) x "
                             f"data ({d}) parallel sizes = {t * p * cp * d} GPUs but the plan has {num_gpus}; {hint}",
                             fixes))
    out += [alone[code] for code in ("batch",) if code in alone]
    if not cp_fits(cp, model.seq_length):
        fits = [c for c in divisors(model.seq_length // 2) if c <= 64]
        out.append(Violation("cp_sequence", "context_parallel_size", f"2 x context_parallel_size ({2 * cp}) must "
                             f"divide seq_length ({model.seq_length}); try {choices(fits)}", shown_values(fits)))
    tokens = lay.global_batch_size * model.seq_length
    if global_batch_tokens is not None and abs(tokens - global_batch_tokens) > 0.5:
        out.append(Violation("batch_tokens", "global_batch_size", f"{lay.global_batch_size} sequences x "
                             f"{model.seq_length} tokens = {tokens:,} tokens but recipe.global_batch_tokens is "
                             f"{global_batch_tokens:,.0f}"))
    return out


def _pipeline_violations(lay: ParallelLayout, L: int, alone: dict[str, Violation]) -> list[Violation]:
    """Rules `pp_layers`, `vpp_needs_pp` and `interleave_microbatches`; only the split's when the
    layers do not split over the stages at all."""
    p, v = lay.pipeline_model_parallel_size, lay.virtual_pipeline_model_parallel_size
    try:
        layers = stage_num_layers(L, lay)
    except ValueError as exc:
        fits = [k for k in divisors(L) if k > 1 or p == 1]
        return [Violation("pp_layers", "pipeline_model_parallel_size", f"{exc}; try {choices(fits)}",
                          shown_values(fits))]
    if v == 1:
        return []
    out = [alone[code] for code in ("vpp_needs_pp",) if code in alone]
    slots = layers[1] if p > 2 else layers[0]
    if lay.num_layers_in_first_pipeline_stage is None and L % (p * v):
        out.append(Violation("pp_layers", "virtual_pipeline_model_parallel_size",
                             f"pipeline_model_parallel_size x virtual stages ({p} x {v} = {p * v}) must divide "
                             f"num_layers ({L}); try virtual stages {choices(divisors(slots))}",
                             shown_values(divisors(slots))))
    return out + [alone[code] for code in ("interleave_microbatches",) if code in alone]


def pinned_violations(model: ModelShape, num_gpus: int, gpus_per_node: int, global_batch_size: int, *,
                      tp: int | None = None, pp: int | None = None, cp: int | None = None,
                      vpp: int | None = None, mbs: int | None = None) -> list[Violation]:
    """Rules that the sizes a user pins (`llmplan layout --tp/--pp/--cp/--vpp/--mbs`) break on their
    own, before any search: each message names the option, the rule and the nearest valid values."""
    out: list[Violation] = []
    if tp is not None:
        codes = {"num_gpus": "num_gpus", "gpus_per_node": "tp_node", **{name: code for code, name in TENSOR_SPLITS}}
        for name, value in (("num_gpus", num_gpus), ("gpus_per_node", gpus_per_node),
                            *((name, getattr(model, name)) for _, name in TENSOR_SPLITS)):
            if value % tp:
                fits = [k for k in divisors(value) if k <= gpus_per_node and num_gpus % k == 0]
                out.append(Violation(codes[name], "tensor_model_parallel_size", f"--tp: tensor_model_parallel_size "
                                     f"({tp}) must divide {name} ({value}); try {choices(fits)}", shown_values(fits)))
    tp_ok = tp if tp is not None and not out else 1
    if pp is not None:
        if num_gpus % (pp * tp_ok):
            fits = [k for k in divisors(num_gpus // tp_ok) if k <= model.num_layers]
            out.append(Violation("num_gpus", "pipeline_model_parallel_size", f"--pp: pipeline_model_parallel_size "
                                 f"({pp}) x tensor ({tp_ok}) must divide num_gpus ({num_gpus}); try {choices(fits)}",
                                 shown_values(fits)))
        elif pp > model.num_layers:
            fits = [k for k in divisors(model.num_layers) if num_gpus % k == 0]
            out.append(Violation("pp_layers", "pipeline_model_parallel_size", f"--pp: pipeline_model_parallel_size "
                                 f"({pp}) exceeds num_layers ({model.num_layers}); try {choices(fits)}",
                                 shown_values(fits)))
    if vpp is not None and vpp > 1:
        if (pp or 1) == 1:
            out.append(Violation("vpp_needs_pp", "virtual_pipeline_model_parallel_size",
                                 f"--vpp: virtual stages ({vpp}) need --pp > 1"))
        elif model.num_layers % ((pp or 1) * vpp) and (model.num_layers + 2) % ((pp or 1) * vpp):
            per_stage = model.num_layers // (pp or 1)
            fits = divisors(per_stage) if per_stage else [1]
            out.append(Violation("pp_layers", "virtual_pipeline_model_parallel_size", f"--vpp: pipeline ({pp}) x "
                                 f"virtual stages ({vpp}) must divide num_layers ({model.num_layers}); "
                                 f"try {choices(fits)}", shown_values(fits)))
    if cp is not None and cp > 1:
        if not cp_fits(cp, model.seq_length):
            fits = [c for c in divisors(model.seq_length // 2) if c <= 64]
            out.append(Violation("cp_sequence", "context_parallel_size", f"--cp: 2 x context_parallel_size ({2 * cp}) "
                                 f"must divide seq_length ({model.seq_length}); try {choices(fits)}", shown_values(fits)))
        if num_gpus % (cp * (tp or 1) * (pp or 1)):
            out.append(Violation("num_gpus", "context_parallel_size", f"--cp: context ({cp}) x tensor ({tp or 1}) x "
                                 f"pipeline ({pp or 1}) parallel sizes must divide num_gpus ({num_gpus})"))
    if None not in (tp, pp, cp) and not out:
        dp = num_gpus // (tp * pp * cp)
        step = (mbs or 1) * dp
        if not batch_divides(global_batch_size, mbs or 1, dp):
            micro = [b for b in divisors(global_batch_size // dp) if b <= 16] if global_batch_size % dp == 0 else []
            fixes = nearest_multiples(global_batch_size, step)
            hint = (f"try --mbs {choices(micro)} or " if micro and mbs else "try ") + \
                f"--global-batch-size {choices(fixes)}"
            out.append(Violation("batch", "global_batch_size", f"--global-batch-size: micro_batch_size ({mbs or 1}) x "
                                 f"data_parallel_size ({dp}) = {step} must divide global_batch_size "
                                 f"({global_batch_size}); {hint}", fixes))
    return out


__all__ = ["REASONS", "RULES", "RULE_BY_CODE", "Rule", "Violation", "cp_fits", "divisors", "interleave_fits",
           "layout_violations",
           "batch_divides", "pinned_violations", "stage_layer_counts", "stage_num_layers", "stage_splits", "tensor_breaks",
           "virtual_stage_counts"]
