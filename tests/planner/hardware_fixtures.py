"""The GPU presets the planner tests use (presets/gpus.yaml, with their datasheet sources)."""

from __future__ import annotations

from presets import find_gpu

A100_80GB = find_gpu("A100-80GB")
H100_80GB = find_gpu("H100-80GB")
