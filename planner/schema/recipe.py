"""The plan's training recipe and failure/checkpoint plan."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from planner.schema.base import Fraction, NonNegativeFloat, PositiveInt, StrictModel


class Choice(StrictModel):
    """Why a recipe value was chosen."""

    field: str
    reason: str
    source: str = ""


class Recipe(StrictModel):
    precision: Literal["bf16", "fp16", "fp8", "fp32"] = "bf16"
    global_batch_tokens: float = Field(gt=0)
    lr: float = Field(gt=0, le=1)
    min_lr: float = Field(ge=0, le=1)
    lr_decay_style: Literal["cosine", "wsd", "linear", "constant"] = "cosine"
    train_steps: PositiveInt
    warmup_steps: int = Field(ge=0)
    adam_beta1: float = Field(0.9, ge=0, lt=1)
    adam_beta2: float = Field(0.95, ge=0, lt=1)
    adam_eps: float = Field(1e-8, gt=0)
    weight_decay: NonNegativeFloat = 0.1
    clip_grad: NonNegativeFloat = 1.0
    hidden_dropout: Fraction = 0.0
    attention_dropout: Fraction = 0.0
    init_method_std: float = Field(0.02, gt=0)
    seed: int = 1234
    eval_interval_steps: PositiveInt = 1000
    eval_iters: PositiveInt = 10
    batch_size_rampup: bool = False
    choices: list[Choice] = Field(default_factory=list)
    # Added by the recipe module (issue 5); all optional so older plans still validate.
    global_batch_size: PositiveInt | None = Field(None, description="sequences per optimizer step")
    optimal_batch_tokens: float | None = Field(
        None, gt=0, description="DeepSeek LLM 2024 B_opt for this compute, before rounding to the layout")
    lr_wsd_decay_steps: int | None = Field(
        None, ge=0, description="steps of the final decay phase when lr_decay_style is wsd")
    rampup_batch_size: list[int] | None = Field(
        None, min_length=3, max_length=3,
        description="Megatron --rampup-batch-size: start size, increment, ramp-up samples")
    fp8_available: bool = Field(False, description="the GPU has FP8 tensor cores (Transformer Engine recipe)")
    master_weights_fp32: bool = True


class ReliabilityPlan(StrictModel):
    failures_per_gpu_hour: NonNegativeFloat
    restart_time_s: NonNegativeFloat
    checkpoint_bytes: NonNegativeFloat
    checkpoint_write_s: NonNegativeFloat
    job_mtti_hours: float = Field(gt=0, description="mean time to interrupt of the whole job")
    checkpoint_interval_s: float = Field(gt=0)
    checkpoint_interval_steps: PositiveInt
    expected_interruptions: NonNegativeFloat
    lost_hours: NonNegativeFloat
    goodput: Fraction
    # Added by the reliability module (issue 5); all optional so older plans still validate.
    young_interval_s: float | None = Field(None, gt=0, description="Young 1974: sqrt(2 delta M)")
    daly_interval_s: float | None = Field(None, gt=0, description="Daly 2006 higher-order optimum")
    failure_free_hours: float | None = Field(None, gt=0, description="wall-clock hours with no failures")
    adjusted_wallclock_days: float | None = Field(None, gt=0)
    adjusted_gpu_hours: float | None = Field(None, gt=0)
    adjusted_cost_usd: float | None = Field(None, ge=0, description="GPU time including failure overhead")
    extra_cost_usd: float | None = Field(None, ge=0, description="adjusted minus failure-free GPU cost")
    lost_gpu_hours: float | None = Field(None, ge=0)
    interruptions_p10: float | None = Field(None, ge=0)
    interruptions_p90: float | None = Field(None, ge=0)
    storage: str = ""
    sources: list[str] = Field(default_factory=list)
