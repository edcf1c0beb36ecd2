"""The Catalog: every preset the planner draws on, as frozen, validated objects.

presets.load_catalog() reads the data files beside the presets package once and validates them into
these types; the planner receives a Catalog and never opens a preset file itself (issue 14). The
types live here, in the planner's schema, so that presets imports only planner.schema.

Lookups (`gpu`, `region`, `model`, `cluster`) match names case-, space- and separator-insensitively
(`H100`, ` h100_sxm `) and raise PlanInputError naming the field, the value and the known names.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from planner.schema.base import NonNegativeFloat, PositiveFloat, StrictModel
from planner.schema.errors import PlanInputError
from planner.schema.hardware import ClusterSpec, GpuSpec, RegionSpec
from planner.schema.model import ModelShape


def name_key(name: str) -> str:
    """Case-, space- and separator-insensitive form of a name: ` H100_sxm ` -> `h100-sxm`."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


class FrozenModel(StrictModel):
    """A strict schema model that cannot change once validated (catalog entries are shared)."""

    model_config = ConfigDict(frozen=True, validate_assignment=False)


class Sourced(FrozenModel):
    """One default value with where it came from."""

    value: float
    source: str


class EnergyDefaults(FrozenModel):
    """presets/energy.yaml: power draw, node overhead and fleet defaults of planner.cost.pricing and sizing."""

    gpu_power_utilisation: Sourced
    node_overhead_fraction: Sourced
    default_run_days: Sourced
    max_gpus: Sourced


class FailureModelPreset(FrozenModel):
    failures_per_gpu_hour: PositiveFloat
    rate_p10_factor: PositiveFloat
    rate_p90_factor: PositiveFloat
    source: str
    date: str


class StoragePreset(FrozenModel):
    aggregate_bytes_per_s: PositiveFloat
    per_node_bytes_per_s: PositiveFloat
    source: str
    date: str


class RestartPreset(FrozenModel):
    overhead_s: NonNegativeFloat
    source: str


class CheckpointPreset(FrozenModel):
    bytes_per_param: PositiveFloat
    source: str


class ReliabilityPresets(FrozenModel):
    """presets/reliability.yaml: failure rates, restart overhead, checkpoint storage (planner.cost.reliability)."""

    default_failure_model: str
    default_storage: str
    failure_models: dict[str, FailureModelPreset]
    restart: RestartPreset
    storage: dict[str, StoragePreset]
    checkpoint: CheckpointPreset

    @model_validator(mode="after")
    def _defaults_exist(self) -> ReliabilityPresets:
        if self.default_failure_model not in self.failure_models:
            raise ValueError(f"default_failure_model {self.default_failure_model!r} is not among failure_models")
        if self.default_storage not in self.storage:
            raise ValueError(f"default_storage {self.default_storage!r} is not among storage")
        return self

    def storage_names(self) -> list[str]:
        return sorted(self.storage)

    def failure_model_names(self) -> list[str]:
        return sorted(self.failure_models)


class ResidualEntry(FrozenModel):
    """Log residuals ln(reported / predicted) summarised: mean, spread, count and what they are of."""

    mu: float
    sigma: NonNegativeFloat
    n: int = Field(ge=0)
    source: str


class CalibrationResiduals(FrozenModel):
    """presets/calibration_residuals.yaml (`llmplan calibrate --residuals`; planner.cost.uncertainty)."""

    gpu_hours: ResidualEntry
    energy: ResidualEntry
    step_time: ResidualEntry | None = None


class ReferenceModel(FrozenModel):
    """A published model's exact shape (presets/models.yaml)."""

    name: str
    source: str
    shape: ModelShape


MFU_MODEL_KEYS = ("gpus", "default", "size_exponent", "seq_ref", "seq_exponent", "scale_ref_gpus", "scale_coefficient")


class Catalog(FrozenModel):
    """Every preset of the presets package; build it with presets.load_catalog()."""

    gpus: tuple[GpuSpec, ...]
    regions: tuple[RegionSpec, ...]
    clusters: tuple[ClusterSpec, ...] = ()
    models: tuple[ReferenceModel, ...] = ()
    mfu_model: dict[str, Any] = Field(
        description="presets/mfu_model.yaml: the sizing prior and the chain's fitted coefficients, parsed by "
                    "planner.compute.throughput.MfuModel.from_preset and ThroughputModel.from_preset")
    energy: EnergyDefaults
    reliability: ReliabilityPresets
    residuals: CalibrationResiduals | None = Field(
        None, description="None when presets/calibration_residuals.yaml is missing (planner.cost.uncertainty computes them)")
    published_runs: tuple[dict[str, str], ...] = Field((), description="presets/published_runs.csv rows")
    published_runs_added: tuple[dict[str, str], ...] = Field((), description="presets/published_runs_added.csv rows")
    throughput_benchmarks: tuple[dict[str, str], ...] = Field((), description="presets/throughput_benchmarks.csv rows")

    @model_validator(mode="after")
    def _mfu_model_complete(self) -> Catalog:
        missing = [k for k in MFU_MODEL_KEYS if k not in self.mfu_model]
        if missing:
            raise ValueError(f"mfu_model: missing {', '.join(missing)}")
        return self

    def gpu_names(self) -> list[str]:
        return [gpu.name for gpu in self.gpus]

    def gpu(self, name: str, field: str = "gpu") -> GpuSpec:
        """The GPU preset a name or alias refers to, or PlanInputError listing the known names."""
        key = name_key(name)
        for gpu in self.gpus:
            if key in (name_key(n) for n in (gpu.name, *gpu.aliases)):
                return gpu
        raise PlanInputError(
            f"{field}: unknown GPU {name!r}",
            [f"known GPUs: {', '.join(self.gpu_names())}",
             "aliases such as H100, A100, A100-40GB, MI300X work too; see `llmplan presets gpus`"],
        )

    def region(self, name: str, field: str = "region") -> RegionSpec:
        for region in self.regions:
            if name_key(region.name) == name_key(name):
                return region
        known = ", ".join(r.name for r in self.regions)
        raise PlanInputError(f"{field}: unknown region {name!r}", [f"known regions: {known}"])

    def model_shapes(self) -> dict[str, ModelShape]:
        """Reference model shapes by name (num_params exact, see presets/models.yaml)."""
        return {m.name: m.shape for m in self.models}

    def model(self, name: str, field: str = "model") -> ModelShape:
        for m in self.models:
            if name_key(m.name) == name_key(name):
                return m.shape
        raise PlanInputError(f"{field}: unknown preset {name!r}",
                             [f"known models: {', '.join(m.name for m in self.models)}"])

    def cluster(self, name: str, field: str = "--cluster") -> ClusterSpec:
        """The cluster preset named `name` (case-insensitive, aliases too); PlanInputError lists the known names."""
        key = name.strip().lower()
        for cluster in self.clusters:
            if key == cluster.name.lower() or key in (a.lower() for a in cluster.aliases):
                return cluster
        known = ", ".join(c.name for c in self.clusters)
        raise PlanInputError(f"unknown cluster {name!r}; known clusters: {known}", [f"{field}: {name!r} is not a preset"])
