"""The Plan screen shows the layout-to-dollars chain (issue 12): the layout's step MFU, each named
overhead and the end-to-end MFU the dollars use, the same numbers as the plan's estimate."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from rich.console import Console

from planner.io import read_plan
from tui.screens.plan import estimate_table, layout_table

PLAN = Path(__file__).parent / "fixtures" / "default_plan.yaml"


def _text(renderable) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_the_plan_screen_shows_step_mfu_each_overhead_and_the_end_to_end_mfu():
    plan = read_plan(PLAN)
    e = plan.estimate
    text = _text(estimate_table(plan))
    assert "step MFU" in text and f"{e.step_mfu:.1%}" in text
    for o in e.overheads:
        assert o.name.replace("_", " ") in text and f"{o.fraction:.3f}" in text
    assert "= end-to-end MFU" in text and f"{e.end_to_end_mfu:.1%}" in text
    assert e.end_to_end_mfu == pytest.approx(math.prod([e.step_mfu, *(o.fraction for o in e.overheads)]), rel=1e-12)
    # the layout panel's MFU is the same step MFU: one model, not two
    assert f"{plan.layout.mfu:.1%}" == f"{e.step_mfu:.1%}" and f"{e.step_mfu:.1%}" in _text(layout_table(plan))
