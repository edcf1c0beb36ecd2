"""The Ladder screen (`l` on the Plan screen): the rungs planner.ladder derives, their total cost,
and the fit: loss against compute with the frontier and the big run's predicted loss, or the
refusal when the fit does not identify every term (issue 17).

fixtures/ladder_fit.json is `llmplan ladder fit`'s output on synthetic losses: the Besiroglu et al.
2024 law at the 15 rungs of the default plan's ladder, times 1 + 0.005·sin(7i), 40 bootstrap
resamples, seed 0 (planner.model.scaling_fit.fit_ladder).
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from rich.console import Console
from textual.widgets import Input, Static
from tui_pilot_helpers import settle

from planner.io import read_model, read_plan
from planner.ladder import plan_ladder
from planner.model import sizing
from planner.schema.scaling_law import FitPoint, ScalingFit
from presets import load_catalog
from tui.app import WizardApp
from tui.screens.plan import PlanScreen
from tui.widgets import figures

pytestmark = pytest.mark.anyio

FIXTURES = Path(__file__).parent / "fixtures"
PLAN = FIXTURES / "default_plan.yaml"
FIT = FIXTURES / "ladder_fit.json"
ROOT = Path(__file__).resolve().parents[2]


def rendered(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


async def open_ladder(pilot):
    from tui.screens.ladder import LadderScreen

    await settle(pilot)
    await pilot.press("f3")
    await settle(pilot)
    assert isinstance(pilot.app.screen, PlanScreen)
    await pilot.press("l")
    await settle(pilot)
    assert isinstance(pilot.app.screen, LadderScreen)
    return pilot.app.screen


async def load_fit(pilot, path) -> None:
    await pilot.press("f")
    await pilot.pause()
    field = pilot.app.screen.query_one("#fit-path", Input)
    assert field.has_focus and field.has_class("-open")
    field.value = str(path)
    await pilot.press("enter")
    await settle(pilot)


def _write_fit(tmp_path, ratios) -> Path:
    """A fit of exact losses from a known law; one ratio leaves the data term unidentified."""
    from planner.model.scaling_fit import fit_ladder

    law = sizing.LossFit("x", 2.1, 300.0, 900.0, 0.32, 0.30, "")
    points = [FitPoint(num_params=n, num_tokens=n * r, loss=law.loss(n, n * r))
              for n in (1e7, 3e7, 1e8, 3e8, 1e9) for r in ratios]
    path = tmp_path / "fit.json"
    path.write_text(fit_ladder(points, num_bootstrap=8).model_dump_json(), encoding="utf-8")
    return path


async def test_l_on_the_plan_screen_shows_the_rungs_planner_ladder_derives_and_their_total_cost():
    app = WizardApp(plan=read_plan(PLAN))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ladder(pilot)
        expected = plan_ladder(app.plan, load_catalog())
        assert [(r.name, r.num_params) for r in screen.ladder.rungs] == [(r.name, r.num_params) for r in expected.rungs]
        rows = [line.split() for line in rendered(screen.query_one("#rungs", Static)).splitlines()]
        rows = [row for row in rows if row and row[0] in {r.name for r in expected.rungs}]
        assert [(row[0], row[1]) for row in rows] == [(r.name, figures.count(r.num_params)) for r in expected.rungs]
        head = rendered(screen.query_one("#ladder-head", Static))
        assert f"total cost {figures.usd(expected.totals.cost_usd)}" in head
        assert f"{expected.totals.compute_fraction:.1%} of the big run's compute" in head
        assert "No fit loaded" in rendered(screen.query_one("#fit-text", Static))
        assert not screen.query_one("#fit-plot").display
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, PlanScreen)


async def test_a_loaded_fit_draws_the_points_the_frontier_and_the_big_runs_predicted_loss():
    app = WizardApp(plan=read_plan(PLAN))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ladder(pilot)
        await load_fit(pilot, FIT)
        fit = read_model(ScalingFit, FIT)
        assert app.scaling_fit is not None and app.scaling_fit.law is not None
        assert not screen.query_one("#fit-path", Input).has_class("-open")
        figure = screen.figure
        assert len(figure.points) == len(fit.points) == 15 and len(figure.frontier) >= 20
        (extrapolated,) = fit.extrapolations  # fit.json's own prediction for the same (N, D)
        target = figure.target
        assert target.loss == pytest.approx(extrapolated.predicted_loss, rel=1e-6)
        assert target.p10 < target.loss < target.p90
        assert target.compute == pytest.approx(6 * app.plan.model.num_params * app.plan.tokens.num_tokens)
        # the compute-optimal loss falls as compute grows
        losses = [loss for _, loss in figure.frontier]
        assert losses == sorted(losses, reverse=True)
        text = rendered(screen.query_one("#fit-text", Static))
        assert f"predicted loss {target.loss:.3f} (p10–p90 {target.p10:.3f}–{target.p90:.3f})" in text
        plot = screen.query_one("#fit-plot")
        assert plot.display and plot.size.height > 5
        drawn = plot.plt.build()
        assert "fitted frontier" in drawn and "big run p10-p90" in drawn and "ladder" in drawn


async def test_a_fit_that_does_not_identify_a_term_says_so_and_draws_no_frontier(tmp_path):
    path = _write_fit(tmp_path, ratios=(20.0,))
    app = WizardApp(plan=read_plan(PLAN))
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ladder(pilot)
        await load_fit(pilot, path)
        text = rendered(screen.query_one("#fit-text", Static))
        assert "no frontier" in text and "does not identify" in text and "beta" in text
        assert screen.figure.frontier == [] and screen.figure.target is None
        assert len(screen.figure.points) == 5
        assert "predicted loss" not in text
        assert "fitted frontier" not in screen.query_one("#fit-plot").plt.build()


async def test_a_malformed_fit_is_refused_in_the_screen_and_nothing_is_loaded(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"kind": "llmplan-scaling-fit", "params": {"E": 1.7}}), encoding="utf-8")
    app = WizardApp(plan=read_plan(PLAN))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_ladder(pilot)
        await load_fit(pilot, path)
        text = rendered(screen.query_one("#fit-text", Static))
        assert "cannot load the fit" in text and "invalid ScalingFit" in text
        assert app.scaling_fit is None
        assert screen.query_one("#fit-path", Input).has_class("-open")  # the path stays to be corrected
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.query_one("#fit-path", Input).has_class("-open") and app.screen is screen


async def test_a_plan_derived_with_a_scaling_law_shows_its_own_law_without_loading_a_file(tmp_path):
    from tui import state
    from tui.commands.ladder_law import read_scaling_law

    base = read_plan(PLAN)
    law = read_scaling_law(str(_write_fit(tmp_path, ratios=(10.0, 20.0, 40.0))))
    plan = state.derive(base.goals.model_copy(update={"scaling_law": law}))
    app = WizardApp(plan=plan)
    async with app.run_test(size=(120, 40)) as pilot:
        screen = await open_ladder(pilot)
        assert app.scaling_fit is None
        target = screen.figure.target
        assert target.loss == pytest.approx(plan.estimate.predicted_loss, rel=1e-9)
        assert (target.p10, target.p90) == pytest.approx((plan.ranges["predicted_loss"].p10,
                                                           plan.ranges["predicted_loss"].p90))
        assert "goals.scaling_law" in rendered(screen.query_one("#fit-text", Static))


def test_the_ladder_screen_is_not_imported_at_start_up():
    code = ("import sys, tui.app; bad = [m for m in ('tui.screens.ladder', 'tui.widgets.ladder_plot') "
            "if m in sys.modules]; print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
