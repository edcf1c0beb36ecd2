"""One export registry (tui.exporters) behind the wizard's Export dialog and `llmplan export`.

The wizard exports its plan through its own dialog (F5); `llmplan export` then exports the YAML the
wizard wrote; the two files of each format must be the same bytes, and the Markdown report must
have both charts beside it in each place.
"""

from __future__ import annotations

from pathlib import Path
from typing import get_args

import pytest
from tui_pilot_helpers import export_via_dialog, wait_for_plans

from planner.errors import PlanInputError
from planner.io import read_plan
from planner.schema import Objective
from planner.schema.goals import Goals
from tui import state
from tui.app import WizardApp
from tui.cli import main
from tui.commands.planning import export as export_command
from tui.commands.planning import plan as plan_command
from tui.exporters import EXPORTERS, WIZARD_FORMATS, ExportFormat
from tui.screens.export import FORMATS

pytestmark = pytest.mark.anyio

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


async def test_the_wizards_exports_equal_llmplan_export_byte_for_byte(tmp_path):
    pytest.importorskip("matplotlib", reason="the Markdown report needs the `report` extra (matplotlib)")
    wizard, cli = tmp_path / "wizard", tmp_path / "cli"
    app = WizardApp()
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for_plans(pilot, 1)
        for fmt in WIZARD_FORMATS:
            await export_via_dialog(pilot, wizard / f"plan{EXPORTERS[fmt].suffix}", fmt=fmt)
    source = wizard / "plan.yaml"
    for fmt in WIZARD_FORMATS:
        name = f"plan{EXPORTERS[fmt].suffix}"
        assert main(["export", str(source), "--format", fmt, "-o", str(cli / name)]) == 0
        written = (wizard / name).read_bytes()
        assert written and written == (cli / name).read_bytes(), f"{fmt}: the wizard and the CLI differ"
    report = (wizard / "plan.md").read_text(encoding="utf-8")
    assert report.startswith("# Training plan: ") and "## Assumptions" in report
    from planner.reports.report import COST_CHART, LOSS_CHART

    for chart in (COST_CHART, LOSS_CHART):
        assert f"]({chart})" in report
        for folder in (wizard, cli):
            assert (folder / chart).read_bytes()[:8] == PNG_MAGIC, f"{folder.name}/{chart}"


def test_the_registry_lists_exactly_the_export_formats_of_its_literal():
    assert tuple(EXPORTERS) == get_args(ExportFormat)
    assert all(name == e.name for name, e in EXPORTERS.items())
    assert len({e.suffix for e in EXPORTERS.values() if e.in_wizard}) == len(WIZARD_FORMATS)


def test_the_cli_and_the_wizard_offer_the_registrys_formats():
    format_option = next(p for p in export_command.params if p.name == "fmt")
    assert sorted(format_option.type.choices) == sorted(EXPORTERS)
    assert FORMATS == WIZARD_FORMATS == ("yaml", "json", "markdown")


def test_objective_choices_come_from_the_schemas_literal():
    objectives = get_args(Objective)
    assert get_args(Goals.model_fields["objective"].annotation) == objectives
    assert state.OBJECTIVES == objectives
    option = next(p for p in plan_command.params if p.name == "objective")
    assert tuple(option.type.choices) == objectives
    assert [values for name, values in state.compare_varies(state.default_goals()) if name == "objective"] \
        == [list(objectives)]


def test_an_export_format_that_needs_a_runnable_plan_refuses_an_infeasible_one():
    tiny = read_plan(Path(__file__).resolve().parent.parent / "fixtures" / "tiny_plan.yaml")
    broken = tiny.model_copy(update={"infeasible": ["memory: does not fit"]})
    with pytest.raises(PlanInputError, match="the plan cannot run as planned"):
        EXPORTERS["megatron-args"].check(broken, "plan.yaml")
    EXPORTERS["yaml"].check(broken, "plan.yaml")  # a plan file can always be written
    assert EXPORTERS["megatron-args"].render(tiny).startswith("# Megatron-LM pretrain_gpt.py arguments")
