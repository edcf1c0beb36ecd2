"""llmplan presets: GPUs, grid regions, clusters, reference models, published runs and goal presets.

Data lives in the YAML/CSV files beside this module; `presets.loader.load_catalog` validates it into
the planner's Catalog (planner.schema.catalog), which the planner receives. Import the functions from here.
"""

from presets.loader import (
    PUBLISHED_RUNS_CSV,
    find_gpu,
    find_model,
    find_region,
    goals_preset,
    goals_preset_names,
    gpu_names,
    load_catalog,
    load_energy_defaults,
    load_goals_preset,
    load_gpus,
    load_mfu_model,
    load_models,
    load_pins,
    load_regions,
)

__all__ = [
    "PUBLISHED_RUNS_CSV", "find_gpu", "find_model", "find_region", "goals_preset", "goals_preset_names", "gpu_names",
    "load_catalog", "load_energy_defaults", "load_goals_preset", "load_gpus", "load_mfu_model", "load_models",
    "load_pins", "load_regions",
]
