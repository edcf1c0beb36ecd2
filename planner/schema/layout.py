"""The plan's parallel layout and per-GPU memory breakdown (Megatron's names)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from planner.schema.base import PositiveInt, StrictModel

Recompute = Literal["none", "selective", "full"]


class ParallelLayout(StrictModel):
    tensor_model_parallel_size: PositiveInt = 1
    pipeline_model_parallel_size: PositiveInt = 1
    virtual_pipeline_model_parallel_size: PositiveInt = 1
    context_parallel_size: PositiveInt = 1
    data_parallel_size: PositiveInt = 1
    micro_batch_size: PositiveInt = 1
    global_batch_size: PositiveInt = Field(description="sequences per optimizer step")
    recompute: Recompute = "none"
    sequence_parallel: bool = False
    use_distributed_optimizer: bool = True

    @property
    def num_gpus(self) -> int:
        return (
            self.tensor_model_parallel_size
            * self.pipeline_model_parallel_size
            * self.context_parallel_size
            * self.data_parallel_size
        )

    @property
    def num_microbatches(self) -> int:
        return self.global_batch_size // (self.micro_batch_size * self.data_parallel_size)


class MemoryBreakdown(StrictModel):
    weights_bytes: float = Field(ge=0)
    gradients_bytes: float = Field(ge=0)
    optimizer_bytes: float = Field(ge=0)
    activations_bytes: float = Field(ge=0)
    overhead_bytes: float = Field(ge=0)
    total_bytes: float = Field(ge=0)
    capacity_bytes: float = Field(gt=0)


class LayoutPlan(StrictModel):
    """The chosen layout with its predicted performance."""

    layout: ParallelLayout
    memory: MemoryBreakdown
    step_time_s: float = Field(gt=0)
    tokens_per_s: float = Field(gt=0)
    mfu: float = Field(gt=0, le=1)
    gpus_per_node: PositiveInt = 8
