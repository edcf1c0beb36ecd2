"""Load and validate the preset files of this package into planner types.

GPU names are matched case-insensitively with their aliases (`H100`, `h100-sxm-80gb`, ...); an
unknown name raises PlanInputError listing the known ones. Files are read once per process.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.errors import PlanInputError, from_validation_error
from planner.schema import Goals, GpuSpec, ModelShape, RegionSpec

PRESETS_DIR = Path(__file__).resolve().parent
GOALS_DIR = PRESETS_DIR / "goals"
PUBLISHED_RUNS_CSV = PRESETS_DIR / "published_runs.csv"
"""Copy of ../shared/calibration/published_runs.csv (see its README for the sources of each row)."""

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(name: str) -> Any:
    path = PRESETS_DIR / name
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader


def _key(name: str) -> str:
    """Case-, space- and separator-insensitive form of a name: ` H100_sxm ` -> `h100-sxm`."""
    return re.sub(r"[\s_]+", "-", name.strip().lower())


def _validated(model: type, item: dict, where: str):
    try:
        return model.model_validate(item)
    except ValidationError as err:
        raise from_validation_error(err, f"invalid preset {where}", str(PRESETS_DIR)) from None


@functools.cache
def load_gpus() -> tuple[GpuSpec, ...]:
    """Every GPU preset of gpus.yaml, validated."""
    items = _read_yaml("gpus.yaml")["gpus"]
    return tuple(_validated(GpuSpec, item, f"gpus.yaml:{item.get('name')}") for item in items)


@functools.cache
def _gpu_index() -> dict[str, GpuSpec]:
    index: dict[str, GpuSpec] = {}
    for gpu in load_gpus():
        for name in (gpu.name, *gpu.aliases):
            index[_key(name)] = gpu
    return index


def gpu_names() -> list[str]:
    return [gpu.name for gpu in load_gpus()]


def find_gpu(name: str, field: str = "gpu") -> GpuSpec:
    """The GPU preset a name or alias refers to, or PlanInputError listing the known names."""
    gpu = _gpu_index().get(_key(name))
    if gpu is None:
        raise PlanInputError(
            f"{field}: unknown GPU {name!r}",
            [f"known GPUs: {', '.join(gpu_names())}",
             "aliases such as H100, A100, A100-40GB, MI300X work too; see `llmplan presets gpus`"],
        )
    return gpu


@functools.cache
def load_regions() -> tuple[RegionSpec, ...]:
    items = _read_yaml("regions.yaml")["regions"]
    return tuple(_validated(RegionSpec, item, f"regions.yaml:{item.get('name')}") for item in items)


def find_region(name: str, field: str = "region") -> RegionSpec:
    for region in load_regions():
        if _key(region.name) == _key(name):
            return region
    known = ", ".join(r.name for r in load_regions())
    raise PlanInputError(f"{field}: unknown region {name!r}", [f"known regions: {known}"])


@functools.cache
def load_models() -> dict[str, ModelShape]:
    """Reference model shapes by name (num_params exact, see models.yaml)."""
    items = _read_yaml("models.yaml")["models"]
    return {item["name"]: _validated(ModelShape, item["shape"], f"models.yaml:{item['name']}") for item in items}


@functools.cache
def model_sources() -> dict[str, str]:
    return {item["name"]: item["source"] for item in _read_yaml("models.yaml")["models"]}


def find_model(name: str) -> ModelShape:
    for key, shape in load_models().items():
        if _key(key) == _key(name):
            return shape
    raise PlanInputError(f"model: unknown preset {name!r}", [f"known models: {', '.join(load_models())}"])


@functools.cache
def load_mfu_model() -> dict:
    """Coefficients of the calibrated MFU model (planner.throughput.MfuModel.from_preset)."""
    return _read_yaml("mfu_model.yaml")


@functools.cache
def load_energy_defaults() -> dict:
    """Power draw, node overhead and fleet defaults used by planner.cost, each with its source."""
    return _read_yaml("energy.yaml")


@functools.cache
def _pins() -> dict:
    return _read_yaml("pins.yaml") or {}


def load_pins(name: str) -> dict | None:
    """Layout/recipe/reliability values a goals preset pins in its plan (pins.yaml), or None."""
    pins = _pins().get(name)
    return dict(pins) if pins else None


def goals_preset_names() -> list[str]:
    return sorted(p.stem for p in GOALS_DIR.glob("*.yaml"))


def load_goals_preset(name: str) -> Goals:
    """A goals preset (`default`, `tiny-cpu`) from presets/goals/NAME.yaml."""
    path = GOALS_DIR / f"{name}.yaml"
    if not path.is_file():
        raise PlanInputError(
            f"--preset: unknown goals preset {name!r}", [f"known presets: {', '.join(goals_preset_names())}"]
        )
    from planner.io import read_goals

    return read_goals(path)
