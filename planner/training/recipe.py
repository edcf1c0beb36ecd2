"""The training recipe: batch size, learning rate and schedule, optimizer, regularisation, precision.

Every value is returned with a `Choice` naming why it was picked and where the rule comes from, so a
reader of the plan can check it. Sources:

- DeepSeek-AI 2024, "DeepSeek LLM: Scaling Open-Source Language Models with Longtermism",
  arXiv 2401.02954, Sec 3.1, Eq. (1): B_opt = 0.292 * C^0.3271 (tokens), eta_opt = 0.3118 * C^-0.125,
  with C the training compute in FLOPs. (DeepSeek's C counts non-embedding FLOPs per token times
  tokens; the planner passes total model FLOPs, within a few percent of it for models above ~1B.)
- Touvron et al. 2023, "Llama 2", Sec 2.2: AdamW beta1 0.9, beta2 0.95, eps 1e-5 (we use 1e-8 as
  Megatron-LM and GPT-3 do), weight decay 0.1, gradient clipping 1.0, 2000 warmup steps, cosine
  decay to 10% of the peak learning rate.
- Hoffmann et al. 2022, "Chinchilla", Sec 3 / App. B: cosine cycle length matched to the run,
  decay by 10x.
- Hu et al. 2024, "MiniCPM", Sec 4: warmup-stable-decay (WSD) with a short final decay (~10% of steps).
- Muennighoff et al. 2023, "Scaling Data-Constrained Language Models", Sec 7 / App.: dropout and
  weight decay help when data is repeated; Xue et al. 2023, "To Repeat or Not To Repeat", Sec 4:
  dropout (0.1) is the one regulariser that reliably reduces multi-epoch degradation.
- Srivastava et al. 2014, "Dropout", JMLR: p = 0.5 for hidden units and 0.2 for inputs; Vaswani et
  al. 2017: 0.3 for Transformer-big on WMT En-De. Those are small networks trained many epochs.
- Micikevicius et al. 2018, "Mixed Precision Training"; Kalamkar et al. 2019 (bf16): half-precision
  compute with fp32 master weights. Micikevicius et al. 2022, "FP8 Formats for Deep Learning".
- Brown et al. 2020, "GPT-3", App. B: batch-size ramp-up over the first 4-12B tokens.
"""

from __future__ import annotations

import math
from typing import get_args

from planner.schema import Choice, Goals, GpuSpec, ModelShape, Recipe, TrainingSpec

DEEPSEEK = "DeepSeek-AI 2024, DeepSeek LLM, arXiv 2401.02954, Sec 3.1 Eq. (1)"
LLAMA2 = "Touvron et al. 2023, Llama 2, Sec 2.2"
MAX_WARMUP_STEPS = 2000
"""Llama 2 and DeepSeek LLM both warm up for 2000 steps."""
WARMUP_FRACTION = 0.1
"""Short runs warm up for 10% of their steps so the warmup never dominates."""
MIN_LR_FRACTION = 0.1
"""Cosine decay ends at 10% of the peak learning rate (Llama 2, Chinchilla)."""
WSD_DECAY_FRACTION = 0.1

LR_SCHEDULES: tuple[str, ...] = get_args(TrainingSpec.model_fields["lr_schedule"].annotation)
"""The schedules a goal may ask for (goals.training.lr_schedule, the schema's Literal): cosine, wsd."""
"""WSD spends the last 10% of its steps decaying (MiniCPM, Hu et al. 2024, Sec 4)."""
REPEATED_DATA_EPOCHS = 4.0
"""Beyond ~4 epochs repeated tokens lose value (Muennighoff et al. 2023): switch dropout on."""
RAMPUP_START_FRACTION = 1 / 16
RAMPUP_TOKENS = 4e9
"""GPT-3 (Brown et al. 2020, App. B) ramped the batch up over the first 4-12B tokens."""


def global_batch_tokens(total_flops: float) -> float:
    """Compute-optimal global batch size in tokens: B_opt = 0.292 * C^0.3271 (DeepSeek LLM 2024, Eq. 1)."""
    _check_compute(total_flops)
    return 0.292 * total_flops**0.3271


def peak_lr(total_flops: float) -> float:
    """Compute-optimal peak learning rate: eta_opt = 0.3118 * C^-0.125 (DeepSeek LLM 2024, Eq. 1)."""
    _check_compute(total_flops)
    return 0.3118 * total_flops**-0.125


def _check_compute(total_flops: float) -> None:
    if not (total_flops > 1.0 and math.isfinite(total_flops)):
        raise ValueError(f"total_flops must be a finite number above 1, got {total_flops!r}")


def warmup_steps(train_steps: int) -> int:
    """min(2000, 10% of the run), at least 1 (Llama 2 Sec 2.2 uses 2000 steps of ~500k)."""
    return max(1, min(MAX_WARMUP_STEPS, math.ceil(WARMUP_FRACTION * train_steps)))


def epochs_of(num_tokens: float, goals: Goals) -> float:
    """How many times the corpus is seen: tokens / unique tokens (1.0 when unique tokens are unknown)."""
    if goals.unique_tokens_available is None:
        return 1.0
    return max(1.0, num_tokens / goals.unique_tokens_available)


def derive_recipe(
    model: ModelShape,
    num_tokens: float,
    total_flops: float,
    global_batch_size: int,
    goals: Goals,
    *,
    gpu: GpuSpec | None = None,
    schedule: str = "cosine",
    batch_rampup: bool = False,
    batch_granularity: int = 1,
) -> Recipe:
    """The training recipe for a model trained on `num_tokens` with `total_flops` of compute.

    `global_batch_size` is in sequences and is what the parallel layout allows (the layout rounds the
    DeepSeek B_opt to a multiple of micro-batch x data-parallel size). `gpu` (optional) tells whether
    FP8 is available; `schedule` is "cosine" (default) or "wsd"; `batch_rampup` adds Megatron's
    --rampup-batch-size with sizes in multiples of `batch_granularity` (micro-batch x DP).
    """
    if global_batch_size < 1:
        raise ValueError(f"global_batch_size must be at least 1 sequence, got {global_batch_size}")
    if schedule not in LR_SCHEDULES:
        raise ValueError(f"schedule must be {' or '.join(map(repr, LR_SCHEDULES))}, got {schedule!r}")
    batch_tokens = float(global_batch_size * model.seq_length)
    train_steps = max(1, math.ceil(num_tokens / batch_tokens))
    lr = peak_lr(total_flops)
    choices = _batch_and_lr_choices(total_flops, global_batch_size, batch_tokens, lr, train_steps)
    warmup = min(warmup_steps(train_steps), max(0, train_steps - 1))
    choices += _schedule_choices(schedule, warmup, train_steps)
    dropout, dropout_choice = _dropout(num_tokens, goals)
    precision, fp8, precision_choice = _precision(goals, gpu)
    rampup = _rampup(global_batch_size, batch_granularity, model.seq_length) if batch_rampup else None
    choices += [dropout_choice, precision_choice, *_optimizer_choices(), _rampup_choice(rampup)]
    return Recipe(
        precision=precision,
        global_batch_tokens=batch_tokens,
        global_batch_size=global_batch_size,
        optimal_batch_tokens=global_batch_tokens(total_flops),
        lr=lr,
        min_lr=MIN_LR_FRACTION * lr,
        lr_decay_style=schedule,
        lr_wsd_decay_steps=math.ceil(WSD_DECAY_FRACTION * train_steps) if schedule == "wsd" else None,
        train_steps=train_steps,
        warmup_steps=warmup,
        hidden_dropout=dropout,
        attention_dropout=dropout,
        eval_interval_steps=max(1, min(1000, train_steps // 10)),
        batch_size_rampup=rampup is not None,
        rampup_batch_size=rampup,
        fp8_available=fp8,
        master_weights_fp32=precision != "fp32",
        choices=choices,
    )


def _batch_and_lr_choices(
    total_flops: float, gbs: int, batch_tokens: float, lr: float, train_steps: int
) -> list[Choice]:
    b_opt = global_batch_tokens(total_flops)
    return [
        Choice(
            field="global_batch_tokens",
            reason=(f"B_opt = 0.292*C^0.3271 = {b_opt:,.0f} tokens for C = {total_flops:.3g} FLOPs; "
                    f"the layout allows {gbs} sequences = {batch_tokens:,.0f} tokens "
                    f"({batch_tokens / b_opt:.2f}x B_opt; DeepSeek's near-optimal band is wide)"),
            source=DEEPSEEK,
        ),
        Choice(
            field="lr",
            reason=f"eta_opt = 0.3118*C^-0.125 = {lr:.3g} for C = {total_flops:.3g} FLOPs",
            source=DEEPSEEK,
        ),
        Choice(
            field="train_steps",
            reason=f"ceil(tokens / global batch tokens) = {train_steps} optimizer steps",
            source="arithmetic",
        ),
    ]


def _schedule_choices(schedule: str, warmup: int, train_steps: int) -> list[Choice]:
    warm = Choice(
        field="warmup_steps",
        reason=f"linear warmup of min(2000, 10% of {train_steps} steps) = {warmup} steps",
        source=f"{LLAMA2} (2000 steps); 10% cap for short runs",
    )
    if schedule == "wsd":
        decay = Choice(
            field="lr_decay_style",
            reason=("warmup-stable-decay: constant peak LR, then decay to 10% of peak over the last 10% "
                    "of steps; lets the run be extended or branched from the stable phase"),
            source="Hu et al. 2024, MiniCPM, Sec 4; Hagele et al. 2024, Scaling Laws and Compute-Optimal "
                   "Training Beyond Fixed Training Durations",
        )
    else:
        decay = Choice(
            field="lr_decay_style",
            reason="cosine decay over the whole run to min_lr = 10% of peak",
            source=f"{LLAMA2}; Hoffmann et al. 2022, Chinchilla, App. B (cycle length = run length)",
        )
    return [warm, decay]


def _dropout(num_tokens: float, goals: Goals) -> tuple[float, Choice]:
    epochs = epochs_of(num_tokens, goals)
    quoted = ("The 0.2-0.5 often quoted comes from small networks trained for many epochs "
              "(Srivastava et al. 2014: 0.5 hidden / 0.2 input; Transformer-big 0.3 on WMT, Vaswani et "
              "al. 2017); it costs quality in single-epoch LLM pretraining")
    if epochs >= REPEATED_DATA_EPOCHS:
        return 0.1, Choice(
            field="hidden_dropout",
            reason=(f"{epochs:.1f} epochs over the unique data (>= {REPEATED_DATA_EPOCHS:.0f}): dropout 0.1 "
                    f"reduces multi-epoch overfitting. {quoted}."),
            source="Xue et al. 2023, To Repeat or Not To Repeat, Sec 4; Muennighoff et al. 2023, Sec 7",
        )
    return 0.0, Choice(
        field="hidden_dropout",
        reason=(f"{epochs:.1f} epoch(s): near single-epoch pretraining does not overfit, so dropout 0.0 "
                f"(Llama, Llama 2, Chinchilla train without it); use 0.1 when repeating data past "
                f"~{REPEATED_DATA_EPOCHS:.0f} epochs. {quoted}."),
        source="Touvron et al. 2023 (Llama 2); Muennighoff et al. 2023; Xue et al. 2023",
    )


def _precision(goals: Goals, gpu: GpuSpec | None) -> tuple[str, bool, Choice]:
    if goals.gpu.strip().lower() == "cpu":
        return "fp32", False, Choice(
            field="precision", reason="CPU run: fp32 throughout (no bf16 tensor cores)", source="")
    fp8 = bool(gpu is not None and gpu.peak_fp8_flops)
    extra = (f"; {gpu.name} has FP8 tensor cores ({gpu.peak_fp8_flops / 1e12:.0f} TFLOP/s dense), so FP8 "
             "(Transformer Engine, delayed scaling) is an option for ~1.3-1.5x step speed at some "
             "risk to stability" if fp8 and gpu else "")
    return "bf16", fp8, Choice(
        field="precision",
        reason="bf16 mixed precision with fp32 master weights and fp32 optimizer state" + extra,
        source="Micikevicius et al. 2018; Kalamkar et al. 2019 (bf16); Micikevicius et al. 2022 (FP8)",
    )


def _optimizer_choices() -> list[Choice]:
    return [
        Choice(field="adam_beta1", reason="AdamW beta1 0.9, beta2 0.95 (0.95 rather than 0.999 for "
               "stability at large batch)", source=LLAMA2),
        Choice(field="adam_eps", reason="1e-8, the Megatron-LM and GPT-3 default", source="Brown et al. 2020, App. B"),
        Choice(field="weight_decay", reason="0.1 decoupled weight decay", source=LLAMA2),
        Choice(field="clip_grad", reason="clip the global gradient norm at 1.0", source=LLAMA2),
        Choice(field="init_method_std", reason="normal init with std 0.02", source="Radford et al. 2019 (GPT-2); "
               "Megatron-LM default"),
    ]


def _rampup(gbs: int, granularity: int, seq_len: int) -> list[int] | None:
    """Megatron --rampup-batch-size START INCREMENT SAMPLES, sizes multiples of `granularity`."""
    granularity = max(1, granularity)
    start = max(granularity, (gbs // 16) // granularity * granularity)
    if start >= gbs or (gbs - start) % granularity:
        return None
    samples = max(1, math.ceil(RAMPUP_TOKENS / seq_len))
    increment = granularity
    while (gbs - start) // increment > 64 and (gbs - start) % (increment * 2) == 0:
        increment *= 2
    return [start, increment, samples]


def _rampup_choice(rampup: list[int] | None) -> Choice:
    if rampup is None:
        return Choice(field="batch_size_rampup", reason="off: constant batch from step 1 (Llama 2, "
                      "DeepSeek LLM); turn on for very large batches early in training",
                      source="Brown et al. 2020, GPT-3, App. B")
    return Choice(field="batch_size_rampup",
                  reason=(f"ramp from {rampup[0]} sequences in steps of {rampup[1]} over the first "
                          f"{rampup[2]:,} samples (~{RAMPUP_TOKENS / 1e9:.0f}B tokens)"),
                  source="Brown et al. 2020, GPT-3, App. B; Megatron-LM --rampup-batch-size")


MIN_TRAIN_STEPS = 200
"""Fewest optimizer steps the planner allows: the batch shrinks (by halves) below B_opt if needed,
so warmup, decay, evaluation and checkpoints have room (the tiny CPU demo has exactly 200)."""


def choose_global_batch_size(total_flops: float, num_tokens: float, seq_length: int) -> int:
    """Sequences per step: DeepSeek's B_opt (planner.training.recipe.global_batch_tokens) rounded to a power
    of two, halved while the run would have fewer than MIN_TRAIN_STEPS steps."""
    sequences = max(1.0, global_batch_tokens(total_flops) / seq_length)
    gbs = 2 ** round(math.log2(sequences))
    while gbs > 1 and num_tokens / (gbs * seq_length) < MIN_TRAIN_STEPS:
        gbs //= 2
    return gbs


def batch_sequences(batch_tokens: float, seq_length: int) -> int:
    """Sequences per step for a batch given in tokens, as papers write it ("4M tokens" is 1,024 x
    4,096, "16M" is 2,048 x 8,192): among the whole counts within 10% of tokens / seq_length, the one
    with the largest power-of-two factor (so data parallelism can divide it), the nearest on a tie.
    ValueError when the batch is shorter than one sequence."""
    target = batch_tokens / seq_length
    if target < 1:
        raise ValueError(f"{batch_tokens:,.0f} tokens is shorter than one sequence of {seq_length} tokens")
    lo, hi = max(1, math.ceil(target * 0.9)), max(1, math.floor(target * 1.1))
    if hi < lo:
        return max(1, round(target))

    def twos(n: int) -> int:
        return (n & -n).bit_length() - 1

    candidates = range(lo, hi + 1) if hi - lo < 1_000_000 else [2 ** round(math.log2(target))]
    return max(candidates, key=lambda n: (twos(n), -abs(n - target)))
