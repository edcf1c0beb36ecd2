"""Cluster shapes: GPUs per node and the links between GPUs.

A layout's communication time depends on the node shape as much as on the GPU: tensor-parallel
collectives run over NVLink inside a node, data-parallel gradient traffic over the network. The
named cluster presets (presets/clusters.yaml) reach the planner in the Catalog
(planner.schema.catalog.Catalog.cluster); without one, a cluster is built from the GPU preset.
"""

from __future__ import annotations

from planner.schema.hardware import ClusterSpec, GpuSpec

__all__ = ["ClusterSpec", "cluster_from_gpu"]


def cluster_from_gpu(gpu: GpuSpec, gpus_per_node: int | None = None) -> ClusterSpec:
    """A cluster of nodes of `gpu` with the links the GPU preset states."""
    return ClusterSpec(
        name=f"{gpu.name}-cluster", gpu=gpu.name,
        gpus_per_node=gpus_per_node or gpu.gpus_per_node,
        intra_node_bandwidth_bytes_per_s=gpu.intra_node_bandwidth_bytes_per_s,
        inter_node_bandwidth_bytes_per_s=gpu.inter_node_bandwidth_bytes_per_s,
        nvlink_domain_gpus=gpu.nvlink_domain_gpus,
        source=f"derived from the GPU preset ({gpu.source})", date=gpu.date,
    )
