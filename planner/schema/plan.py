"""RunPlan: the planner's output, the file a person reviews, approves and executes."""

from __future__ import annotations

from pydantic import Field, field_validator

from planner.schema.approval import Approval
from planner.schema.base import SCHEMA_VERSION, Assumption, FreeText, Range, SafeName, StrictModel, known_schema_version
from planner.schema.data import DataSpec
from planner.schema.evaluation import EvalSpec
from planner.schema.goals import Goals
from planner.schema.layout import LayoutPlan
from planner.schema.model import ModelShape, TokenBudget
from planner.schema.recipe import Recipe, ReliabilityPlan
from planner.schema.serving import BudgetUse, ServingEstimate


class Overhead(StrictModel):
    """One factor between steady-state training and what a whole run spends (planner.chain)."""

    name: str
    fraction: float = Field(gt=0, le=1, description="share of wall-clock time left for training by this factor")
    source: str


class Estimate(StrictModel):
    """Compute, time, money and energy of the run (point estimates; ranges are in RunPlan.ranges).

    One chain (planner.chain): the layout's steady-state step time gives `step_mfu`;
    `end_to_end_mfu` = step_mfu x the product of `overheads`; GPU-hours = model FLOPs /
    (peak at the training precision x end_to_end_mfu). `mfu` equals `end_to_end_mfu`.
    """

    gpu: str
    num_gpus: int = Field(gt=0)
    flops_per_token: float = Field(gt=0, description="model FLOPs per trained token (MFU basis)")
    model_flops: float = Field(gt=0)
    hardware_flops: float = Field(gt=0, description="model FLOPs plus recomputation (HFU basis)")
    mfu: float = Field(gt=0, le=1)
    tokens_per_s: float = Field(gt=0)
    gpu_hours: float = Field(gt=0)
    wallclock_days: float = Field(gt=0)
    cost_usd: float = Field(ge=0, description="GPU time (rented) or amortised purchase (owned)")
    energy_kwh: float = Field(ge=0)
    energy_cost_usd: float = Field(ge=0)
    co2_kg: float = Field(ge=0)
    total_cost_usd: float = Field(ge=0)
    predicted_loss: float = Field(gt=0)
    step_mfu: float | None = Field(None, gt=0, le=1, description="steady-state MFU of the layout's step time")
    end_to_end_mfu: float | None = Field(None, gt=0, le=1, description="step_mfu x the product of the overheads")
    overheads: list[Overhead] = Field(default_factory=list)
    step_time_s: float | None = Field(None, gt=0, description="steady-state seconds per optimizer step")


class RunPlan(StrictModel):
    schema_version: int = SCHEMA_VERSION
    name: SafeName
    description: FreeText = ""
    llmplan_version: str = ""
    goals: Goals
    binding_constraint: str
    model: ModelShape
    tokens: TokenBudget
    estimate: Estimate
    layout: LayoutPlan | None = None
    recipe: Recipe
    reliability: ReliabilityPlan | None = None
    ranges: dict[str, Range] = Field(default_factory=dict)
    data: DataSpec = Field(default_factory=DataSpec)
    evaluation: EvalSpec = Field(default_factory=EvalSpec)
    assumptions: list[Assumption] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    serving: ServingEstimate | None = Field(None, description="serving cost of goals.inference_tokens (planner.cost.inference)")
    budget_use: BudgetUse | None = Field(None, description="budget and deadline use at goals.confidence (planner.cost.risk)")
    hints: list[str] = Field(default_factory=list, description="what the unused budget or deadline would buy")
    infeasible: list[str] = Field(
        default_factory=list, description="why the plan cannot run as planned (kept by goals.allow_infeasible)")
    approval: Approval | None = None

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        known_schema_version(v)
        return v
