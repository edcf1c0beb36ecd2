"""3D-parallel layout search: every TP × PP × VPP × CP × DP × micro-batch × recompute × optimizer
layout that obeys Megatron's divisibility rules and fits memory, ranked by predicted step time.

Memory: planner.compute.memory (Korthikanti et al. 2022; Megatron theoretical_memory_usage.py).
Step time: planner.compute.step_time (Narayanan et al. 2021). The search is analytic: no job is launched.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, make_dataclass, replace
from typing import NamedTuple

from planner.compute.cluster import ClusterSpec, cluster_from_gpu
from planner.compute.memory import (RankMemory, activation_bytes, per_rank_memory, per_rank_parameter_count,
                            peak_candidate_ranks, sharding_group_size, state_bytes_per_parameter)
from planner.compute.parallel import (REASONS, batch_divides, cp_fits, divisors, interleave_fits, layout_violations,
                              stage_layer_counts, stage_num_layers, stage_splits, tensor_breaks,
                              virtual_stage_counts)
from planner.schema import GpuSpec, LayoutPlan, MemoryBreakdown, ModelShape, ParallelLayout, RunPlan
from planner.model.flops import model_flops_per_token
from planner.compute.precision import get_precision, peak_flops
from planner.compute.step_time import (DEFAULT_STEP_MODEL, StepTime, StepTimeModel, _layer_hardware_flops_per_token,
                               pipeline_terms, seconds_per_layer_flop, step_time)

GIB = 1024**3

@dataclass(frozen=True)
class SearchSpace:
    """What the search enumerates. Defaults cover what Megatron-Core offers for dense models."""

    micro_batch_sizes: tuple[int, ...] = (1, 2, 4, 8)
    recompute_modes: tuple[str, ...] = ("none", "selective", "full")
    distributed_optimizer: tuple[bool, ...] = (True, False)
    sequence_parallel: bool = True
    """Turn on sequence parallelism whenever TP > 1 (same communication volume, less memory)."""
    max_virtual_stages: int = 8
    max_context_parallel: int = 32
    allow_uneven_pipeline: bool = True
    """Allow Llama-3-style stages: first and last stage one layer short (Llama Team 2024, §3.3.2)."""
    headroom_fraction: float = 0.05
    """Share of GPU memory left free (allocator fragmentation)."""
    flash_attention: bool = True
    tensor_parallel_sizes: tuple[int, ...] | None = None
    """Only these TP sizes (None: every divisor); `llmplan layout --tp` pins one."""
    pipeline_parallel_sizes: tuple[int, ...] | None = None
    virtual_stage_counts: tuple[int, ...] | None = None
    context_parallel_sizes: tuple[int, ...] | None = None
    zero_stage: int = 1
    """ZeRO stage of the distributed optimizer's sharding: 1 (Megatron's distributed optimizer,
    optimizer state over DP) or 3 (FSDP: weights and gradients too; Rajbhandari et al. 2020)."""
    prune: bool = True
    """Branch and bound: skip layouts whose pipeline time (a lower bound on step time,
    planner.compute.step_time.pipeline_terms) exceeds the (top_k + 1)-th fastest step found so far; they
    are counted under rejected["slower_bound"]. Best and alternatives equal the exhaustive search's."""


@dataclass
class Alternative:
    plan: LayoutPlan
    why_lost: str


@dataclass
class LayoutSearchResult:
    best: LayoutPlan | None
    alternatives: list[Alternative]
    rejected: dict[str, int]
    evaluated: int
    model: ModelShape
    gpu: GpuSpec
    num_gpus: int
    global_batch_size: int
    seq_length: int
    num_fitting: int = 0
    """Layouts that passed every rule and fit (evaluated = num_fitting + sum of rejected)."""
    min_memory_bytes: float = 0.0
    """Smallest per-GPU memory among layouts that pass every divisibility rule (0 if none did);
    exact when nothing fits (the pruned search then reruns exhaustively), else among those evaluated."""
    context: dict = field(default_factory=dict)


class _Split(NamedTuple):
    """Where a unit of the search (a layout less its micro-batch size and optimizer choice) sits in the
    enumeration: TP, PP, VPP, CP, DP, the first and last stages' layers and the recompute mode. The
    bounds read these; a layout view (_LayoutView) is built only for units the bound does not skip."""

    tp: int
    pp: int
    vpp: int
    cp: int
    dp: int
    first: int | None
    last: int | None
    recompute: str


_LayoutView = make_dataclass(
    "_LayoutView", list(ParallelLayout.model_fields), slots=True,
    namespace={"num_gpus": vars(ParallelLayout)["num_gpus"],
               "num_microbatches": vars(ParallelLayout)["num_microbatches"]})
_LayoutView.__doc__ = """A light view of a ParallelLayout for the search's inner loop: ParallelLayout's fields
(read from it) and properties, without pydantic's construction cost (a copy of a model costs more than
evaluating a layout); planner.compute.memory and planner.compute.step_time read either. The search builds only views
that pass the rules (planner.compute.parallel); the winners become validated ParallelLayouts."""


def _to_layout(view: _LayoutView) -> ParallelLayout:
    """The validated ParallelLayout of a view (its validator re-checks the layout-only rules)."""
    return ParallelLayout(**{name: getattr(view, name) for name in ParallelLayout.model_fields})


@dataclass
class _Search:
    model: ModelShape
    gpu: GpuSpec
    cluster: ClusterSpec
    num_gpus: int
    global_batch_size: int
    precision: str
    space: SearchSpace
    step_model: StepTimeModel
    top_k: int = 5
    rejected: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    evaluated: int = 0
    fits: list[tuple[tuple, _LayoutView, RankMemory, StepTime]] = field(default_factory=list)
    """(sort key (step time, memory, enumeration order), layout, memory, timing) of timed fits."""
    units: list[tuple[_Split, list[int]]] = field(default_factory=list)
    """(layout without micro-batch/optimizer, micro-batch sizes that divide) in enumeration order."""
    min_memory_bytes: float = float("inf")
    num_untimed_fits: int = 0
    param_cache: dict = field(default_factory=dict)
    flops_cache: dict = field(default_factory=dict)
    bound_cache: dict = field(default_factory=dict)
    activation_cache: dict = field(default_factory=dict)
    pipeline_cache: dict = field(default_factory=dict)
    groups: list[int] = field(default_factory=list)
    """Index in `units` of each TP/PP/VPP/CP/DP split's first recompute mode (splits with a micro-batch)."""
    best_times: list[float] = field(default_factory=list)
    """Max-heap (negated) of the top_k + 1 fastest step times so far (the pruning threshold)."""

    def reject(self, reason: str, count: int) -> None:
        self.rejected[reason] += count
        self.evaluated += count

    def inner_count(self) -> int:
        s = self.space
        return len(s.micro_batch_sizes) * len(s.recompute_modes) * len(s.distributed_optimizer)

    def run(self) -> None:
        n, model, gpn = self.num_gpus, self.model, self.cluster.gpus_per_node
        for t in divisors(n, min(n, gpn)):
            if self.space.tensor_parallel_sizes is not None and t not in self.space.tensor_parallel_sizes:
                continue
            rest_t = n // t
            num_p = len(divisors(rest_t, model.num_layers))
            broken = tensor_breaks(t, model, gpn)
            if broken:  # counted under one code, tp_node first
                self.reject("tp_node" if "tp_node" in broken else broken[0], num_p * self.inner_count())
                continue
            for p in divisors(rest_t, model.num_layers):
                if self.space.pipeline_parallel_sizes is None or p in self.space.pipeline_parallel_sizes:
                    self.over_cp(t, p, rest_t // p)
        if self.space.prune:
            self.evaluate_pruned()
        else:
            for index, (_, micro_batches) in enumerate(self.units):
                self.over_options(index, micro_batches)

    def view(self, index: int, micro_batch_size: int = 1, use_distributed_optimizer: bool = True) -> _LayoutView:
        """The layout of unit `index` with this micro-batch size and optimizer choice."""
        u = self.units[index][0]
        return _LayoutView(
            tensor_model_parallel_size=u.tp, pipeline_model_parallel_size=u.pp,
            virtual_pipeline_model_parallel_size=u.vpp, context_parallel_size=u.cp, data_parallel_size=u.dp,
            micro_batch_size=micro_batch_size, global_batch_size=self.global_batch_size, recompute=u.recompute,
            sequence_parallel=self.space.sequence_parallel and u.tp > 1,
            use_distributed_optimizer=use_distributed_optimizer, num_layers_in_first_pipeline_stage=u.first,
            num_layers_in_last_pipeline_stage=u.last)

    def layer_flops(self, recompute: str) -> float:
        if recompute not in self.flops_cache:
            self.flops_cache[recompute] = _layer_hardware_flops_per_token(self.model, recompute)
        return self.flops_cache[recompute]

    def s_per_flop(self, recompute: str) -> float:
        key = ("s_per_flop", recompute)
        if key not in self.flops_cache:
            self.flops_cache[key] = seconds_per_layer_flop(self.model, self.gpu, self.precision, recompute,
                                                           self.step_model)
        return self.flops_cache[key]

    def pipeline_s(self, index: int, b: int) -> float:
        """Exact pipeline part of the step time of layout `index` of `units` at micro-batch `b`, a
        lower bound on it (planner.compute.step_time.pipeline_terms; kept for step_time)."""
        base = self.view(index, b)
        terms = pipeline_terms(self.model, base, self.gpu, self.cluster, precision=self.precision,
                               step_model=self.step_model, layer_flops_per_token=self.layer_flops(base.recompute),
                               s_per_flop=self.s_per_flop(base.recompute))
        self.pipeline_cache[(index, b)] = terms
        return terms[0]

    def threshold(self) -> float:
        """Step time of the (top_k + 1)-th fastest fit so far (inf until there are that many)."""
        return -self.best_times[0] if len(self.best_times) > self.top_k else float("inf")

    def pair_bounds(self, base: _Split, micro_batches: list[int], recompute: str | None = None) -> list[float]:
        """Lower bound on the step time of `base` with each micro-batch size: planner.compute.step_time's
        (m + (p-1)/v) slots of the busiest stage's layers (compute at the micro-batch's kernel
        efficiency, TP and CP communication), without logits, p2p, data-parallel and optimizer
        terms (all >= 0), shaved by 1e-9 against rounding. recompute="none" bounds every mode
        (fewest FLOPs and collectives)."""
        t, cp, d = base.tp, base.cp, base.dp
        recompute = recompute or base.recompute
        key = (t, cp, recompute)
        if key not in self.bound_cache:
            self.bound_cache[key] = self.per_token_terms(t, cp, recompute)
        per_token_s, fixed_s = self.bound_cache[key]
        bubble = (base.pp - 1) / base.vpp
        seq, gbs = self.model.seq_length / cp, self.global_batch_size
        key = (base.pp, base.first, base.last)
        if key not in self.bound_cache:
            self.bound_cache[key] = max(stage_layer_counts(self.model.num_layers, *key)) * (1 - 1e-9)
        layers = self.bound_cache[key]
        return [(gbs // (b * d) + bubble) * (b * seq * per_token_s + fixed_s) * layers for b in micro_batches]

    def per_token_terms(self, t: int, cp: int, recompute: str) -> tuple[float, float]:
        """(seconds per token, fixed seconds) of one layer's micro-batch: compute at the asymptotic
        kernel efficiency plus TP and CP communication per token; the half-efficiency term plus
        TP latency, as in planner.compute.step_time.pipeline_terms."""
        sm, model, cluster = self.step_model, self.model, self.cluster
        gpn, full = cluster.nvlink_domain, recompute == "full"
        act_bytes = get_precision(self.precision).activation_bytes
        intra = cluster.intra_node_bandwidth_bytes_per_s * sm.comm_efficiency
        inter = cluster.inter_node_bandwidth_bytes_per_s * sm.comm_efficiency
        tp_share = (6 if full else 4) * (1 - sm.tp_overlap_fraction) if t > 1 else 0.0
        tp_s = tp_share * 2 * (t - 1) / t * model.hidden_size * act_bytes / (intra if t <= gpn else inter)
        cp_s = ((4 if full else 3) * (cp - 1) * 2 * model.num_query_groups * model.head_dim * act_bytes
                / (intra if t * cp <= gpn else inter) * (1 - sm.cp_overlap_fraction))
        s_per_flop = self.s_per_flop(recompute)
        per_token_s = self.layer_flops(recompute) / t * s_per_flop + tp_s + cp_s
        return per_token_s, sm.half_efficiency_flops * s_per_flop + tp_share * cluster.collective_latency_s

    def states_out_of_memory(self, index: int) -> bool:
        """Whether the model states alone (weights, gradients, optimizer with the leanest optimizer
        choice, plus the framework overhead) of some pipeline rank exceed the usable memory: then
        no recompute mode, micro-batch or optimizer choice of this split fits."""
        zero = self.space.zero_stage if True in self.space.distributed_optimizer else 0
        base = self.view(index)
        w, g, o = state_bytes_per_parameter(self.precision, zero, sharding_group_size(base))
        states = max(self.rank_parameters(base, rank) for rank in peak_candidate_ranks(base)) * (w + g + o)
        return states * (1 - 1e-12) + self.gpu.framework_overhead_bytes > usable_bytes(self.gpu, self.space)

    def rank_parameters(self, layout: _LayoutView, rank: int) -> int:
        key = (layout.tensor_model_parallel_size, layout.pipeline_model_parallel_size,
               layout.num_layers_in_first_pipeline_stage, rank)
        if key not in self.param_cache:
            self.param_cache[key] = per_rank_parameter_count(self.model, layout, 0, rank,
                                                             make_vocab_size_divisible_by=128)
        return self.param_cache[key]

    def unit_out_of_memory(self, index: int, micro_batches: list[int]) -> bool:
        """Whether no micro-batch size and optimizer choice of unit `index` fits: its leanest option, the
        smallest micro-batch with the distributed optimizer, does not (activations never shrink
        as the micro-batch grows; the distributed optimizer only removes bytes)."""
        if True not in self.space.distributed_optimizer:
            return False
        layout = self.view(index, min(micro_batches))
        total = self.peak_memory(layout, self.activations(layout, index)).total_bytes
        self.min_memory_bytes = min(self.min_memory_bytes, total)
        return total > usable_bytes(self.gpu, self.space)

    def evaluate_pruned(self) -> None:
        """Branch and bound, best first, on a heap of bounds: a group (one TP/PP/VPP/CP/DP split, all
        recompute modes) popped is split into its layouts, a layout (not out of memory) into its
        (layout, micro-batch) pairs; a pair is evaluated unless its exact pipeline time
        (planner.compute.step_time.pipeline_terms) exceeds the threshold, then it goes back with that.
        Once the smallest bound exceeds the threshold, everything left is counted under
        "slower_bound" unevaluated."""
        per_pair = len(self.space.distributed_optimizer)
        size = {0: lambda i, b: sum(len(mbs) for _, mbs in self.units[i:i + len(self.space.recompute_modes)]),
                1: lambda i, b: len(self.units[i][1]), 2: lambda i, b: 1, 3: lambda i, b: 1}
        heap = [(min(self.pair_bounds(*self.units[i], recompute="none")), 0, i, 0) for i in self.groups]
        heapq.heapify(heap)
        while heap:
            bound, kind, index, b = heapq.heappop(heap)
            if bound > self.threshold():
                left = size[kind](index, b) + sum(size[k](i, mb) for _, k, i, mb in heap)
                self.reject("slower_bound", per_pair * left)
                return
            base, micro_batches = self.units[index]
            if kind == 0 and self.states_out_of_memory(index):
                self.reject("out_of_memory", per_pair * size[0](index, b))
            elif kind == 0:
                for i in range(index, index + len(self.space.recompute_modes)):
                    heapq.heappush(heap, (min(self.pair_bounds(*self.units[i])), 1, i, 0))
            elif kind == 2 and (exact := self.pipeline_s(index, b)) > self.threshold():
                heapq.heappush(heap, (exact, 3, index, b))  # tighter bound: maybe never evaluated
            elif kind >= 2:
                self.over_options(index, [b])
            elif self.unit_out_of_memory(index, micro_batches):
                self.reject("out_of_memory", per_pair * len(micro_batches))
            else:
                for b, pair_bound in zip(micro_batches, self.pair_bounds(base, micro_batches)):
                    heapq.heappush(heap, (pair_bound, 2, index, b))

    def over_cp(self, t: int, p: int, rest: int) -> None:
        s = self.model.seq_length
        for cp in divisors(rest, min(rest, self.space.max_context_parallel)):
            if self.space.context_parallel_sizes is not None and cp not in self.space.context_parallel_sizes:
                continue
            if not cp_fits(cp, s):
                self.reject("cp_sequence", self.inner_count())
                continue
            splits = stage_splits(self.model.num_layers, p, self.space.allow_uneven_pipeline)
            if not splits:
                self.reject("pp_layers", self.inner_count())
                continue
            for first, last in splits:
                for v in virtual_stage_counts(self.model.num_layers, p, first, last, self.space.max_virtual_stages):
                    if self.space.virtual_stage_counts is not None and v not in self.space.virtual_stage_counts:
                        continue
                    self.over_inner(t, p, v, cp, rest // cp, first, last)

    def over_inner(self, t: int, p: int, v: int, cp: int, d: int, first: int | None, last: int | None) -> None:
        space = self.space
        per_opt = len(space.recompute_modes) * len(space.distributed_optimizer)
        micro_batches = []
        for b in space.micro_batch_sizes:
            if not batch_divides(self.global_batch_size, b, d):
                self.reject("batch", per_opt)
            elif not interleave_fits(self.global_batch_size // (b * d), p, v):
                self.reject("interleave_microbatches", per_opt)
            else:
                micro_batches.append(b)
        if micro_batches and space.recompute_modes:
            self.groups.append(len(self.units))
        for recompute in space.recompute_modes:
            self.units.append((_Split(t, p, v, cp, d, first, last, recompute), micro_batches))

    def over_options(self, index: int, micro_batches: list[int]) -> None:
        """Micro-batch sizes x optimizer choices of one layout. Without the distributed optimizer a
        layout holds more memory and moves more bytes, so it is checked for fit but only timed when
        the distributed optimizer is not among the options (it can never be the faster twin)."""
        usable = usable_bytes(self.gpu, self.space)
        activations: dict[int, dict[int, float]] = {}  # the same with or without the dist. optimizer
        options = self.space.distributed_optimizer
        for opt_index, dist_opt in enumerate(options):
            too_big = False  # activations never shrink as the micro-batch grows
            for b in micro_batches:
                self.evaluated += 1
                if too_big:
                    self.rejected["out_of_memory"] += 1
                    continue
                layout = self.view(index, b, dist_opt)
                if b not in activations:
                    activations[b] = self.activations(layout, index)
                mem = self.peak_memory(layout, activations[b])
                self.min_memory_bytes = min(self.min_memory_bytes, mem.total_bytes)
                if mem.total_bytes > usable:
                    self.rejected["out_of_memory"] += 1
                    too_big = True
                elif not dist_opt and True in options:
                    self.num_untimed_fits += 1
                else:
                    timing = step_time(self.model, layout, self.gpu, self.cluster, precision=self.precision,
                                       params_per_gpu=mem.num_parameters, step_model=self.step_model,
                                       layer_flops_per_token=self.layer_flops(layout.recompute),
                                       pipeline=self.pipeline_cache.get((index, b)),
                                       s_per_flop=self.s_per_flop(layout.recompute))
                    order = (index, opt_index, self.space.micro_batch_sizes.index(b))
                    self.fits.append(((timing.step_time_s, mem.total_bytes, order), layout, mem, timing))
                    self.keep_time(timing.step_time_s)

    def keep_time(self, step_time_s: float) -> None:
        if len(self.best_times) <= self.top_k:
            heapq.heappush(self.best_times, -step_time_s)
        elif step_time_s < -self.best_times[0]:
            heapq.heapreplace(self.best_times, -step_time_s)

    def activations(self, layout: _LayoutView, index: int) -> dict[int, float]:
        """Activation bytes of the pipeline ranks that can hold the peak (planner.compute.memory.peak_candidate_ranks)
        of layout `index` of `units` at this micro-batch size (cached: the same for both optimizers)."""
        key = (index, layout.micro_batch_size)
        if key not in self.activation_cache:
            self.activation_cache[key] = {
                rank: activation_bytes(self.model, layout, rank, precision=self.precision,
                                       flash_attention=self.space.flash_attention)
                for rank in peak_candidate_ranks(layout)}
        return self.activation_cache[key]

    def peak_memory(self, layout: _LayoutView, activations: dict[int, float]) -> RankMemory:
        """Memory of the most loaded of the candidate pipeline ranks."""
        zero = self.space.zero_stage if layout.use_distributed_optimizer else 0
        w, g, o = state_bytes_per_parameter(self.precision, zero, sharding_group_size(layout))
        best_rank, best_total, best_params = 0, -1.0, 0
        for rank, act in activations.items():
            params = self.rank_parameters(layout, rank)
            total = params * (w + g + o) + act
            if total > best_total:
                best_rank, best_total, best_params = rank, total, params
        return RankMemory(pp_rank=best_rank, num_parameters=best_params, weights_bytes=best_params * w,
                          gradients_bytes=best_params * g, optimizer_bytes=best_params * o,
                          activations_bytes=activations[best_rank],
                          overhead_bytes=self.gpu.framework_overhead_bytes)


def usable_bytes(gpu: GpuSpec, space: SearchSpace) -> float:
    return gpu.memory_bytes * (1 - space.headroom_fraction)


def cpu_space(gpu: GpuSpec, space: SearchSpace) -> SearchSpace:
    """On the CPU pseudo-device the trainer runs TP and DP only: megatron-core's pipeline schedules and
    context-parallel attention are CUDA-only, and executor/train/cpu_compat.py refuses PP > 1 and CP > 1.
    A search there keeps PP = CP = 1 unless the caller chose the sizes itself."""
    if gpu.generation != "CPU":
        return space
    return replace(space, pipeline_parallel_sizes=space.pipeline_parallel_sizes or (1,),
                   context_parallel_sizes=space.context_parallel_sizes or (1,))


def make_layout_plan(
    model: ModelShape, layout: ParallelLayout, mem: RankMemory, timing: StepTime, gpu: GpuSpec,
    *, gpus_per_node: int, precision: str, headroom_fraction: float,
) -> LayoutPlan:
    """The schema object for one evaluated layout."""
    tokens_per_step = layout.global_batch_size * model.seq_length
    model_flops = tokens_per_step * model_flops_per_token(model)
    peak = peak_flops(gpu, precision)
    flops_per_gpu = model_flops / timing.step_time_s / layout.num_gpus
    return LayoutPlan(
        layout=layout,
        memory=MemoryBreakdown(
            weights_bytes=mem.weights_bytes, gradients_bytes=mem.gradients_bytes,
            optimizer_bytes=mem.optimizer_bytes, activations_bytes=mem.activations_bytes,
            overhead_bytes=mem.overhead_bytes, total_bytes=mem.total_bytes,
            capacity_bytes=gpu.memory_bytes, num_parameters_per_gpu=mem.num_parameters,
            pipeline_stage=mem.pp_rank, headroom_fraction=headroom_fraction,
        ),
        step_time_s=timing.step_time_s,
        tokens_per_s=tokens_per_step / timing.step_time_s,
        mfu=min(1.0, flops_per_gpu / peak),
        gpus_per_node=gpus_per_node,
        num_microbatches=layout.num_microbatches,
        bubble_fraction=timing.bubble_fraction,
        tflops_per_gpu=flops_per_gpu / 1e12,
        time_breakdown_s=timing.breakdown(),
        notes=[f"memory: Korthikanti et al. 2022 activations, Megatron bytes/param; fits within "
               f"{1 - headroom_fraction:.0%} of {gpu.memory_bytes / 1024**3:.0f} GiB",
               "step time: planner.compute.step_time, kernel efficiency calibrated on Narayanan et al. 2021 "
               "Table 1; communication overlap fractions are assumptions"],
    )


def _why_lost(plan: LayoutPlan, best: LayoutPlan) -> str:
    slower = plan.step_time_s / best.step_time_s - 1
    deltas = {k: plan.time_breakdown_s[k] - best.time_breakdown_s.get(k, 0.0)
              for k in plan.time_breakdown_s}
    key, worst = max(deltas.items(), key=lambda kv: kv[1])
    if slower <= 1e-9:
        return "ties with the best on step time; ranked after it on memory"
    return (f"{slower:.1%} slower than the best: {key.replace('_', ' ')} "
            f"+{worst:.3g} s per step")


def search_layouts(
    model: ModelShape, gpu: GpuSpec, num_gpus: int, *, global_batch_size: int, seq_length: int,
    gpus_per_node: int, precision: str = "bf16", top_k: int = 5,
    cluster: ClusterSpec | None = None, space: SearchSpace | None = None,
    step_model: StepTimeModel = DEFAULT_STEP_MODEL,
) -> LayoutSearchResult:
    """Fastest layouts of `model` on `num_gpus` × `gpu` for batches of `global_batch_size`
    sequences of `seq_length` tokens; `.best` is None when nothing fits (planner.compute.layout_advice.no_fit_message says why).

    Raises ValueError for non-positive sizes.
    """
    for name, value in (("num_gpus", num_gpus), ("global_batch_size", global_batch_size),
                        ("seq_length", seq_length), ("gpus_per_node", gpus_per_node)):
        if value < 1:
            raise ValueError(f"{name} ({value}) must be a positive integer")
    space = cpu_space(gpu, space or SearchSpace())
    if model.seq_length != seq_length:
        model = model.model_copy(update={"seq_length": seq_length})
    if cluster is None:
        cluster = cluster_from_gpu(gpu, gpus_per_node)
    elif cluster.gpus_per_node != gpus_per_node:
        cluster = cluster.model_copy(update={"gpus_per_node": gpus_per_node})
    search = _Search(model, gpu, cluster, num_gpus, global_batch_size, precision, space, step_model, top_k)
    search.run()
    if space.prune and not search.fits:  # nothing fits: the no-fit advice needs every layout's memory
        return search_layouts(model, gpu, num_gpus, global_batch_size=global_batch_size, seq_length=seq_length,
                              gpus_per_node=gpus_per_node, precision=precision, top_k=top_k, cluster=cluster,
                              space=replace(space, prune=False), step_model=step_model)
    search.fits.sort(key=lambda item: item[0])
    plans, seen = [], set()
    for _, layout, mem, timing in search.fits:
        layout = _to_layout(layout)
        key = tuple(sorted(layout.model_dump(exclude={"use_distributed_optimizer"}).items()))
        if key in seen:
            continue
        seen.add(key)
        plans.append(make_layout_plan(model, layout, mem, timing, gpu, gpus_per_node=gpus_per_node,
                                      precision=precision, headroom_fraction=space.headroom_fraction))
        if len(plans) > top_k:
            break
    best = plans[0] if plans else None
    alternatives = [Alternative(plan, _why_lost(plan, best)) for plan in plans[1:top_k + 1]]
    return LayoutSearchResult(
        best=best, alternatives=alternatives,
        rejected={k: v for k, v in search.rejected.items() if v},
        evaluated=search.evaluated, num_fitting=len(search.fits) + search.num_untimed_fits, model=model, gpu=gpu, num_gpus=num_gpus,
        global_batch_size=global_batch_size, seq_length=seq_length,
        min_memory_bytes=0.0 if search.min_memory_bytes == float("inf") else search.min_memory_bytes,
        context={"precision": precision, "gpus_per_node": gpus_per_node, "space": space,
                 "cluster": cluster, "step_model": step_model},
    )


def evaluate_layout(
    model: ModelShape, gpu: GpuSpec, layout: ParallelLayout, *, gpus_per_node: int, precision: str = "bf16",
    cluster: ClusterSpec | None = None, step_model: StepTimeModel = DEFAULT_STEP_MODEL,
    headroom_fraction: float = SearchSpace.headroom_fraction, flash_attention: bool = True,
) -> tuple[LayoutPlan, bool]:
    """(the LayoutPlan of exactly `layout`, whether it fits in memory with headroom): memory of the
    most loaded pipeline rank (planner.compute.memory) and step time (planner.compute.step_time). The divisibility
    rules are the caller's to check first (planner.compute.parallel.layout_violations)."""
    cluster = cluster or cluster_from_gpu(gpu, gpus_per_node)
    mem = per_rank_memory(model, layout, precision=precision, overhead_bytes=gpu.framework_overhead_bytes,
                          flash_attention=flash_attention)
    timing = step_time(model, layout, gpu, cluster, precision=precision, params_per_gpu=mem.num_parameters,
                       step_model=step_model)
    plan = make_layout_plan(model, layout, mem, timing, gpu, gpus_per_node=gpus_per_node, precision=precision,
                            headroom_fraction=headroom_fraction)
    return plan, mem.total_bytes <= gpu.memory_bytes * (1 - headroom_fraction)


def validate_plan_layout(plan: RunPlan) -> list[str]:
    """Problems of `plan.layout` as `field: message` lines (`llmplan validate`): every rule it breaks
    (planner.compute.parallel.layout_violations), else whether it fits in memory; empty when it is valid and fits."""
    if plan.layout is None:
        return []
    violations = layout_violations(plan.layout.layout, plan.model, plan.layout, num_gpus=plan.estimate.num_gpus,
                                   global_batch_tokens=plan.recipe.global_batch_tokens)
    if violations:
        return [f"layout.layout.{v.field}: {v.message}" for v in violations]
    return _memory_problems(plan)


def _memory_problems(plan: RunPlan) -> list[str]:
    """Rule `out_of_memory` for a plan: by how much its layout misses and what would fit."""
    lay, mem = plan.layout.layout, plan.layout.memory
    mem_now = per_rank_memory(plan.model, lay, precision=plan.recipe.precision, overhead_bytes=mem.overhead_bytes)
    usable = mem.capacity_bytes * (1 - mem.headroom_fraction)
    if mem_now.total_bytes <= usable:
        return []
    parts = (f"weights {mem_now.weights_bytes / GIB:.1f}, gradients {mem_now.gradients_bytes / GIB:.1f}, "
             f"optimizer {mem_now.optimizer_bytes / GIB:.1f}, activations {mem_now.activations_bytes / GIB:.1f}, "
             f"overhead {mem_now.overhead_bytes / GIB:.1f}")
    hints = ["recompute full"] if lay.recompute != "full" else []
    if not lay.use_distributed_optimizer and lay.data_parallel_size > 1:
        hints.append("use_distributed_optimizer true")
    hints += ["a larger pipeline_model_parallel_size or tensor_model_parallel_size",
              "`llmplan layout` for the fastest layout that fits"]
    return [f"layout.memory: the layout needs {mem_now.total_bytes / GIB:.1f} GiB per GPU ({parts}) on pipeline "
            f"stage {mem_now.pp_rank}, {(mem_now.total_bytes - usable) / GIB:.1f} GiB more than the "
            f"{usable / GIB:.1f} GiB usable ({mem.capacity_bytes / GIB:.0f} GiB less "
            f"{mem.headroom_fraction:.0%} headroom); try {', '.join(hints)}"]


__all__ = ["Alternative", "LayoutSearchResult", "REASONS", "SearchSpace", "make_layout_plan",
           "evaluate_layout", "search_layouts", "stage_num_layers", "usable_bytes", "validate_plan_layout"]
