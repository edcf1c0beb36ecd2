"""Scenario sweeps (planner/reports/sweep.py and `llmplan sweep`).

The Pareto front follows the usual definition (a point is on it when no other point is at least as
good on every objective and strictly better on one; e.g. Deb 2001, Multi-Objective Optimization
using Evolutionary Algorithms, Def. 2.5); the planner is planner.derive / planner.estimate.
"""

from __future__ import annotations

import math

import pytest

from planner.errors import PlanInputError
from planner.schema import Goals
from planner.reports.sweep import pareto_front, parse_vary, scenario_goals, scenarios
from presets import load_catalog


def test_list_values_keep_their_types():
    assert parse_vary("gpu=A100-80GB,H100-SXM") == ("gpu", ["A100-80GB", "H100-SXM"])
    assert parse_vary("target_params=1e9,7e9") == ("target_params", [1e9, 7e9])
    assert parse_vary("objective=compute-optimal") == ("objective", ["compute-optimal"])


def test_geometric_range_doubles_up_to_the_stop():
    assert parse_vary("num_gpus=64:512:x2") == ("num_gpus", [64, 128, 256, 512])
    assert parse_vary("num_gpus=64:500:x2") == ("num_gpus", [64, 128, 256])


def test_arithmetic_range_has_no_float_drift():
    assert parse_vary("pue=1.1:1.5:+0.1") == ("pue", [1.1, 1.2, 1.3, 1.4, 1.5])
    assert parse_vary("seq_len=1024:4096:1024") == ("seq_len", [1024, 2048, 3072, 4096])


def test_nested_fields_use_dots_and_never_change_the_base_goals():
    base = Goals()
    field, values = parse_vary("data.tokenizer.vocab_size=32000,50000")
    goals = scenario_goals(base, {field: values[1], "num_gpus": 64})
    assert goals.data.tokenizer.vocab_size == 50000 and goals.num_gpus == 64
    assert base.data.tokenizer.vocab_size == 32000 and base.num_gpus is None


def test_a_scenario_value_out_of_range_is_a_validation_error_naming_the_field():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="pue"):
        scenario_goals(Goals(), {"pue": 0.5})


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("flops=1,2", "unknown goals field 'flops'"),
        ("num_gpus", "expected FIELD=VALUES"),
        ("num_gpus=8:4", "needs finite START <= STOP"),
        ("num_gpus=8:64:x1", "factor > 1"),
        ("num_gpus=a:b", "must be numbers"),
    ],
)
def test_bad_vary_specs_name_the_problem(spec, message):
    with pytest.raises(PlanInputError, match=message):
        parse_vary(spec)


def test_scenarios_are_the_cartesian_product():
    grid = scenarios([("gpu", ["A", "B"]), ("num_gpus", [8, 16, 32])])
    assert len(grid) == 6
    assert grid[0] == {"gpu": "A", "num_gpus": 8} and grid[-1] == {"gpu": "B", "num_gpus": 32}


def test_a_field_varied_twice_is_rejected():
    with pytest.raises(PlanInputError, match="varied twice"):
        scenarios([("gpu", ["A"]), ("gpu", ["B"])])


def test_pareto_front_keeps_only_non_dominated_rows():
    rows = [
        [1.0, 2.0, 3.0],   # on the front
        [2.0, 2.0, 3.0],   # dominated by row 0
        [0.5, 5.0, 5.0],   # on the front (cheapest)
        [1.0, 2.0, 3.0],   # equal to row 0: neither dominates the other
        [math.nan, 0.0, 0.0],  # infeasible: never on the front
        [3.0, 1.0, 9.0],   # on the front (fastest)
    ]
    assert pareto_front(rows) == [True, False, True, True, False, True]
    assert pareto_front([]) == []


# --- end to end through the real planner (planner sizing and estimate) -------------------------

pd = pytest.importorskip("pandas")


def sweep_frame(*specs: str):
    from planner.reports.sweep import parse_varies, run_sweep

    return run_sweep(Goals(), parse_varies(specs), load_catalog())


def test_sweep_returns_one_row_per_scenario_with_the_headline_figures():
    frame = sweep_frame("gpu=A100-80GB,H100-SXM", "target_params=1e9,7e9", "num_gpus=64:512:x2")
    assert isinstance(frame, pd.DataFrame) and len(frame) == 16
    assert frame["error"].isna().all()
    assert set(frame["vary.gpu"]) == {"A100-80GB", "H100-SXM"}
    assert sorted(set(frame["vary.num_gpus"])) == [64, 128, 256, 512]
    # rule-of-thumb-20x: about 20 tokens per parameter for every scenario
    assert ((frame["num_tokens"] / frame["num_params"]).round() == 20).all()
    # More GPUs finish sooner on the same GPU type and size.
    h100_7b = frame[(frame["vary.gpu"] == "H100-SXM") & (frame["target_params"] == 7e9)]
    assert h100_7b["wallclock_days"].is_monotonic_decreasing


def test_every_scenario_carries_p10_p90_of_gpu_hours_days_and_cost():
    frame = sweep_frame("gpu=A100-80GB,H100-SXM", "target_params=1e9,7e9")
    for name in ("gpu_hours", "wallclock_days", "total_cost_usd"):
        assert (frame[f"{name}_p10"] < frame[name]).all() and (frame[name] < frame[f"{name}_p90"]).all()
        assert (frame[f"{name}_p90"] <= 1.6 * frame[name]).all()  # the out-of-sample spread: +52% at p90


def test_sweep_marks_exactly_the_rows_no_other_row_dominates():
    frame = sweep_frame("gpu=A100-80GB,H100-SXM,H200", "target_params=1e9,3e9,7e9", "num_gpus=8,64")
    objs = frame[["total_cost_usd", "wallclock_days", "predicted_loss"]].to_numpy()
    for i, row in enumerate(objs):
        dominated = any((other <= row).all() and (other < row).any() for other in objs)
        assert frame["pareto"][i] == (not dominated)
    assert 0 < frame["pareto"].sum() < len(frame)


def test_an_infeasible_scenario_keeps_its_row_with_the_error():
    frame = sweep_frame("gpu=H100-SXM,NoSuchGPU", "target_params=1e9")
    bad = frame[frame["vary.gpu"] == "NoSuchGPU"].iloc[0]
    assert "unknown GPU 'NoSuchGPU'" in bad["error"] and not bad["pareto"]
    assert frame[frame["vary.gpu"] == "H100-SXM"]["error"].isna().all()


def test_sweep_command_prints_the_table_and_writes_csv_and_parquet(tmp_path, capsys):
    from tui.cli import main

    csv_path = tmp_path / "s.csv"
    assert main(["sweep", "--vary", "gpu=A100-80GB,H100-SXM", "--vary", "target_params=1e9,7e9",
                 "-o", str(csv_path)]) == 0
    out = capsys.readouterr().out
    assert "4 scenarios" in out and "on the Pareto front" in out and "H100-SXM" in out
    assert len(pd.read_csv(csv_path)) == 4
    pq = tmp_path / "s.parquet"
    pytest.importorskip("pyarrow")
    # 64-256 GPUs: on 8 or 16 the default $500k run takes past a year, an error row (planner.cost.risk, issue 13)
    assert main(["sweep", "--vary", "num_gpus=64:256:x2", "--preset", "default", "-o", str(pq)]) == 0
    assert sorted(pd.read_parquet(pq)["vary.num_gpus"]) == [64, 128, 256]


def test_full_sweep_derives_whole_plans_with_failures_and_ranges(capsys):
    from planner.reports.sweep import evaluate_plan, parse_varies, run_sweep
    from tui.cli import main

    frame = run_sweep(Goals(), parse_varies(["target_params=1e8,3e8"]), load_catalog(), evaluate_plan)
    assert frame["error"].isna().all()
    # one chain (planner.chain): the headline days already include the failure plan's losses
    assert ((frame["days_with_failures"] - frame["wallclock_days"]).abs() <= 1e-6 * frame["wallclock_days"]).all()
    assert (frame["gpu_hours_p10"] < frame["gpu_hours"]).all()
    assert main(["sweep", "--full", "--vary", "target_params=1e8"]) == 0
    out = capsys.readouterr().out
    assert "1 scenarios, 1 on the Pareto front" in out and "days_with_failures" in out.splitlines()[0]
    assert main(["sweep", "--vary", "target_params=1e8"]) == 0  # the fast path has no failure plan
    assert "days_with_failures" not in capsys.readouterr().out


def test_sweep_command_rejects_bad_input_with_status_2(capsys):
    from tui.cli import main

    assert main(["sweep", "--vary", "gpux=1"]) == 2
    assert "unknown goals field 'gpux'" in capsys.readouterr().err
    assert main(["sweep", "--vary", "num_gpus=8", "-o", "out.txt"]) == 2
    assert "must end in .csv or .parquet" in capsys.readouterr().err


def test_the_fast_path_refuses_a_run_past_a_year_as_derive_plan_does():
    from planner.reports.sweep import evaluate_estimate

    with pytest.raises(PlanInputError, match="past 365"):
        evaluate_estimate(Goals(gpu="H100", num_gpus=8, budget_usd=5e5, objective="compute-optimal"), load_catalog())
    row = evaluate_estimate(Goals(gpu="H100", num_gpus=8, budget_usd=5e5, objective="compute-optimal",
                                  allow_infeasible=True), load_catalog())
    assert "past 365" in row["infeasible"]
