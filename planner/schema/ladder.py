"""LadderPlan: small runs below a target plan, trained to fit the user's own loss law (issue 17).

Each rung is a model size at a tokens-per-parameter ratio; the sizes spread log-uniformly below the
target, several ratios per size so the fit can tell the N term from the D term (planner.ladder).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from planner.schema.approval import Approval
from planner.schema.base import SCHEMA_VERSION, Assumption, FreeText, PositiveFloat, PositiveInt, SafeName, StrictModel
from planner.schema.goals import Goals
from planner.schema.layout import ParallelLayout
from planner.schema.model import ModelShape


class LadderRung(StrictModel):
    """One small training run of the ladder, with its own cost (planner.estimate.estimate_run)."""

    name: SafeName
    role: Literal["fit", "holdout"] = Field("fit", description="holdout: trained, not fitted; checks the prediction")
    num_params: PositiveInt
    num_tokens: PositiveFloat
    tokens_per_param: PositiveFloat
    model: ModelShape
    global_batch_size: PositiveInt
    train_steps: PositiveInt
    num_gpus: PositiveInt
    layout: ParallelLayout | None = None
    model_flops: PositiveFloat
    gpu_hours: PositiveFloat
    cost_usd: float = Field(ge=0)
    wallclock_days: PositiveFloat
    reference_loss: PositiveFloat = Field(description="loss the published law (Besiroglu et al. 2024) predicts")


class LadderTarget(StrictModel):
    """The big run the ladder is for (from its RunPlan)."""

    name: SafeName
    num_params: PositiveInt
    num_tokens: PositiveFloat
    model_flops: PositiveFloat
    gpu_hours: PositiveFloat
    cost_usd: float = Field(ge=0)
    wallclock_days: PositiveFloat
    plan_sha256: str = ""


class LadderTotals(StrictModel):
    model_flops: PositiveFloat
    gpu_hours: PositiveFloat
    cost_usd: float = Field(ge=0)
    wallclock_days_serial: PositiveFloat = Field(description="every rung one after another on its own fleet")
    compute_fraction: PositiveFloat = Field(description="ladder model FLOPs / the target's")
    cost_fraction: float = Field(ge=0, description="ladder dollars / the target's")


class LadderPlan(StrictModel):
    kind: Literal["llmplan-ladder"] = "llmplan-ladder"
    schema_version: int = SCHEMA_VERSION
    name: SafeName
    description: FreeText = ""
    target: LadderTarget
    goals: Goals = Field(description="the target's goals without budget or deadline: every rung plans from them")
    span_decades: float = Field(ge=0.5, le=3.0, description="log10(largest / smallest fitted size)")
    ratios: list[PositiveFloat] = Field(min_length=1, description="tokens per parameter of each size")
    budget_fraction: float = Field(gt=0, le=1, description="cap on the ladder's model FLOPs / the target's")
    pins: dict[str, dict[str, int | float | str | bool] | str] | None = Field(
        None, description="layout/recipe values every rung pins (presets/pins.yaml format)")
    rungs: list[LadderRung] = Field(min_length=1)
    totals: LadderTotals
    assumptions: list[Assumption] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    approval: Approval | None = None

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, v: int) -> int:
        if v > SCHEMA_VERSION:
            raise ValueError(f"schema_version {v} is newer than this llmplan understands ({SCHEMA_VERSION}); "
                             "upgrade llmplan")
        return v

    @model_validator(mode="after")
    def _unique_names(self) -> LadderPlan:
        names = [r.name for r in self.rungs]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"rung names must be unique (they name run directories); repeated: {dupes}")
        return self

    def rung(self, name: str) -> LadderRung:
        for r in self.rungs:
            if r.name == name:
                return r
        raise KeyError(name)
