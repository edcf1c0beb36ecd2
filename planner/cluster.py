"""Cluster presets (presets/clusters.yaml): GPUs per node and the links between GPUs.

A layout's communication time depends on the node shape as much as on the GPU: tensor-parallel
collectives run over NVLink inside a node, data-parallel gradient traffic over the network.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import Field, ValidationError

from planner.schema.base import PositiveFloat, PositiveInt, StrictModel
from planner.schema.hardware import GpuSpec

CLUSTERS_YAML = Path(__file__).resolve().parent.parent / "presets" / "clusters.yaml"


class ClusterSpec(StrictModel):
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


@lru_cache(maxsize=4)
def load_clusters(path: str | Path = CLUSTERS_YAML) -> tuple[ClusterSpec, ...]:
    """All cluster presets; raises ValueError naming the entry and field when one is malformed."""
    data = yaml.safe_load(Path(path).read_text())
    out = []
    for i, entry in enumerate(data.get("clusters", [])):
        try:
            out.append(ClusterSpec(**entry))
        except ValidationError as err:
            first = err.errors(include_url=False)[0]
            loc = ".".join(str(x) for x in first["loc"])
            raise ValueError(f"{path}: clusters[{i}].{loc}: {first['msg']}") from err
    return tuple(out)


def get_cluster(name: str, path: str | Path = CLUSTERS_YAML) -> ClusterSpec:
    """The preset named `name` (case-insensitive, aliases too); ValueError lists the known names."""
    key = name.strip().lower()
    clusters = load_clusters(path)
    for cluster in clusters:
        if key == cluster.name.lower() or key in (a.lower() for a in cluster.aliases):
            return cluster
    known = ", ".join(c.name for c in clusters)
    raise ValueError(f"unknown cluster {name!r}; known clusters: {known}")
