"""Step time of one parallel layout: compute, pipeline bubble and the communication left exposed.

- FLOPs: planner.model.flops (Megatron-LM `megatron/training/training.py` `num_floating_point_operations`)
  (NVIDIA/Megatron-LM @ d98e8a6, l.1065-1309): forward = 2 FLOPs per multiply-add of every weight
  matrix, causal attention 2·2·s·q/2 per token, logits 2·h·V; training = 3× forward (model FLOPs,
  the MFU basis). Hardware FLOPs add the recomputed forward: all layers with full recompute
  (Narayanan et al. 2021, eq. 3, the "96 = 24×4"), the attention core with selective recompute
  (Korthikanti et al. 2022, §5).
- Pipeline: 1F1B takes (m + p − 1) stage slots, interleaved (m + (p − 1)/v) (Narayanan et al. 2021,
  §2.2.1-2.2.2: bubble fraction (p−1)/m and (p−1)/(v·m)); the slowest stage sets the slot.
- Tensor parallel: 2 all-reduces forward and 2 backward per layer (+2 when the forward is
  recomputed) of b·s·h activations (Narayanan et al. 2021, §3.2; Shoeybi et al. 2019, Fig. 4),
  ring all-reduce time 2(t−1)/t · bytes / bandwidth (Patarasuk & Yuan 2009); with sequence parallel
  the all-gather + reduce-scatter pair moves the same bytes (Korthikanti et al. 2022, §4.2.2).
- Context parallel: ring exchange of K and V, (cp−1) chunks forward and twice that backward
  (Liu et al. 2023, Ring Attention; Megatron-Core context parallel), partly hidden under attention.
- Data parallel: reduce-scatter of fp32 gradients + all-gather of bf16 weights with the distributed
  optimizer, an fp32 all-reduce without it, over the network when the group spans nodes, a
  fraction overlapped with the backward pass (Megatron `--overlap-grad-reduce`).
"""

from __future__ import annotations

from dataclasses import dataclass

from planner.compute.cluster import ClusterSpec
from planner.model.flops import forward_flops_per_token, hardware_flops_per_token
from planner.compute.memory import sharding_group_size
from planner.compute.parallel import stage_num_layers
from planner.compute.precision import attention_peak_flops, get_precision, peak_flops
from planner.schema import GpuSpec, ModelShape, ParallelLayout


@dataclass(frozen=True)
class StepTimeModel:
    """Efficiencies of the step-time model, calibrated on Narayanan et al. 2021, Table 1 (A100,
    full recompute, 1.7B-1T): see tests/planner/test_layout.py and docs/layout.md."""

    kernel_efficiency: float = 0.65
    """Fraction of peak FLOP/s the transformer's GEMMs and attention kernels reach on large work."""
    fp8_efficiency: float = 0.75
    """Under an fp8 recipe, the fraction of `kernel_efficiency` that fp8 GEMMs reach against the fp8
    peak (scaling, casts and amax bookkeeping; Transformer Engine); fitted on the fp8 rows of the
    throughput benchmarks (planner.calibration.calibrate)."""
    half_efficiency_flops: float = 1e12
    """Per-GPU FLOPs of one layer's micro-batch at which kernels reach half of `kernel_efficiency`:
    small micro-batches and thin TP shards run below peak (Narayanan et al. 2021, Fig. 7 and 16:
    throughput grows with micro-batch size); efficiency = kernel_efficiency · w / (w + this)."""
    comm_efficiency: float = 0.75
    """Fraction of link bandwidth NCCL collectives and p2p sends reach (NCCL tests bus bandwidth)."""
    tp_overlap_fraction: float = 0.5
    """Share of tensor-parallel collectives hidden under GEMMs (Megatron-Core `--tp-comm-overlap`,
    Transformer Engine userbuffers); an assumption, not calibrated (MEGATRON_2021 has none)."""
    cp_overlap_fraction: float = 0.5
    """Share of the ring-attention K/V exchange hidden under attention compute (assumption)."""
    dp_overlap_fraction: float = 0.5
    """Share of gradient reduce-scatter / weight all-gather hidden under backward and forward
    (Megatron `--overlap-grad-reduce --overlap-param-gather`); an assumption, not calibrated."""
    optimizer_bytes_per_param: float = 30.0
    """HBM bytes the Adam update reads and writes per parameter of its shard (grad, master, m, v)."""


DEFAULT_STEP_MODEL = StepTimeModel()
"""Megatron-Core today: calibrated kernel efficiency, communication overlap on."""

MEGATRON_2021 = StepTimeModel(tp_overlap_fraction=0.0, cp_overlap_fraction=0.0, dp_overlap_fraction=0.0)
"""The software of Narayanan et al. 2021 (no TP or DP overlap), used to calibrate kernel_efficiency
and half_efficiency_flops on their Table 1."""


def _layer_hardware_flops_per_token(model: ModelShape, recompute: str) -> float:
    """Forward + backward (+ recomputed forward) FLOPs per token of one layer (planner.model.flops)."""
    logits = forward_flops_per_token(model).logits
    return (hardware_flops_per_token(model, recompute) - 3 * logits) / model.num_layers


def seconds_per_layer_flop(model: ModelShape, gpu: GpuSpec, precision: str, recompute: str,
                           step_model: StepTimeModel = DEFAULT_STEP_MODEL) -> float:
    """Seconds per hardware FLOP of one layer on large work: GEMMs at the precision's peak (x
    `fp8_efficiency` under fp8), core attention at the attention peak (planner.compute.precision), both at
    `kernel_efficiency`; weighted by the layer's FLOPs of each kind (planner.model.flops)."""
    fwd = forward_flops_per_token(model)
    gemm = fwd.layer_matmul * (4 if recompute == "full" else 3)
    attn = fwd.core_attention * (3 if recompute == "none" else 4)
    gemm_peak = peak_flops(gpu, precision) * (step_model.fp8_efficiency if precision == "fp8" else 1.0)
    seconds = gemm / gemm_peak + attn / attention_peak_flops(gpu, precision)
    return seconds / (gemm + attn) / step_model.kernel_efficiency


def _allreduce_s(num_bytes: float, group: int, bandwidth: float, latency_s: float) -> float:
    if group <= 1:
        return 0.0
    return 2 * (group - 1) / group * num_bytes / bandwidth + latency_s


@dataclass(frozen=True)
class StepTime:
    """Seconds per optimizer step and where they go."""

    step_time_s: float
    compute_s: float
    bubble_s: float
    tp_comm_s: float
    cp_comm_s: float
    pp_comm_s: float
    dp_comm_s: float
    optimizer_s: float
    bubble_fraction: float

    def breakdown(self) -> dict[str, float]:
        return {"compute": self.compute_s, "pipeline_bubble": self.bubble_s,
                "tensor_parallel_comm": self.tp_comm_s, "context_parallel_comm": self.cp_comm_s,
                "pipeline_p2p": self.pp_comm_s, "data_parallel_comm": self.dp_comm_s,
                "optimizer": self.optimizer_s}


def pipeline_terms(
    model: ModelShape, layout: ParallelLayout, gpu: GpuSpec, cluster: ClusterSpec, *,
    precision: str = "bf16", step_model: StepTimeModel = DEFAULT_STEP_MODEL,
    layer_flops_per_token: float | None = None, s_per_flop: float | None = None,
) -> tuple[float, float, float, float, float, float, float]:
    """(pipeline_s, slot, compute_slot, slot_tp, slot_cp, p2p, bubble_slots) of `layout`: the
    1F1B / interleaved pipeline part of the step (Narayanan et al. 2021, §2.2), without the data-
    parallel and optimizer terms. step_time adds those (both >= 0) to the same float, so
    pipeline_s is an exact lower bound on step_time_s (planner.compute.layout prunes with it).
    `layer_flops_per_token` = _layer_hardware_flops_per_token(model, layout.recompute) and
    `s_per_flop` = seconds_per_layer_flop(...), precomputed."""
    t, p, v = (layout.tensor_model_parallel_size, layout.pipeline_model_parallel_size,
               layout.virtual_pipeline_model_parallel_size)
    cp, d, gpn = layout.context_parallel_size, layout.data_parallel_size, cluster.nvlink_domain
    m = layout.num_microbatches
    intra = cluster.intra_node_bandwidth_bytes_per_s * step_model.comm_efficiency
    inter = cluster.inter_node_bandwidth_bytes_per_s * step_model.comm_efficiency
    lat = cluster.collective_latency_s
    act_bytes = get_precision(precision).activation_bytes
    tokens = layout.micro_batch_size * model.seq_length / cp  # per GPU per micro-batch

    if layer_flops_per_token is None:
        layer_flops_per_token = _layer_hardware_flops_per_token(model, layout.recompute)
    if s_per_flop is None:
        s_per_flop = seconds_per_layer_flop(model, gpu, precision, layout.recompute, step_model)
    layer_work = tokens * layer_flops_per_token / t
    # efficiency = kernel_efficiency * w / (w + half): small micro-batches run below peak
    layer_compute = (layer_work + step_model.half_efficiency_flops) * s_per_flop
    logits_work = tokens * 3 * forward_flops_per_token(model).logits / t
    logits_compute = logits_work * (layer_work + step_model.half_efficiency_flops) / layer_work / (
        attention_peak_flops(gpu, precision) * step_model.kernel_efficiency)
    num_tp_collectives = 6 if layout.recompute == "full" else 4
    tp_bw = intra if t <= gpn else inter
    layer_tp = num_tp_collectives * _allreduce_s(tokens * model.hidden_size * act_bytes, t, tp_bw, lat)
    layer_tp *= 1 - step_model.tp_overlap_fraction
    kv_bytes = tokens * 2 * model.num_query_groups * model.head_dim * act_bytes
    cp_bw = intra if t * cp <= gpn else inter
    cp_passes = 4 if layout.recompute == "full" else 3
    layer_cp = cp_passes * (cp - 1) * kv_bytes / cp_bw * (1 - step_model.cp_overlap_fraction) if cp > 1 else 0.0
    p2p_bw = intra if t * cp * d * p <= gpn else inter
    p2p = 2 * v * tokens * model.hidden_size * act_bytes / t / p2p_bw if p > 1 else 0.0

    layers = stage_num_layers(model.num_layers, layout)
    slots = []
    for rank in {0, min(1, p - 1), p - 1}:  # middle stages are alike
        n_layers = layers[rank]
        c = n_layers * layer_compute + (logits_compute if rank == p - 1 else 0.0)
        slots.append((c + n_layers * (layer_tp + layer_cp) + p2p, c, n_layers))
    slot, compute_slot, n_slot = max(slots)
    slot_tp, slot_cp = n_slot * layer_tp, n_slot * layer_cp
    bubble_slots = (p - 1) / v
    return (m + bubble_slots) * slot, slot, compute_slot, slot_tp, slot_cp, p2p, bubble_slots


def step_time(
    model: ModelShape, layout: ParallelLayout, gpu: GpuSpec, cluster: ClusterSpec, *,
    precision: str = "bf16", params_per_gpu: float, step_model: StepTimeModel = DEFAULT_STEP_MODEL,
    layer_flops_per_token: float | None = None, pipeline: tuple | None = None,
    s_per_flop: float | None = None,
) -> StepTime:
    """Predicted seconds per optimizer step of `layout` (see module docstring for the terms).
    Speed-ups: `layer_flops_per_token` (_layer_hardware_flops_per_token) and `pipeline` (what
    pipeline_terms returns for this layout with these arguments), precomputed."""
    pipeline_s, slot, compute_slot, slot_tp, slot_cp, p2p, bubble_slots = pipeline or pipeline_terms(
        model, layout, gpu, cluster, precision=precision, step_model=step_model,
        layer_flops_per_token=layer_flops_per_token, s_per_flop=s_per_flop)
    t, cp, d = layout.tensor_model_parallel_size, layout.context_parallel_size, layout.data_parallel_size
    gpn, m = cluster.nvlink_domain, layout.num_microbatches
    intra = cluster.intra_node_bandwidth_bytes_per_s * step_model.comm_efficiency
    inter = cluster.inter_node_bandwidth_bytes_per_s * step_model.comm_efficiency
    lat = cluster.collective_latency_s

    table = get_precision(precision)
    grad_bytes, weight_bytes = table.gradient_bytes, table.weight_bytes  # fp32 main grads, weights
    dp_bw = intra if t * cp * d <= gpn else inter
    g = sharding_group_size(layout)  # gradients are reduced over DP x CP
    if g > 1:
        if layout.use_distributed_optimizer:
            dp = (g - 1) / g * params_per_gpu * (grad_bytes + weight_bytes) / dp_bw + 2 * lat
        else:
            dp = _allreduce_s(params_per_gpu * grad_bytes, g, dp_bw, lat)
        dp *= 1 - step_model.dp_overlap_fraction
    else:
        dp = 0.0
    shard = params_per_gpu / g if layout.use_distributed_optimizer else params_per_gpu
    optimizer = shard * step_model.optimizer_bytes_per_param / gpu.memory_bandwidth_bytes_per_s
    return StepTime(
        step_time_s=pipeline_s + dp + optimizer,
        compute_s=m * compute_slot, bubble_s=bubble_slots * slot,
        tp_comm_s=m * slot_tp, cp_comm_s=m * slot_cp, pp_comm_s=m * p2p,
        dp_comm_s=dp, optimizer_s=optimizer,
        bubble_fraction=bubble_slots / m,
    )
