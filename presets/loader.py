"""Load and validate the preset files of this package into the planner's Catalog.

`load_catalog()` reads every data file once per process (YAML through the C loader when PyYAML has
it, CSV rows as strings) and validates them into planner.schema.catalog.Catalog; a malformed entry
raises PlanInputError naming the file and field. The planner receives the Catalog and never opens a
preset file itself. The `find_*`/`load_*` functions below are thin wrappers over the Catalog for the
executor and the wizard. Goals presets (presets/goals/*.yaml) and their pins are read here too.
"""

from __future__ import annotations

import csv
import functools
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from planner.schema import Goals, GpuSpec, ModelShape, RegionSpec
from planner.schema.catalog import Catalog, name_key
from planner.schema.errors import PlanInputError, from_validation_error

PRESETS_DIR = Path(__file__).resolve().parent
GOALS_DIR = PRESETS_DIR / "goals"
PUBLISHED_RUNS_CSV = PRESETS_DIR / "published_runs.csv"
"""Copy of ../shared/calibration/published_runs.csv (see its README for the sources of each row)."""
RESIDUALS_FILE = "calibration_residuals.yaml"

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _read_yaml(name: str) -> Any:
    path = PRESETS_DIR / name
    with path.open(encoding="utf-8") as fh:
        return yaml.load(fh, Loader=_Loader)  # noqa: S506 - a SafeLoader


def read_csv(path: str | Path) -> tuple[dict[str, str], ...]:
    """The rows of a CSV file as string mappings (the published runs and benchmarks tables)."""
    with Path(path).open(encoding="utf-8", newline="") as fh:
        return tuple(csv.DictReader(fh))


def _validated(model: type, data: Any, where: str):
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise from_validation_error(err, f"invalid preset {where}", str(PRESETS_DIR)) from None


@functools.cache
def load_catalog() -> Catalog:
    """Every preset of this package, validated once per process (see planner.schema.catalog)."""
    residuals_path = PRESETS_DIR / RESIDUALS_FILE
    data = {
        "gpus": _read_yaml("gpus.yaml")["gpus"],
        "regions": _read_yaml("regions.yaml")["regions"],
        "clusters": _read_yaml("clusters.yaml").get("clusters", []),
        "models": _read_yaml("models.yaml")["models"],
        "mfu_model": _read_yaml("mfu_model.yaml"),
        "energy": _read_yaml("energy.yaml"),
        "reliability": _read_yaml("reliability.yaml"),
        "residuals": _read_yaml(RESIDUALS_FILE) if residuals_path.exists() else None,
        "published_runs": read_csv(PUBLISHED_RUNS_CSV),
        "published_runs_added": read_csv(PRESETS_DIR / "published_runs_added.csv"),
        "throughput_benchmarks": read_csv(PRESETS_DIR / "throughput_benchmarks.csv"),
    }
    return _validated(Catalog, data, "catalog")


def load_gpus() -> tuple[GpuSpec, ...]:
    """Every GPU preset of gpus.yaml, validated."""
    return load_catalog().gpus


def gpu_names() -> list[str]:
    return load_catalog().gpu_names()


def find_gpu(name: str, field: str = "gpu") -> GpuSpec:
    """The GPU preset a name or alias refers to, or PlanInputError listing the known names."""
    return load_catalog().gpu(name, field)


def load_regions() -> tuple[RegionSpec, ...]:
    return load_catalog().regions


def find_region(name: str, field: str = "region") -> RegionSpec:
    return load_catalog().region(name, field)


def load_models() -> dict[str, ModelShape]:
    """Reference model shapes by name (num_params exact, see models.yaml)."""
    return load_catalog().model_shapes()


def model_sources() -> dict[str, str]:
    return {m.name: m.source for m in load_catalog().models}


def find_model(name: str) -> ModelShape:
    return load_catalog().model(name)


def load_mfu_model() -> dict:
    """Coefficients of the calibrated MFU model (planner.compute.throughput.MfuModel.from_preset)."""
    return load_catalog().mfu_model


def load_energy_defaults() -> dict:
    """Power draw, node overhead and fleet defaults used by planner.cost.pricing, each with its source."""
    return load_catalog().energy.model_dump()


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
    try:
        return Goals.model_validate(_read_yaml(path.relative_to(PRESETS_DIR).as_posix()) or {})
    except ValidationError as err:
        raise from_validation_error(err, "invalid Goals", str(path)) from None


def goals_preset(name: str) -> tuple[Goals, dict | None]:
    """A goals preset and the pins its plan applies: `derive_plan(resolve(goals, load_catalog()), pins=pins)`."""
    return load_goals_preset(name), load_pins(name)


_key = name_key
