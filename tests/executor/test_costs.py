"""Cost so far and the re-forecast against the plan (executor/costs.py), against hand-computed values."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from exec_helpers import tiny_plan

from executor.control import initial_state
from executor.costs import cost_report, duration, money, read_metrics
from executor.jobs import compile_job_graph
from executor.rundir import Attempt

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)


def run_with_training(tmp_path, plan, train_minutes: float, steps: int, tokens_per_s: float):
    state = initial_state(plan, compile_job_graph(plan, str(tmp_path)), "local", [])
    state.stages["prepare"].attempts.append(Attempt(started_at=T0, ended_at=T0 + timedelta(minutes=10)))
    state.stages["train"].attempts.append(Attempt(started_at=T0 + timedelta(minutes=10)))
    with open(tmp_path / "metrics.jsonl", "w") as fh:
        for step in range(1, steps + 1):
            fh.write(json.dumps({"step": step, "loss": 5.0, "tokens_per_s": tokens_per_s}) + "\n")
        fh.write('{"step": 99999, "loss"')  # a torn last line is ignored
    return state, T0 + timedelta(minutes=10 + train_minutes)


def test_gpu_hours_dollars_and_energy_so_far_follow_each_attempt_and_the_plans_rates(tmp_path):
    plan = tiny_plan()
    state, now = run_with_training(tmp_path, plan, 30, 50, 2000.0)
    report = cost_report(plan, state, now)
    # prepare: 10 min x 1 process; train: 30 min x 2 processes -> 70 device-minutes
    assert report.gpu_hours_so_far == pytest.approx(70 / 60)
    rate = plan.estimate.cost_usd / plan.estimate.gpu_hours
    assert report.cost_usd_so_far == pytest.approx(70 / 60 * rate)
    assert report.energy_kwh_so_far == pytest.approx(70 / 60 * plan.estimate.energy_kwh / plan.estimate.gpu_hours)
    assert report.tokens_done == 50 * plan.recipe.global_batch_tokens


def test_the_forecast_extrapolates_the_measured_pace_over_the_remaining_tokens(tmp_path):
    plan = tiny_plan()
    state, now = run_with_training(tmp_path, plan, 30, 50, 100.0)
    report = cost_report(plan, state, now)
    remaining_s = (plan.tokens.num_tokens - 50 * plan.recipe.global_batch_tokens) / 100.0
    assert report.measured_tokens_per_s == 100.0
    assert report.forecast_days == pytest.approx((40 * 60 + remaining_s) / 86400)
    assert report.forecast_gpu_hours == pytest.approx(70 / 60 + remaining_s / 3600 * 2)
    assert "at this pace:" in report.summary() and "the plan said" in report.summary()


def test_a_forecast_over_budget_and_deadline_warns(tmp_path):
    base = tiny_plan()
    goals = base.goals.model_copy(update={"budget_usd": 1e-6, "budget_gpu_hours": 0.5, "deadline_days": 0.01})
    plan = base.model_copy(update={"goals": goals})
    state, now = run_with_training(tmp_path, plan, 30, 50, 10.0)
    warnings = cost_report(plan, state, now).warnings
    assert any("passes goals.budget_usd" in w for w in warnings)
    assert any("passes goals.budget_gpu_hours" in w for w in warnings)
    assert any("passes goals.deadline_days" in w for w in warnings)
    assert cost_report(tiny_plan(), state, now).warnings == []  # no budget set: no warning


def test_without_metrics_there_is_no_forecast_yet(tmp_path):
    plan = tiny_plan()
    state = initial_state(plan, compile_job_graph(plan, str(tmp_path)), "local", [])
    report = cost_report(plan, state, T0)
    assert report.forecast_days is None and "no training throughput measured yet" in report.summary()
    assert read_metrics(tmp_path / "missing.jsonl") == []


def test_money_and_durations_read_like_the_plan():
    assert money(1.9e6) == "$1.9M" and money(12_300) == "$12.3k" and money(0.011) == "$0.01"
    assert duration(41.2) == "41 days" and duration(0.5) == "12.0 hours" and duration(0.002) == "2.9 minutes"
