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
    num_layers_in_first_pipeline_stage: PositiveInt | None = Field(
        None, description="uneven pipeline split (Megatron --decoder-first-pipeline-num-layers); "
        "None = num_layers / pipeline_model_parallel_size",
    )
    num_layers_in_last_pipeline_stage: PositiveInt | None = Field(
        None, description="uneven pipeline split (Megatron --decoder-last-pipeline-num-layers)",
    )

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
    num_parameters_per_gpu: int = Field(0, ge=0, description="parameters held by the most loaded rank")
    pipeline_stage: int = Field(0, ge=0, description="the pipeline rank this breakdown is for (the most loaded)")
    headroom_fraction: float = Field(0.0, ge=0, lt=1, description="share of capacity kept free")


class LayoutPlan(StrictModel):
    """The chosen layout with its predicted performance."""

    layout: ParallelLayout
    memory: MemoryBreakdown
    step_time_s: float = Field(gt=0)
    tokens_per_s: float = Field(gt=0)
    mfu: float = Field(gt=0, le=1)
    gpus_per_node: PositiveInt = 8
    num_microbatches: int = Field(1, ge=1, description="micro-batches per step per data-parallel rank "
                                  "(gradient accumulation steps)")
    bubble_fraction: float = Field(0.0, ge=0, description="pipeline bubble time / ideal pipeline time")
    tflops_per_gpu: float = Field(0.0, ge=0, description="achieved model TFLOP/s per GPU (MFU basis)")
    time_breakdown_s: dict[str, float] = Field(
        default_factory=dict, description="compute, bubble, tensor/context/pipeline/data-parallel "
        "communication and optimizer seconds per step",
    )
    notes: list[str] = Field(default_factory=list, description="how the layout was chosen, its assumptions")
