"""Goals: what a person states before planning. Every field but the defaults is optional."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from planner.schema.base import (
    SCHEMA_VERSION,
    FreeText,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    SafeName,
    StrictModel,
    known_schema_version,
)
from planner.schema.continuation import ContinueFrom
from planner.schema.data import DataSpec
from planner.schema.evaluation import EvalSpec
from planner.schema.scaling_law import ScalingLaw
from planner.schema.serving import ServingSpec
from planner.units import parse_number

Objective = Literal["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size"]

NUMBER_LIMITS: dict[str, float | None] = {
    "target_params": 1e15, "target_tokens": 1e17, "unique_tokens_available": 1e17, "inference_tokens": 1e18,
    "budget_usd": 1e13, "budget_gpu_hours": 1e11, "deadline_days": 36_525.0, "price_per_gpu_hour_usd": 1e4,
    "gpu_purchase_usd": 1e8, "gpu_lifetime_years": 100.0, "electricity_price_usd_per_kwh": 1e3,
    "num_gpus": None, "gpus_per_node": None, "seq_len": None, "vocab_size": None, "pue": None, "mfu": None,
}
"""Numeric goals written as people write them (`7B`, `$1,000,000`, `1.5M`; planner.units) and the
largest value each accepts: far beyond any real run (1e15 parameters, $10T), and before the
planner's arithmetic overflows. None: the field's own `le` bounds it."""


def _typed_number(value: object, info: ValidationInfo) -> object:
    """`"7B"` -> 7e9 for a numeric goal; NaN, infinity and values past NUMBER_LIMITS are errors."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        number = parse_number(value, maximum=NUMBER_LIMITS[info.field_name], allow_negative=True)
        return value if isinstance(value, int) else number  # ints stay exact
    return value


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

    @field_validator("failures_per_gpu_hour", mode="before")
    @classmethod
    def _rate_number(cls, v: object) -> object:
        return v if v is None or isinstance(v, bool) else parse_number(v, maximum=1e6, allow_negative=True)


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
    scaling_law: ScalingLaw | None = Field(
        None, description="the user's own L(N, D) from `llmplan ladder fit` (plan --scaling-law fit.json); None: published")
    serving: ServingSpec = Field(default_factory=ServingSpec, description="serving GPU, utilisation, context (issue 13)")
    confidence: Literal["p50", "p80", "p90"] = Field(
        "p80", description="quantile (failures included) at which the budget and deadline must hold")
    allow_infeasible: bool = Field(False, description="keep a plan that cannot run, marked infeasible")
    continue_from: ContinueFrom | None = Field(
        None, description="continued pretraining: the checkpoint's fixed shape and tokens already seen (issue 16)")

    _numbers = field_validator(*NUMBER_LIMITS, mode="before")(_typed_number)

    @model_validator(mode="after")
    def _continued_shape(self) -> "Goals":
        """A continued model keeps its vocabulary; seq_len defaults to its context (RoPE allows another)."""
        shape = self.continue_from.shape if self.continue_from else None
        if shape is None:
            return self
        if "vocab_size" not in self.model_fields_set:  # a stated, different one: planner.model.continuation refuses it
            self.__dict__["vocab_size"] = shape.vocab_size  # no re-validation loop (validate_assignment)
        if "seq_len" not in self.model_fields_set:
            self.__dict__["seq_len"] = shape.seq_length
        return self

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        known_schema_version(v)
        if v < 1:
            raise ValueError(f"schema_version must be at least 1, got {v}")
        return v
