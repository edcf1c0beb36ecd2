"""Goals: what a person states before planning. Every field but the defaults is optional."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from planner.schema.base import (
    SCHEMA_VERSION,
    FreeText,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SafeName,
    StrictModel,
)
from planner.schema.data import DataSpec
from planner.schema.evaluation import EvalSpec

Objective = Literal["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size"]


class TrainingSpec(StrictModel):
    """Recipe and failure-plan choices a person may fix; the defaults leave them to the planner."""

    lr_schedule: Literal["cosine", "wsd"] = Field(
        "cosine", description="cosine decay to 10% of peak, or warmup-stable-decay (MiniCPM, Hu et al. 2024)")
    batch_rampup: bool = Field(False, description="ramp the global batch up over the first tokens (GPT-3, App. B)")
    checkpoint_storage: SafeName | None = Field(
        None, description="storage preset in presets/reliability.yaml (None: its default_storage)")
    failure_model: SafeName | None = Field(
        None, description="failure-rate preset in presets/reliability.yaml (None: its default_failure_model)")
    failures_per_gpu_hour: PositiveFloat | None = Field(
        None, description="interruptions per GPU-hour, overriding the failure model's rate")


class Goals(StrictModel):
    """Inputs of the planner. Constraints left as None are free; the plan says which one binds."""

    schema_version: int = SCHEMA_VERSION
    name: SafeName = "llm"
    description: FreeText = ""
    objective: Objective = "rule-of-thumb-20x"

    # Size and data
    target_params: PositiveFloat | None = Field(None, description="model parameters to train")
    target_tokens: PositiveFloat | None = Field(None, description="training tokens (overrides the objective)")
    unique_tokens_available: PositiveFloat | None = Field(None, description="unique tokens in the corpus")
    inference_tokens: NonNegativeFloat = Field(0.0, description="tokens expected to be served over the model's life")
    seq_len: PositiveInt = Field(4096, le=1_048_576)
    vocab_size: PositiveInt = Field(32_000, le=1_048_576)

    # Budget and time
    budget_usd: PositiveFloat | None = None
    budget_gpu_hours: PositiveFloat | None = None
    deadline_days: PositiveFloat | None = None

    # Hardware and prices
    gpu: str = "H100-SXM"
    num_gpus: PositiveInt | None = Field(None, le=1_000_000)
    gpus_per_node: PositiveInt = Field(8, le=64)
    ownership: Literal["rented", "owned"] = "rented"
    price_per_gpu_hour_usd: PositiveFloat | None = Field(None, description="None: the GPU preset's typical price")
    gpu_purchase_usd: PositiveFloat | None = Field(None, description="owned GPUs: price per GPU incl. its share of the node")
    gpu_lifetime_years: PositiveFloat = 4.0
    electricity_price_usd_per_kwh: NonNegativeFloat = 0.12
    pue: float = Field(1.1, ge=1.0, le=3.0)
    region: str = "us-average"
    mfu: float | None = Field(None, gt=0, le=1, description="None: the calibrated MFU model")

    data: DataSpec = Field(default_factory=DataSpec)
    evaluation: EvalSpec = Field(default_factory=EvalSpec)
    training: TrainingSpec = Field(default_factory=TrainingSpec)

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(
                f"schema_version {v} is newer than this llmplan understands ({SCHEMA_VERSION}); "
                "upgrade llmplan"
            )
        if v < 1:
            raise ValueError(f"schema_version must be at least 1, got {v}")
        return v
