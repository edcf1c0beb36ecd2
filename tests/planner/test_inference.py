"""Serving cost and total cost of ownership (planner.cost.inference, issue 13)."""

from __future__ import annotations

import pytest

from planner.model.architecture import make_shape
from planner.derive import derive_plan
from planner.cost.inference import serving_flops_per_token
from planner.resolve import resolve
from planner.schema import Goals
from presets import load_catalog

LLAMA2_7B = make_shape(num_layers=32, hidden_size=4096, num_attention_heads=32, num_query_groups=32,
                       ffn_hidden_size=11008, vocab_size=32000, seq_length=4096)
SCENARIO = dict(gpu="H100", num_gpus=256, budget_usd=1e6, deadline_days=30, target_params=7e9,
                inference_tokens=2e12)


def test_a_served_token_costs_two_flops_per_weight_plus_attention():
    # Kaplan et al. 2020 Table 1: 2N (without the input embedding) + 2 n_layer n_ctx d_attn
    n = LLAMA2_7B.num_params - 32000 * 4096
    assert serving_flops_per_token(LLAMA2_7B, 2048) == 2 * n + 2 * 32 * 2048 * 4096
    assert serving_flops_per_token(LLAMA2_7B, 0) == pytest.approx(2 * 6.6e9, rel=0.01)


@pytest.mark.parametrize("objective", ["inference-optimal", "fixed-size"])
def test_the_user_scenario_shows_serving_and_total_cost(objective):
    plan = derive_plan(resolve(Goals(objective=objective, **SCENARIO), load_catalog()))
    s = plan.serving
    assert s is not None and s.inference_tokens == 2e12
    assert s.serving_flops == pytest.approx(s.flops_per_token * 2e12)
    hours = s.serving_flops / (989e12 * 0.3) / 3600  # H100 dense bf16 at the default 30% utilisation
    assert s.gpu_hours == pytest.approx(hours, rel=0.01)
    assert s.cost_usd == pytest.approx(s.gpu_hours * s.price_per_gpu_hour_usd)
    assert s.total_cost_of_ownership_usd == pytest.approx(plan.estimate.total_cost_usd + s.cost_usd)
    names = {a.name for a in plan.assumptions}
    assert {"serving_gpu", "serving_utilisation", "serving_context_tokens", "serving_flops_rule"} <= names


def test_inference_optimal_uses_little_of_the_budget_and_says_what_would_use_it():
    plan = derive_plan(resolve(Goals(objective="inference-optimal", **SCENARIO), load_catalog()))
    assert plan.budget_use.cost_usd_at_confidence < 0.5e6
    assert any("of budget_usd" in h and "compute-optimal" in h for h in plan.hints)
    assert any("deadline_days" in h for h in plan.hints)


def test_fixed_size_at_p80_holds_the_deadline_and_at_p50_warns_that_p80_misses_it():
    held = derive_plan(resolve(Goals(objective="fixed-size", **SCENARIO), load_catalog()))
    assert held.budget_use.days_at_confidence == pytest.approx(30, rel=0.01)
    assert not any(w.startswith("p80 of wallclock_days") for w in held.warnings)
    risky = derive_plan(resolve(Goals(objective="fixed-size", confidence="p50", **SCENARIO), load_catalog()))
    assert risky.estimate.wallclock_days > held.estimate.wallclock_days
    assert any(w.startswith("p80 of wallclock_days") and "deadline_days (30)" in w for w in risky.warnings)


def test_a_different_serving_gpu_and_utilisation_change_the_serving_cost():
    base = derive_plan(resolve(Goals(objective="inference-optimal", **SCENARIO), load_catalog())).serving
    other = derive_plan(resolve(Goals(objective="inference-optimal", serving={"gpu": "A100", "utilisation": 0.6},
                              **SCENARIO), load_catalog())).serving
    assert other.gpu.startswith("A100") and other.utilisation == 0.6
    assert other.gpu_hours != pytest.approx(base.gpu_hours)


def test_no_inference_tokens_means_no_serving_section():
    assert derive_plan(resolve(Goals(gpu="H100", target_params=1e9, num_gpus=8), load_catalog())).serving is None


def test_the_sweep_front_uses_the_total_cost_of_ownership():
    from planner.reports.sweep import PARETO_OBJECTIVES, evaluate_estimate

    row = evaluate_estimate(Goals(objective="inference-optimal", **SCENARIO), load_catalog())
    assert PARETO_OBJECTIVES[0] == "total_cost_of_ownership_usd"
    assert row["total_cost_of_ownership_usd"] == pytest.approx(row["total_cost_usd"] + row["serving_cost_usd"])
    assert row["serving_cost_usd"] > 0


def test_show_and_the_report_carry_serving_total_cost_and_hints():
    from planner.reports.report import markdown_text
    from planner.reports.report_basic import render_text

    plan = derive_plan(resolve(Goals(objective="inference-optimal", **SCENARIO), load_catalog()))
    text = render_text(plan)
    assert "total cost of ownership" in text and "serving" in text and "hint: the plan uses" in text
    report = markdown_text(plan, plan.ranges, catalog=load_catalog())
    assert "## Serving and total cost of ownership" in report and "Sardana & Frankle 2024" in report
    assert "## Budget and deadline use" in report and "| Unspent | $9" in report  # ~$930k of $1M


def test_an_infeasible_plan_says_so_in_show_and_the_report():
    from planner.reports.report import markdown_text
    from planner.reports.report_basic import render_text

    plan = derive_plan(resolve(Goals(gpu="H100", target_params=1e12, num_gpus=8, objective="fixed-size", allow_infeasible=True), load_catalog()))
    assert render_text(plan).startswith("plan llm (INFEASIBLE)")
    assert "**INFEASIBLE" in markdown_text(plan, plan.ranges, catalog=load_catalog())
