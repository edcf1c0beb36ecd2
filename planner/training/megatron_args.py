"""A plan as Megatron-LM `pretrain_gpt.py` arguments, to take it to one's own Megatron-LM checkout.

Argument names follow megatron/training/arguments.py and the argparse metadata of
megatron/core/transformer/transformer_config.py (NVIDIA/Megatron-LM @ d98e8a6); every flag is
parsed by that parser's options in tests/planner/test_megatron_args.py. Everything the plan decides
is an argument: shape, layout, the communication overlap the step-time model assumes
(planner.compute.step_time.DEFAULT_STEP_MODEL), precision, schedule and batch ramp-up, the checkpoint
interval of the failure plan (`--save-interval`), evaluation, and the data blend with its weights
and validation split. Data directory, tokenizer and checkpoint paths are placeholders.
"""

from __future__ import annotations

import shlex

from planner.schema import RunPlan
from planner.compute.step_time import DEFAULT_STEP_MODEL

LR_DECAY_STYLE = {"cosine": "cosine", "linear": "linear", "constant": "constant", "wsd": "WSD"}
WSD_DECAY_FRACTION = 0.2
"""Share of the steps a WSD schedule spends decaying (Hägele et al. 2024, "Scaling Laws and
Compute-Optimal Training Beyond Fixed Training Durations": 10-20% cooldown)."""


def _shape_args(plan: RunPlan) -> list[tuple[str, object]]:
    m = plan.model
    args: list[tuple[str, object]] = [
        ("--num-layers", m.num_layers), ("--hidden-size", m.hidden_size),
        ("--num-attention-heads", m.num_attention_heads), ("--ffn-hidden-size", m.ffn_hidden_size),
        ("--seq-length", m.seq_length), ("--max-position-embeddings", m.seq_length),
        ("--vocab-size", m.vocab_size), ("--make-vocab-size-divisible-by", 128),
        ("--position-embedding-type", "rope" if m.position_embedding == "rope" else "learned_absolute"),
        ("--normalization", m.normalization),
    ]
    if m.num_query_groups != m.num_attention_heads:
        args += [("--group-query-attention", None), ("--num-query-groups", m.num_query_groups)]
    if m.activation == "swiglu":
        args.append(("--swiglu", None))
    if not m.add_bias_linear:
        args.append(("--disable-bias-linear", None))
    if not m.tied_embeddings:
        args.append(("--untie-embeddings-and-output-weights", None))
    return args


def _pipeline_args(plan: RunPlan) -> list[tuple[str, object]]:
    lay, L = plan.layout.layout, plan.model.num_layers
    p, v = lay.pipeline_model_parallel_size, lay.virtual_pipeline_model_parallel_size
    first, last = lay.num_layers_in_first_pipeline_stage, lay.num_layers_in_last_pipeline_stage
    args: list[tuple[str, object]] = [("--pipeline-model-parallel-size", p)]
    if first is not None and first == last and (L + 2) % p == 0 and first == (L + 2) // p - 1:
        args += [("--account-for-embedding-in-pipeline-split", None),
                 ("--account-for-loss-in-pipeline-split", None)]
        if v > 1:
            args.append(("--num-virtual-stages-per-pipeline-rank", v))
        return args
    if first is not None:
        args.append(("--decoder-first-pipeline-num-layers", first))
    if last is not None:
        args.append(("--decoder-last-pipeline-num-layers", last))
    if v > 1:
        args.append(("--num-layers-per-virtual-pipeline-stage", L // (p * v)))
    return args


def _parallel_args(plan: RunPlan) -> list[tuple[str, object]]:
    lay = plan.layout.layout
    args: list[tuple[str, object]] = [("--tensor-model-parallel-size", lay.tensor_model_parallel_size)]
    args += _pipeline_args(plan)
    args.append(("--context-parallel-size", lay.context_parallel_size))
    if lay.sequence_parallel:
        args.append(("--sequence-parallel", None))
    args += _overlap_args(plan)
    if lay.recompute == "selective":
        args.append(("--recompute-activations", None))
    elif lay.recompute == "full":
        args += [("--recompute-granularity", "full"), ("--recompute-method", "uniform"),
                 ("--recompute-num-layers", 1)]
    args += [("--micro-batch-size", lay.micro_batch_size), ("--global-batch-size", lay.global_batch_size)]
    return args


def _overlap_args(plan: RunPlan) -> list[tuple[str, object]]:
    """The overlap the step time was predicted with (DEFAULT_STEP_MODEL's *_overlap_fraction).

    Megatron's validate_args (arguments.py @ d98e8a6): `--overlap-param-gather` needs the
    distributed optimizer and `--overlap-grad-reduce`; `--tp-comm-overlap` needs sequence
    parallelism and Transformer Engine. Context parallelism overlaps its ring exchange (`p2p`).
    """
    lay, sm = plan.layout.layout, DEFAULT_STEP_MODEL
    args: list[tuple[str, object]] = []
    if lay.use_distributed_optimizer:
        args.append(("--use-distributed-optimizer", None))
    if lay.data_parallel_size * lay.context_parallel_size > 1 and sm.dp_overlap_fraction > 0:
        args.append(("--overlap-grad-reduce", None))
        if lay.use_distributed_optimizer:
            args.append(("--overlap-param-gather", None))
    if lay.tensor_model_parallel_size > 1 and lay.sequence_parallel and sm.tp_overlap_fraction > 0:
        args += [("--tp-comm-overlap", None), ("--transformer-impl", "transformer_engine")]
    if lay.context_parallel_size > 1 and sm.cp_overlap_fraction > 0:
        args.append(("--cp-comm-type", "p2p"))
    return args


def _checkpoint_and_data_args(plan: RunPlan) -> list[tuple[str, object]]:
    """`--save-interval` from the failure plan; the data blend as the prepare stage names it.

    `llmplan prepare` writes one Megatron prefix per source and split, `NAME_text_document` and
    `NAME_val_text_document` (executor/prepare/writer.py), weighted as in plan.data.sources.
    """
    args: list[tuple[str, object]] = []
    if plan.reliability is not None:
        args.append(("--save-interval", plan.reliability.checkpoint_interval_steps))
    sources = plan.data.sources
    train = tuple(x for src in sources for x in (src.weight, f"DATA_DIR/{src.name}_text_document"))
    args.append(("--train-data-path", train))
    if plan.data.validation_fraction > 0:
        valid = tuple(x for src in sources for x in (src.weight, f"DATA_DIR/{src.name}_val_text_document"))
        args.append(("--valid-data-path", valid))
    return args


def _precision_args(precision: str) -> list[tuple[str, object]]:
    return {"bf16": [("--bf16", None)], "fp16": [("--fp16", None)],
            "fp8": [("--bf16", None), ("--fp8-format", "hybrid")], "fp32": []}[precision]


def _recipe_args(plan: RunPlan) -> list[tuple[str, object]]:
    r = plan.recipe
    args: list[tuple[str, object]] = [
        ("--train-iters", r.train_steps), ("--lr", r.lr), ("--min-lr", r.min_lr),
        ("--lr-decay-style", LR_DECAY_STYLE[r.lr_decay_style]), ("--lr-warmup-iters", r.warmup_steps),
        ("--lr-decay-iters", r.train_steps),
    ]
    if r.lr_decay_style == "wsd":
        decay = r.lr_wsd_decay_steps or max(1, round(WSD_DECAY_FRACTION * r.train_steps))
        args += [("--lr-wsd-decay-style", "linear"), ("--lr-wsd-decay-iters", decay)]
    if r.batch_size_rampup and r.rampup_batch_size:
        args.append(("--rampup-batch-size", tuple(r.rampup_batch_size)))  # start, increment, samples
    args += [
        ("--adam-beta1", r.adam_beta1), ("--adam-beta2", r.adam_beta2), ("--adam-eps", r.adam_eps),
        ("--weight-decay", r.weight_decay), ("--clip-grad", r.clip_grad),
        ("--hidden-dropout", r.hidden_dropout), ("--attention-dropout", r.attention_dropout),
        ("--init-method-std", r.init_method_std), ("--seed", r.seed),
        ("--eval-interval", r.eval_interval_steps), ("--eval-iters", r.eval_iters),
    ]
    return args


def megatron_argv(plan: RunPlan) -> list[str]:
    """The arguments as an argv list (flags without a value stand alone)."""
    if plan.layout is None:
        raise ValueError("plan.layout is missing: derive the plan with a GPU count so a layout is chosen")
    pairs = (_shape_args(plan) + _parallel_args(plan) + _precision_args(plan.recipe.precision)
             + _recipe_args(plan) + _checkpoint_and_data_args(plan))
    argv: list[str] = []
    for flag, value in pairs:
        argv.append(flag)
        for v in value if isinstance(value, tuple) else () if value is None else (value,):
            argv.append(repr(v) if isinstance(v, float) and v < 1e-3 else str(v))
    return argv


def render_megatron_args(plan: RunPlan) -> str:
    """A shell snippet: `pretrain_gpt.py` with one argument per line, ready to paste after torchrun."""
    argv = megatron_argv(plan)
    lines, i = [], 0
    while i < len(argv):
        j = i + 1
        while j < len(argv) and not argv[j].startswith("--"):
            j += 1
        lines.append(" ".join([argv[i], *(shlex.quote(v) for v in argv[i + 1:j])]))
        i = j
    lay = plan.layout
    header = [
        f"# Megatron-LM pretrain_gpt.py arguments for plan '{plan.name}' (llmplan)",
        f"# {lay.layout.num_gpus} GPUs ({plan.estimate.gpu}), {lay.gpus_per_node} per node; predicted step "
        f"{lay.step_time_s:.3g} s, {lay.tokens_per_s:,.0f} tokens/s, MFU {lay.mfu:.1%}",
        "# Replace DATA_DIR (llmplan prepare's output), TOKENIZER and CHECKPOINT_DIR.",
        "pretrain_gpt.py \\",
    ]
    body = [f"    {line} \\" for line in lines]
    footer = ["    --tokenizer-type HuggingFaceTokenizer --tokenizer-model TOKENIZER \\",
              "    --save CHECKPOINT_DIR --load CHECKPOINT_DIR"]
    return "\n".join(header + body + footer) + "\n"
