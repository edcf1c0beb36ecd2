"""Serving (inference) cost and budget use: what a plan costs after training, and what it leaves.

Additive sections of Goals (`serving`) and RunPlan (`serving`, `budget_use`); see planner.cost.inference
and planner.cost.risk for the arithmetic.
"""

from __future__ import annotations

from pydantic import Field

from planner.schema.base import NonNegativeFloat, PositiveFloat, PositiveInt, StrictModel


class ServingSpec(StrictModel):
    """How the model will be served: the GPU, its utilisation and the context of a served token."""

    gpu: str | None = Field(None, description="serving GPU name or alias (None: the training GPU)")
    utilisation: float = Field(
        0.3, gt=0, le=1,
        description="model FLOPs utilisation while serving (Pope et al. 2022 report 76% for large-batch "
                    "prefill and far less for decode; 0.3 is a large-batch blend, set your measured value)")
    context_tokens: PositiveInt | None = Field(
        None, le=1_048_576, description="average context a served token attends to (None: seq_len / 2)")
    price_per_gpu_hour_usd: PositiveFloat | None = Field(
        None, description="None: the serving GPU preset's typical rental price")


class ServingEstimate(StrictModel):
    """Serving FLOPs, GPU-hours and dollars for goals.inference_tokens, and the total cost of ownership."""

    inference_tokens: NonNegativeFloat
    gpu: str
    utilisation: float = Field(gt=0, le=1)
    context_tokens: PositiveInt
    flops_per_token: float = Field(gt=0, description="2N + 2 x layers x context x d_attn (Kaplan et al. 2020)")
    serving_flops: NonNegativeFloat
    gpu_hours: NonNegativeFloat
    price_per_gpu_hour_usd: NonNegativeFloat
    cost_usd: NonNegativeFloat
    training_cost_usd: NonNegativeFloat
    total_cost_of_ownership_usd: NonNegativeFloat = Field(description="training total_cost_usd + serving cost_usd")
    serving_share: float = Field(ge=0, le=1, description="serving cost / total cost of ownership")


class BudgetUse(StrictModel):
    """How much of the budget and deadline the plan uses at goals.confidence, failures included."""

    confidence: str
    budget_usd: PositiveFloat | None = None
    cost_usd_at_confidence: NonNegativeFloat
    unspent_usd: float | None = Field(None, description="budget_usd minus the cost at the confidence quantile")
    useful_compute_usd: NonNegativeFloat | None = Field(
        None, description="data-limited plans: dollars of compute the unique data supports usefully")
    deadline_days: PositiveFloat | None = None
    days_at_confidence: NonNegativeFloat
