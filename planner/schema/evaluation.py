"""The plan's evaluation section: lm-eval tasks and how to run them."""

from __future__ import annotations

from pydantic import Field

from planner.schema.base import PositiveInt, StrictModel

STANDARD_TASKS = ["arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2"]


class EvalSpec(StrictModel):
    tasks: list[str] = Field(default_factory=lambda: list(STANDARD_TASKS))
    num_fewshot: int = Field(0, ge=0, le=25)
    limit: PositiveInt | None = None
    batch_size: PositiveInt = 8
    offline: bool = Field(True, description="use the bundled task YAMLs and local data files")
    task_dir: str | None = Field(None, description="extra directory of lm-eval task YAMLs")
    validation_max_tokens: PositiveInt = Field(
        200_000, description="held-out tokens scored for the validation perplexity (first documents first)"
    )
