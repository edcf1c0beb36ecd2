"""Pilot tests of the wizard fixes of issue 13: plan-name and data fields, text selected on focus,
human units (never `$1e+03k` or `1e+03`), no CPU pseudo-device in Compare, column-wise ← →, the
Markdown export writes the charts it links, and no stale plan under the planner's error.

Every figure comes from the real planner; nothing is mocked.
"""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from textual.widgets import DataTable, Input, Static
from tui_pilot_helpers import settle, type_into, wait_for_plans

from planner.reports.report import COST_CHART, LOSS_CHART
from tui.app import WizardApp
from tui.screens.compare import CompareScreen, row_cells
from tui.screens.export import ExportScreen
from tui.widgets import figures

pytestmark = pytest.mark.anyio


def rendered(widget: Static) -> str:
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def summary(app: WizardApp) -> str:
    return str(app.screen.query_one("#summary", Static).render())


async def test_focusing_a_field_selects_its_text_so_typing_replaces_it():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        field = app.screen.query_one("#field-budget_usd", Input)
        assert field.value == "500k"
        await pilot.press("tab")  # the form opens on the objective; Tab moves to the budget
        assert app.focused is field and field.selected_text == "500k"
        computed = app.plans_computed
        await pilot.press(*"$1,000,000")
        await wait_for_plans(pilot, computed + 1)
        assert field.value == "$1,000,000" and app.goals.budget_usd == 1e6
        assert re.search(r"· \$\d[\d.]*[kM] ·", summary(app)) and "e+" not in summary(app)  # e.g. $872k at p80


async def test_the_plan_name_field_names_the_plan_and_rejects_unsafe_names():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        computed = app.plans_computed
        await type_into(pilot, "name", "llama-7b-run1")
        await wait_for_plans(pilot, computed + 1)
        assert app.goals.name == "llama-7b-run1" and app.plan.name == "llama-7b-run1"
        await type_into(pilot, "name", "/tmp/x")  # no prefix of it is a valid name
        await settle(pilot)
        assert "should match pattern" in str(app.screen.query_one("#error-name", Static).render())
        assert app.goals.name == "llama-7b-run1"


async def test_the_data_field_names_real_data_and_the_demo_corpus_is_flagged_until_then():
    app = WizardApp()
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for_plans(pilot, 1)
        assert app.screen.query_one("#field-data", Input).value == "builtin:pydoc"
        assert "demo data" in summary(app)
        computed = app.plans_computed
        await type_into(pilot, "data", "data/web.jsonl,weight=3; org/fineweb,format=hub")
        await wait_for_plans(pilot, computed + 1)
        sources = app.plan.data.sources
        assert [(s.name, s.path, s.format, s.weight) for s in sources] == [
            ("web", "data/web.jsonl", "auto", 3.0), ("fineweb", "org/fineweb", "hub", 1.0)]
        assert "demo data" not in summary(app)
        await pilot.press("f3")
        await settle(pilot)
        assert "DEMO" not in rendered(app.screen.query_one("#headline", Static))
        assert "web: data/web.jsonl (auto, weight 3 = 75%)" in rendered(app.screen.query_one("#notes", Static))
        await pilot.press("f2")
        await type_into(pilot, "data", "web.jsonl,weight=lots")
        await settle(pilot)
        assert "'lots' is not a number" in str(app.screen.query_one("#error-data", Static).render())


async def test_a_plan_on_the_demo_corpus_says_so_on_the_plan_screen():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await pilot.press("f3")
        await settle(pilot)
        assert "trains on the DEMO corpus builtin:pydoc" in rendered(app.screen.query_one("#headline", Static))
        assert "passes" in rendered(app.screen.query_one("#notes", Static))


@pytest.mark.parametrize("value,text", [(999_999.7, "$1M"), (1e6, "$1M"), (999.7, "$1k"), (60_250, "$60.2k")])
def test_money_is_rounded_before_its_suffix(value, text):
    assert figures.usd(value) == text


@pytest.mark.parametrize("fmt,value,text", [
    (figures.co2, 999_700, "1 kt"), (figures.co2, 999.7, "1 t"), (figures.energy, 999.7, "1 MWh"),
    (figures.num, 999.7, "1,000"), (figures.num, 30.84, "30.8"), (figures.flops, 2.87e23, "2.87e23 FLOP"),
    (figures.value, 123_456.0, "123.5k"), (figures.value, 2e-5, "2e-5"),
])
def test_energy_co2_counts_and_flops_never_print_a_plus_exponent(fmt, value, text):
    assert fmt(value) == text


async def test_compare_ranks_gpus_only_in_human_units_and_moves_a_column_per_arrow():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        assert "CPU" not in {s.figures["gpu"] for s in screen.scenarios}
        cells = [cell for s in screen.scenarios for cell in row_cells(s)]
        assert not [c for c in cells if re.search(r"\de[+-]?\d", c)]  # no 1e+03, $1e+03k
        table = screen.query_one(DataTable)
        starts = table.column_starts()
        assert table.scroll_x == 0 and table.max_scroll_x > 0
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x == min(starts[1], table.max_scroll_x) > 1  # a whole column, not one character
        await pilot.press("right")
        await pilot.pause()
        assert table.scroll_x == min(starts[2], table.max_scroll_x)
        await pilot.press("left")
        await pilot.pause()
        assert table.scroll_x == starts[1]
        await pilot.press("left", "left")
        await pilot.pause()
        assert table.scroll_x == 0


async def test_the_markdown_export_writes_the_two_charts_it_links(tmp_path):
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await pilot.press("f5")
        await settle(pilot)
        assert isinstance(app.screen, ExportScreen)
        app.screen.query_one("#format-markdown").value = True
        await pilot.pause()
        app.screen.query_one("#path", Input).value = str(tmp_path / "report" / "plan.md")
        app.screen.query_one("#path", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
    report = (tmp_path / "report" / "plan.md").read_text()
    for chart in (COST_CHART, LOSS_CHART):
        assert chart in report
        assert (tmp_path / "report" / chart).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "## Data" in report


async def test_the_plan_screen_shows_no_stale_plan_under_the_planners_error():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        computed = app.plans_computed
        await type_into(pilot, "target_params", "70B")
        await type_into(pilot, "budget_usd", "10000")
        await wait_for_plans(pilot, computed + 2)
        assert app.plan_error
        await pilot.press("f3")
        await settle(pilot)
        assert "cannot meet these goals" in rendered(app.screen.query_one("#headline", Static))
        assert not app.screen.query_one("#plan-grid").display
        assert not app.screen.query_one("#assumptions").display


async def test_approving_a_plan_on_the_demo_corpus_needs_the_same_consent_as_the_cli(tmp_path):
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await pilot.press("f5")
        await settle(pilot)
        dialog = app.screen
        dialog.query_one("#path", Input).value = str(tmp_path / "approved.yaml")
        dialog.query_one("#approver", Input).focus()
        await pilot.press(*"Ada", "enter")
        await settle(pilot)
        status = str(dialog.query_one("#dialog-status", Static).render())
        assert isinstance(app.screen, ExportScreen) and "--allow-demo-data" in status
        assert not (tmp_path / "approved.yaml").exists()
        dialog.query_one("#allow-demo").value = True
        dialog.query_one("#approver", Input).focus()
        await pilot.press("enter")
        await settle(pilot)
    assert app.plan.approval.approved_by == "Ada" and app.plan.approval.note == "[--allow-demo-data]"
    assert (tmp_path / "approved.yaml").exists()


async def test_with_inference_tokens_compare_and_plan_show_serving_cost_and_total_cost_of_ownership():
    from tui.screens.compare import SERVING_COLUMNS

    app = WizardApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_plans(pilot, 1)
        computed = app.plans_computed
        await type_into(pilot, "inference_tokens", "2T")
        await wait_for_plans(pilot, computed + 1)
        assert app.plan.serving is not None
        await pilot.press("f3")
        await settle(pilot)
        notes = rendered(app.screen.query_one("#notes", Static))
        assert "serving: 2T tokens" in notes and "total cost of ownership: $" in notes
        await pilot.press("f4")
        await settle(pilot)
        table = app.screen.query_one(DataTable)
        assert [str(table.columns[key].label) for _, key in SERVING_COLUMNS] == ["serving", "TCO"]
        row = next(s for s in app.screen.scenarios if not s.error)
        assert row.figures["total_cost_of_ownership_usd"] == pytest.approx(
            row.figures["total_cost_usd"] + row.figures["serving_cost_usd"])
        keys = [key for key in table.columns]
        assert keys.index("serving_cost_usd") == keys.index("total_cost_usd") + 1
