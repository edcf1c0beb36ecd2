"""One snapshot per wizard screen at 80x24 and 120x40 (pytest-textual-snapshot).

The screens show the real planner's figures for the default goals preset, so a change to the
planner's numbers changes these pictures: review the diff (pytest writes snapshot_report.html),
then accept it with `pytest tests/tui/test_snapshots.py --snapshot-update`.
Nothing time-dependent is drawn: no clock, no approval time, cursor blinking frozen, and every
worker has finished before the picture is taken.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input
from tui_pilot_helpers import settle, wait_for_plans

from tui.app import WizardApp

SIZES = [(80, 24), (120, 40)]
SCREENS = {"goals": (), "plan": ("f3",), "compare": ("f4",), "export": ("f5",), "help": ("f1",)}


def screenshot_after(keys: tuple[str, ...]):
    async def run_before(pilot) -> None:
        await wait_for_plans(pilot, 1)
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
    assert snap_compare(WizardApp(), terminal_size=size, run_before=screenshot_after(SCREENS[screen]))


def test_the_light_theme_matches_its_snapshot(snap_compare):
    assert snap_compare(WizardApp(theme="light"), terminal_size=(80, 24), run_before=screenshot_after(()))
