"""The plan's parallel layout and per-GPU memory breakdown (Megatron's names), and the layout rules
that need only the layout itself.

Those rules (`layout_only_violations`) are what ParallelLayout's validator enforces; they sit here,
not in planner.compute.parallel, because the schema imports nothing from the rest of the planner.
planner.compute.parallel's rule table lists them beside the rules that also need the model and the cluster,
and the search, `llmplan validate` and `llmplan layout --tp/--pp` all read that table.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from planner.schema.base import PositiveInt, StrictModel

Recompute = Literal["none", "selective", "full"]


@dataclass(frozen=True)
class Violation:
    """One broken layout rule: `code` a stable reason code (the keys of `llmplan layout --json`'s
    "rejected"), `field` the Megatron name of the offending size, `message` the rule with its numbers
    and the nearest valid values, `fixes` those values (empty when the fix is not a number)."""

    code: str
    field: str
    message: str
    fixes: tuple[int, ...] = ()


def divisors(n: int, limit: int | None = None) -> list[int]:
    """The divisors of `n` up to `limit` (default n), ascending."""
    return [k for k in range(1, (limit or n) + 1) if n % k == 0]


def shown_values(values: list[int]) -> tuple[int, ...]:
    """The (at most 12) smallest distinct values a message offers as fixes."""
    return tuple(sorted(set(values))[:12])


def choices(values: list[int]) -> str:
    """`values` as "1, 2 or 4" (the smallest 12, distinct)."""
    shown = shown_values(values)
    if len(shown) == 1:
        return str(shown[0])
    return ", ".join(str(v) for v in shown[:-1]) + f" or {shown[-1]}"


def nearest_multiples(value: int, step: int) -> tuple[int, ...]:
    """The multiples of `step` nearest `value` (below and above; `value` itself if it is one)."""
    below = value // step * step
    if below == value:
        return (value,)
    return shown_values([below, below + step] if below else [step])


def batch_divides(global_batch_size: int, micro_batch_size: int, data_parallel_size: int) -> bool:
    """Rule `batch`: micro_batch_size x data_parallel_size divides global_batch_size (Megatron-LM
    megatron/core/num_microbatches_calculator.py: "global batch size is not divisible by micro batch
    size times data parallel size")."""
    return global_batch_size % (micro_batch_size * data_parallel_size) == 0


def interleave_fits(num_microbatches: int, pipeline_size: int, virtual_stages: int) -> bool:
    """Rule `interleave_microbatches`: with virtual stages (v > 1) the interleaved 1F1B schedule needs
    num_microbatches to be a multiple of pipeline_model_parallel_size (Megatron-LM
    megatron/core/pipeline_parallel/schedules.py, forward_backward_pipelining_with_interleaving;
    Narayanan et al. 2021, Sec. 2.2.2)."""
    return virtual_stages == 1 or num_microbatches % pipeline_size == 0


def layout_only_violations(lay: "ParallelLayout") -> list[Violation]:
    """The rules a layout breaks on its own, without the model or the cluster: sequence parallelism
    needs TP > 1 (Megatron-LM arguments.py turns it off at TP 1: a plan must say what runs), virtual
    stages need PP > 1 (arguments.py, interleaved schedule), `batch` and `interleave_microbatches`."""
    t, p, v, d = (lay.tensor_model_parallel_size, lay.pipeline_model_parallel_size,
                  lay.virtual_pipeline_model_parallel_size, lay.data_parallel_size)
    b, gbs = lay.micro_batch_size, lay.global_batch_size
    out = []
    if lay.sequence_parallel and t == 1:
        out.append(Violation("sp_needs_tp", "sequence_parallel", "sequence_parallel needs "
                             "tensor_model_parallel_size > 1 (got 1); set it to false"))
    if v > 1 and p == 1:
        out.append(Violation("vpp_needs_pp", "virtual_pipeline_model_parallel_size",
                             f"virtual stages ({v}) need pipeline_model_parallel_size > 1; set it to 1", (1,)))
    if v > 1 and not interleave_fits(lay.num_microbatches, p, v):
        fixes = nearest_multiples(gbs, b * d * p)
        out.append(Violation("interleave_microbatches", "global_batch_size",
                             f"the interleaved schedule needs num_microbatches ({lay.num_microbatches}) to be a "
                             f"multiple of pipeline_model_parallel_size ({p}); try global_batch_size {choices(fixes)}",
                             fixes))
    if not batch_divides(gbs, b, d):
        per_rank = gbs // d if gbs % d == 0 else 0
        micro = [k for k in divisors(per_rank) if k <= 16] if per_rank else []
        fixes = nearest_multiples(gbs, b * d)
        hint = (f"try micro_batch_size {choices(micro)} or " if micro else "try ") + f"global_batch_size {choices(fixes)}"
        out.append(Violation("batch", "global_batch_size",
                             f"micro_batch_size ({b}) x data_parallel_size ({d}) = {b * d} must divide "
                             f"global_batch_size ({gbs}); {hint}", fixes))
    return out


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

    @model_validator(mode="after")
    def _obeys_layout_rules(self) -> "ParallelLayout":
        """Megatron's rules that need only the layout (layout_only_violations); the rules that also
        need the model and the cluster are planner.compute.parallel.layout_violations'."""
        problems = layout_only_violations(self)
        if problems:
            raise ValueError("; ".join(f"{p.field}: {p.message}" for p in problems))
        return self

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
