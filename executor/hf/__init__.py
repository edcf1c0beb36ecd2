"""Hugging Face Transformers export and import of llmplan's megatron-core checkpoints
(docs/model-export.md): `convert` (tensor layouts), `hfconfig` (config.json and the plan),
`weights` (safetensors shards), `export`, `importer`, `card` (the model card)."""

from __future__ import annotations

import importlib.util

from planner.errors import PlanInputError

HF_EXTRA = "pip install 'llmplan[hf]'"


def need(*modules: str) -> None:
    """PlanInputError naming the missing optional packages and the extra that installs them."""
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise PlanInputError(f"{', '.join(missing)} not installed", [f"install the hf extra: {HF_EXTRA}"])
