"""Numeric flags and goals files read numbers with one parser (planner.units via tui/cli_numbers.py)."""

from __future__ import annotations

import json

import pytest

from tui.cli import main


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("budget", ["1.5M", "$1,000,000", "1e6", "1000k"])
def test_estimate_and_plan_accept_the_forms_the_wizard_accepts(capsys, budget):
    code, out, err = run(capsys, "estimate", "--params", "1.5B", "--tokens", "30B", "--gpu", "H100",
                         "--gpus", "64", "--price", "$2.50", "--json")
    assert code == 0, err
    figures = json.loads(out)
    assert figures["params"] == pytest.approx(1.5e9, rel=0.02) and figures["tokens"] == 30e9
    code, out, err = run(capsys, "plan", "--gpu", "H100", "--params", "1B", "--budget-usd", budget, "--gpus", "8")
    assert code == 0, err
    assert "budget_usd: " in out and ("1500000.0" in out or "1000000.0" in out)


@pytest.mark.parametrize("argv,needle", [
    (["--budget-usd", "1e308"], "--budget-usd: '1e308' is too large; the most allowed is 10T (1e13) (goal budget_usd)"),
    (["--params", "1e308"], "--params: '1e308' is too large"),
    (["--tokens", "1e999"], "--tokens: '1e999' overflows"),
    (["--budget-usd", "inf"], "--budget-usd: 'inf' is not a finite number"),
    (["--deadline-days", "nan"], "--deadline-days: 'nan' is not a finite number"),
    (["--gpus", "8.5"], "--gpus: '8.5' must be a whole number"),
    (["--unique-tokens", "lots"], "--unique-tokens: 'lots' is not a number"),
])
def test_non_finite_overflowing_or_malformed_flags_exit_2_naming_the_flag(capsys, argv, needle):
    code, _, err = run(capsys, "plan", "--gpu", "H100", *argv)
    assert code == 2 and err.startswith("error: ") and needle in err and "Traceback" not in err


def test_a_goals_file_with_7b_and_dollar_figures_plans(capsys, tmp_path):
    goals = tmp_path / "goals.yaml"
    goals.write_text("target_params: 7B\nbudget_usd: '$1,000,000'\ngpu: H100\nnum_gpus: 256\n", encoding="utf-8")
    code, out, err = run(capsys, "plan", "--goals", str(goals))
    assert code == 0, err
    assert "target_params: 7000000000.0" in out


def test_a_goals_file_with_a_non_finite_number_exits_2_naming_the_field(capsys, tmp_path):
    goals = tmp_path / "goals.yaml"
    goals.write_text("budget_usd: 1e308\ntarget_tokens: .nan\n", encoding="utf-8")
    code, _, err = run(capsys, "plan", "--goals", str(goals))
    assert code == 2 and "budget_usd: '1e308' is too large" in err and "target_tokens: nan is not a finite" in err


@pytest.mark.parametrize("value,needle", [("nan", "is not a finite number"), ("-5", "must not be negative")])
def test_wait_seconds_are_finite_and_not_negative(capsys, tmp_path, value, needle):
    code, _, err = run(capsys, "resume", str(tmp_path), "--wait", value)
    assert code == 2 and f"--wait: '{value}' {needle}" in err


def test_choice_flags_offer_exactly_the_values_the_schema_allows():
    from typing import get_args

    from executor.rundir import RunState
    from planner.training.recipe import LR_SCHEDULES
    from planner.schema import Goals, TrainingSpec
    from tui.cli_numbers import literal_values
    from tui.commands.ladder import ladder
    from tui.commands.planning import estimate, plan
    from tui.commands.runs import execute

    def choices(command, name):
        return tuple(next(p for p in command.params if p.name == name).type.choices)

    assert choices(plan, "objective") == get_args(Goals.model_fields["objective"].annotation)
    assert choices(plan, "ownership") == choices(estimate, "ownership") == ("rented", "owned")
    assert choices(plan, "lr_schedule") == LR_SCHEDULES == get_args(TrainingSpec.model_fields["lr_schedule"].annotation)
    assert choices(plan, "confidence") == literal_values(Goals, "confidence") == ("p50", "p80", "p90")
    backends = get_args(RunState.model_fields["backend"].annotation)
    assert choices(execute, "backend") == backends
    ladder_runs = [c for c in ladder.commands.values() if any(p.name == "backend" for p in c.params)]
    assert ladder_runs and all(choices(c, "backend") == backends for c in ladder_runs)
    with pytest.raises(TypeError, match="Goals.name is not a Literal field"):
        literal_values(Goals, "name")
