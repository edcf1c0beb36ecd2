"""Pilot tests of the planning wizard: keys in, app state and written files out.

Every figure comes from the real planner (planner.derive, planner.reports.sweep); nothing is mocked.
"""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import pytest
import yaml
from rich.console import Console
from textual.widgets import DataTable, Input, Select, Static
from tui_pilot_helpers import export_via_dialog, settle, type_into, wait_for_plans

from planner.io import canonical_sha256, read_goals, read_plan
from planner.schema import Goals, RunPlan
from presets import load_goals_preset
from tui import state
from tui.app import WizardApp
from tui.screens.compare import COLUMNS, CompareScreen
from tui.screens.export import ExportScreen
from tui.screens.goals import GoalsScreen
from tui.screens.help import HelpScreen
from tui.screens.runs import RunsScreen

pytestmark = pytest.mark.anyio


def rendered(widget: Static) -> str:
    """A Static's content (a rich Table, say) as plain text."""
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(widget.content)
    return console.export_text()


def error_text(app: WizardApp, field: str) -> str:
    return str(app.screen.query_one(f"#error-{field}", Static).render())


async def test_fill_goals_see_the_plan_change_pick_a_scenario_export_and_approve(tmp_path):
    app = WizardApp()
    async with app.run_test(size=(120, 40)) as pilot:
        # Opens on the default goals preset, every field filled, with the planner's plan.
        await wait_for_plans(pilot, 1)
        assert app.goals == load_goals_preset("default") and app.plans_computed == 1
        shown = app.screen.values()
        assert set(shown) == set(state.FIELD_NAMES)
        assert state.parse_number(shown["budget_usd"]) == app.goals.budget_usd
        assert shown["objective"] == app.goals.objective and shown["gpu"] == "H100-SXM-80GB"
        assert app.plan.goals == app.goals and app.plan_error == ""
        first = app.plan

        # Typing a bigger budget recomputes the plan: a bigger compute-optimal model.
        await type_into(pilot, "budget_usd", "2M")
        await wait_for_plans(pilot, 2)
        assert app.goals.budget_usd == 2e6 and app.plan.goals.budget_usd == 2e6
        assert app.plan.model.num_params > first.model.num_params
        assert app.plan.estimate.total_cost_usd > first.estimate.total_cost_usd
        summary = str(app.screen.query_one("#summary").render())
        assert summary.startswith(f"{app.plan.model.num_params / 1e9:.3g}B params")

        # A GPU picked from the presets reaches the plan.
        app.screen.query_one("#field-gpu", Select).value = "A100-SXM4-80GB"
        await wait_for_plans(pilot, 3)
        assert app.plan.estimate.gpu == "A100-SXM4-80GB"

        # Compare: the planner's sweep of GPU types x model sizes x objectives, cheapest first.
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        assert isinstance(screen, CompareScreen)
        table = screen.query_one(DataTable)
        varies = state.compare_varies(app.goals)
        assert [name for name, _ in varies] == ["gpu", "target_params", "objective"]
        assert table.row_count == len(screen.scenarios) == math.prod(len(v) for _, v in varies)
        feasible = [s for s in screen.scenarios if not s.error]
        cheapest = min(feasible, key=lambda s: s.figures["total_cost_usd"])
        assert tuple(table.get_row_at(0)[:2]) == (cheapest.figures["gpu"], cheapest.figures["objective"])

        # `s` sorts by the next column, `r` reverses: slowest scenario first.
        keys = [key for _, key in COLUMNS]
        await pilot.press(*("s" * ((keys.index("wallclock_days") - keys.index(screen.sort_key)) % len(keys))))
        assert (screen.sort_key, screen.sort_reverse) == ("wallclock_days", False)
        assert str(table.columns["wallclock_days"].label) == "days▲"
        await pilot.press("r")
        assert (screen.sort_key, screen.sort_reverse) == ("wallclock_days", True)
        slowest = max(feasible, key=lambda s: s.figures["wallclock_days"])
        assert tuple(table.get_row_at(0)[:2]) == (slowest.figures["gpu"], slowest.figures["objective"])

        # Enter on the third row loads that scenario into the plan.
        await pilot.press("down", "down")
        row_key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        chosen = next(s for s in screen.scenarios if s.key == row_key)
        computed = app.plans_computed
        await pilot.press("enter")
        await wait_for_plans(pilot, computed + 1)
        assert app.current_mode == "plan"
        assert app.goals == chosen.goals and app.plan.goals == chosen.goals
        assert app.plan.estimate.gpu == chosen.figures["gpu"]
        # The plan screen shows the recipe and the failure plan of the plan it holds.
        training = rendered(app.screen.query_one("#training", Static))
        assert f"every {app.plan.reliability.checkpoint_interval_steps:,} steps" in training
        assert f"{app.plan.recipe.train_steps:,}" in training and app.plan.recipe.precision in training

        # Export it as YAML, then approve it under a name.
        exported, approved = tmp_path / "plan.yaml", tmp_path / "approved.yaml"
        await export_via_dialog(pilot, exported)
        assert app.last_export.path == exported and read_plan(exported) == app.plan
        unapproved = app.plan
        await export_via_dialog(pilot, approved, approver="Ada Lovelace", key="ctrl+r")
        assert app.plan.approval is not None and app.plan.approval.approved_by == "Ada Lovelace"
        headline = str(app.screen.query_one("#headline", Static).render())
        assert f"✓ approved by Ada Lovelace (sha256 {app.plan.approval.plan_sha256[:12]}…)" in headline
    written = read_plan(approved)
    assert written.approval.approved_by == "Ada Lovelace"
    assert written.approval.plan_sha256 == canonical_sha256(unapproved) == canonical_sha256(written)
    assert written.approval.approved_at.tzinfo is not None
    assert yaml.safe_load(approved.read_text())["approval"]["plan_sha256"] == written.approval.plan_sha256


async def test_bad_input_shows_the_schema_message_beside_the_field_and_keeps_the_last_plan():
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        plan_before, goals_before = app.plan, app.goals
        app.screen.query_one("#field-budget_usd", Input).focus()
        await pilot.press("home", "minus")  # 500k -> -500k
        app.screen.query_one("#field-seq_len", Input).focus()
        await pilot.press("end", "x")  # 4096 -> 4096x
        await pilot.pause(0.2)
        await settle(pilot)
        assert error_text(app, "budget_usd") == "Input should be greater than 0 (got -500000.0)"
        assert error_text(app, "seq_len") == "'4096x' is not a number; use a number such as 4e6, 1.5M, 7B, 2T or $1,000,000"
        assert app.screen.query_one("#label-budget_usd").has_class("-invalid")
        assert app.screen.query_one("#field-budget_usd").has_class("-field-invalid")
        assert "fix the red fields" in str(app.screen.query_one("#summary").render())
        assert app.goals == goals_before and app.plan is plan_before and app.plans_computed == 1
        await pilot.press("backspace")
        app.screen.query_one("#field-budget_usd", Input).focus()
        await pilot.press("home", "delete")
        await pilot.pause(0.2)
        await settle(pilot)
        assert error_text(app, "budget_usd") == error_text(app, "seq_len") == ""
        assert app.goals == goals_before and app.plans_computed == 1
        await type_into(pilot, "seq_len", "2048")
        await wait_for_plans(pilot, 2)
        assert app.plan.goals.seq_len == 2048 and app.plan.model.seq_length == 2048


async def test_goals_the_planner_cannot_meet_show_its_message_instead_of_a_plan():
    app = WizardApp(goals=Goals(objective="fixed-size"))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        assert app.plan is None and "fixed-size needs a size" in app.plan_error
        assert "cannot meet these goals" in str(app.screen.query_one("#summary").render())
        await type_into(pilot, "target_params", "1B")
        await wait_for_plans(pilot, 2)
        assert app.plan_error == "" and app.plan.goals.target_params == 1e9


async def test_typing_is_debounced_into_one_plan_per_pause():
    app = WizardApp(debounce_s=2.0)  # far longer than seven key presses take, even on a busy machine
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await type_into(pilot, "budget_usd", "250000")  # a clear and six keystrokes, then a pause
        assert app.plans_computed == 1 and app.plan_pending
        await wait_for_plans(pilot, 2)
        await pilot.pause(0.2)
        assert app.plans_computed == 2
        assert app.plan.goals.budget_usd == 250_000


async def test_export_writes_json_and_markdown_and_refuses_an_approval_without_a_name(tmp_path):
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        await export_via_dialog(pilot, tmp_path / "p.json", "json")
        assert RunPlan.model_validate(json.loads((tmp_path / "p.json").read_text())) == app.plan
        await export_via_dialog(pilot, tmp_path / "p.md", "markdown")
        report = (tmp_path / "p.md").read_text()
        assert report.startswith("#") and app.plan.name in report and "Assumptions" in report
        await export_via_dialog(pilot, tmp_path / "never.yaml", "yaml", key="ctrl+r")
        assert isinstance(app.screen, ExportScreen)
        assert "approval needs a name" in str(app.screen.query_one("#dialog-status", Static).render())
        await pilot.press("escape")
        assert not isinstance(app.screen, ExportScreen) and app.plan.approval is None
    assert not (tmp_path / "never.yaml").exists()


async def test_help_runs_theme_and_quit_keys_work_from_the_keyboard(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the run monitor lists ./runs: none here
    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        assert app.focused.id == "field-objective"
        await pilot.press("tab")
        assert app.focused.id == "field-budget_usd"
        await pilot.press("f1")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)
        await pilot.press("f6")
        assert isinstance(app.screen, RunsScreen)
        await pilot.press("escape")
        assert isinstance(app.screen, GoalsScreen)
        assert app.theme == "textual-dark"
        await pilot.press("ctrl+t")
        assert app.theme == "textual-light"
        await pilot.press("f3")
        assert app.current_mode == "plan"
        await pilot.press("q")
    assert app.return_code == 0


async def test_wizard_opens_goals_from_a_file(tmp_path):
    goals_file = tmp_path / "goals.yaml"
    goals_file.write_text("name: mine\nobjective: compute-optimal\nbudget_usd: 50000\ngpu: A100-80GB\n")
    app = WizardApp(goals=read_goals(goals_file))
    async with app.run_test(size=(80, 24)) as pilot:
        await wait_for_plans(pilot, 1)
        values = app.screen.values()
        assert values["budget_usd"] == "50k" and values["gpu"] == "A100-SXM4-80GB"
        assert app.plans_computed == 1
        assert app.plan.goals == Goals(name="mine", objective="compute-optimal", budget_usd=50000, gpu="A100-80GB")


async def test_wizard_opens_an_existing_plan_without_recomputing_it_and_approves_it(tmp_path):
    fixture = read_plan(Path(__file__).parent / "fixtures" / "default_plan.yaml")
    app = WizardApp(plan=fixture)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.plan == fixture and app.goals == fixture.goals and app.plans_computed == 0
        await export_via_dialog(pilot, tmp_path / "ok.yaml", approver="Grace", key="enter")
    written = read_plan(tmp_path / "ok.yaml")
    assert written.approval.approved_by == "Grace"
    assert written.approval.plan_sha256 == canonical_sha256(fixture)


def test_wizard_command_refuses_both_goals_and_plan_with_exit_status_2(tmp_path, capsys):
    from tui.cli import main

    assert main(["wizard", "--goals", "g.yaml", "--plan", "p.yaml"]) == 2
    assert "--goals and --plan: give one of them, not both" in capsys.readouterr().err
    assert main(["wizard", "--goals", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_fast_summary_figures_agree_with_the_full_plan():
    goals = load_goals_preset("default")
    quick, full = state.quick_headline(goals), state.plan_headline(state.derive(goals))
    assert quick.num_warnings is None and full.num_warnings is not None
    assert (quick.num_params, quick.binding_constraint, quick.num_gpus, quick.gpu) == (
        full.num_params, full.binding_constraint, full.num_gpus, full.gpu)
    for name in ("num_tokens", "total_cost_usd", "wallclock_days", "gpu_hours", "predicted_loss"):
        assert getattr(quick, name) == pytest.approx(getattr(full, name), rel=1e-3), name


async def test_moving_focus_between_form_fields_keeps_the_footer_keys_instead_of_rebuilding_them():
    from textual.widgets._footer import FooterKey

    from tui.widgets.key_footer import KeyFooter

    app = WizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        footer = app.screen.query_one(KeyFooter)
        keys = list(footer.query(FooterKey))
        assert {"Help", "Goals", "Export"} <= {key.description for key in keys}
        for _ in range(3):
            await pilot.press("tab")
            await pilot.pause()
        await settle(pilot)
        assert app.focused is not None and app.focused.id != "field-objective"
        assert list(footer.query(FooterKey)) == keys  # the same widgets: no rebuild
        editing = app.focused.id.removeprefix("field-")  # its label alone is highlighted
        assert [label.id for label in app.screen.query(".field-label.-focus")] == [f"label-{editing}"]
        await pilot.press("f5")  # a screen with other keys still gets its own footer keys
        await settle(pilot)
        await pilot.press("escape")
        await settle(pilot)
        assert {"Help", "Goals", "Export"} <= {key.description for key in footer.query(FooterKey)}


async def test_the_garbage_collector_paused_by_the_launcher_is_back_on_after_the_first_paint():
    import gc

    gc.disable()  # as `llmplan wizard` does before its imports
    try:
        app = WizardApp(plan=read_plan(Path(__file__).parent / "fixtures" / "default_plan.yaml"))
        async with app.run_test(size=(80, 24)) as pilot:
            await settle(pilot)
            assert gc.isenabled()
    finally:
        gc.unfreeze()
        gc.enable()


async def test_compare_columns_fit_their_widest_cell_as_soon_as_the_rows_are_shown():
    """The table's widths are set with its rows, not on a later idle pass of the DataTable: a
    screenshot (or a user's first frame) taken right after a sweep shows whole names, not "MI3"."""
    from rich.cells import cell_len

    app = WizardApp(plan=read_plan(Path(__file__).parent / "fixtures" / "default_plan.yaml"))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f4")
        await settle(pilot)
        screen = app.screen
        screen.action_sort()  # rebuilds every column and row; no await: no idle pass can run
        table = screen.query_one(DataTable)
        for i, (_, key) in enumerate(COLUMNS):
            column = table.columns[key]
            widest = max(cell_len(str(table.get_row_at(r)[i])) for r in range(table.row_count))
            shown = column.get_render_width(table) - 2 * table.cell_padding
            assert shown >= max(widest, cell_len(str(column.label))), key
        assert cell_len(str(table.get_row_at(0)[0])) > 3  # GPU names are not cut to 3 cells
