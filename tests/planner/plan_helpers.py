"""Plans of the goals presets, derived the way `llmplan plan --preset NAME` derives them."""

from __future__ import annotations

from planner.derive import derive_plan
from planner.resolve import resolve
from planner.schema import RunPlan
from presets import goals_preset, load_catalog


def derive_preset(name: str) -> RunPlan:
    """The plan of a goals preset (`default`, `tiny-cpu`) with the preset's pins applied."""
    goals, pins = goals_preset(name)
    return derive_plan(resolve(goals, load_catalog()), pins=pins)
