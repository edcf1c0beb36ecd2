"""One snapshot per wizard screen at 80x24 and 120x40 (pytest-textual-snapshot).

The wizard opens on fixtures/default_plan.yaml (`llmplan plan --preset default`, as
`llmplan wizard --plan FILE` does), so the goals, plan and export pictures change only when the
wizard does. The compare screen runs the planner's sweep live, so a change to the planner's numbers
changes its two pictures: review the diff (pytest writes snapshot_report.html), then accept it
with `pytest tests/tui/test_snapshots.py --snapshot-update`.
Nothing time-dependent is drawn: no clock, no approval time, cursor blinking frozen, and every
worker has finished before the picture is taken.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input
from tui_pilot_helpers import settle

from planner.io import read_plan
from tui.app import WizardApp

PLAN = Path(__file__).parent / "fixtures" / "default_plan.yaml"
FIT = Path(__file__).parent / "fixtures" / "ladder_fit.json"

SIZES = [(80, 24), (120, 40)]
SCREENS = {"goals": (), "plan": ("f3",), "compare": ("f4",), "export": ("f5",), "help": ("f1",)}


def screenshot_after(keys: tuple[str, ...]):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        for widget in pilot.app.screen.query(Input):
            widget.cursor_blink = False
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("screen", list(SCREENS))
def test_each_screen_matches_its_snapshot(snap_compare, screen, size):
    assert snap_compare(WizardApp(plan=read_plan(PLAN)), terminal_size=size, run_before=screenshot_after(SCREENS[screen]))


def ladder_with_fit():
    """The Ladder screen (`l` on the Plan screen) with fixtures/ladder_fit.json loaded, as `f` + its path load it."""
    keys = screenshot_after(("f3", "l"))

    async def run_before(pilot) -> None:
        await keys(pilot)
        pilot.app.screen.load_fit(str(FIT))
        await settle(pilot)

    return run_before


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_the_ladder_screen_matches_its_snapshot(snap_compare, size):
    assert snap_compare(WizardApp(plan=read_plan(PLAN)), terminal_size=size, run_before=ladder_with_fit())


def test_the_light_theme_matches_its_snapshot(snap_compare):
    assert snap_compare(WizardApp(plan=read_plan(PLAN), theme="light"), terminal_size=(80, 24), run_before=screenshot_after(()))
