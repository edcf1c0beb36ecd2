"""Hardware presets as typed objects: GPUs, clusters (node shape and links), grid regions.

Values live in presets/*.yaml, each with its source and date; formulas take these objects and never
hard-code a GPU figure.
"""

from __future__ import annotations

from pydantic import Field

from planner.schema.base import NonNegativeFloat, PositiveFloat, PositiveInt, StrictModel


class GpuSpec(StrictModel):
    name: str = Field(description="canonical name, e.g. H100-SXM-80GB")
    aliases: list[str] = Field(default_factory=list)
    generation: str = Field("", description="architecture generation (Ampere, Hopper, ...): the operational-efficiency factor is fitted per generation")
    vendor: str = "NVIDIA"
    memory_bytes: PositiveFloat
    peak_bf16_flops: PositiveFloat = Field(description="dense bf16 peak FLOP/s (no sparsity)")
    peak_fp16_flops: PositiveFloat
    peak_fp8_flops: PositiveFloat | None = None
    peak_fp32_flops: PositiveFloat
    memory_bandwidth_bytes_per_s: PositiveFloat
    intra_node_bandwidth_bytes_per_s: PositiveFloat = Field(description="per-GPU NVLink/xGMI bandwidth, one direction")
    inter_node_bandwidth_bytes_per_s: PositiveFloat = Field(description="per-GPU network bandwidth, one direction")
    tdp_w: PositiveFloat
    price_per_hour_usd: NonNegativeFloat = Field(description="typical rental price per GPU-hour")
    purchase_usd: NonNegativeFloat = Field(description="typical purchase price per GPU incl. its share of the server")
    framework_overhead_bytes: NonNegativeFloat = Field(description="CUDA context, NCCL buffers, fragmentation")
    gpus_per_node: PositiveInt = 8
    nvlink_domain_gpus: PositiveInt | None = Field(None, description="GPUs one NVLink domain joins (GB200 NVL72: 72); default: the node")
    source: str
    date: str


class ClusterSpec(StrictModel):
    """A node shape and the links between its GPUs (presets/clusters.yaml, or planner.compute.cluster.cluster_from_gpu)."""

    name: str
    aliases: list[str] = Field(default_factory=list)
    gpu: str = Field(description="canonical GPU preset name the cluster is built from")
    gpus_per_node: PositiveInt
    intra_node_bandwidth_bytes_per_s: PositiveFloat = Field(description="per GPU, one direction")
    inter_node_bandwidth_bytes_per_s: PositiveFloat = Field(description="per GPU, one direction")
    collective_latency_s: float = Field(2e-5, ge=0)
    nvlink_domain_gpus: PositiveInt | None = Field(None, description="GPUs joined by NVLink; default: one node")
    source: str
    date: str

    @property
    def nvlink_domain(self) -> int:
        """GPUs whose collectives run at the intra-node (NVLink) bandwidth."""
        return max(self.nvlink_domain_gpus or 0, self.gpus_per_node)


class RegionSpec(StrictModel):
    name: str
    grid_kg_co2_per_kwh: NonNegativeFloat
    source: str
    date: str
