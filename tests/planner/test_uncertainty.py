"""p10-p90 ranges (planner/cost/uncertainty.py).

Method: lognormal errors whose spread is the sample standard deviation of ln(reported / predicted)
GPU-hours over the kind=run rows of published_runs.csv (LLaMA: Touvron et al. 2023 Table 15;
Llama 2: Touvron et al. 2023 Table 2; BLOOM; Pythia), combined in quadrature with the failure
model's rate uncertainty (x0.5..x2 around the Llama 3 rate, Llama Team 2024 Sec 3.3.4); p10/p90 are
exp(mu -/+ 1.2816 sigma) (1.2816 = the standard normal 90% quantile), with sigma widened to a prediction
interval for a new run (Student t with n-1 degrees of freedom, Abramowitz & Stegun 26.7.5).
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from planner.calibration.calibrate import computed_residuals, published_run_predictions, residuals_yaml
import presets
from planner.cost.uncertainty import (
    TIME_FIELDS,
    Residuals,
    lognormal_range,
    plan_ranges,
    relative_half_width,
    residuals_of,
    summarise,
    t_quantile_90,
)
from presets import load_catalog


def calibration_residuals() -> tuple[Residuals, Residuals]:
    """The committed residuals every plan's ranges use (presets/calibration_residuals.yaml)."""
    return residuals_of(load_catalog())


def ranges_of(plan):
    catalog = load_catalog()
    return plan_ranges(plan, residuals_of(catalog), catalog.reliability)

LLAMA_ROWS = ("LLaMA-7B", "LLaMA-13B", "LLaMA-33B", "LLaMA-65B",
              "Llama-2-7B", "Llama-2-13B", "Llama-2-34B", "Llama-2-70B")


def test_lognormal_range_uses_the_90_percent_normal_quantile():
    r = lognormal_range(100.0, 0.0, 0.1, "m")
    assert r.p50 == 100.0
    assert r.p10 == pytest.approx(100 * math.exp(-0.128155), rel=1e-5)
    assert r.p90 == pytest.approx(100 * math.exp(0.128155), rel=1e-5)


def test_summarise_takes_mean_and_sample_standard_deviation():
    s = summarise([0.1, -0.1, 0.3], "src", 0.5)
    # mean 0.3 / 3 = 0.1; sample sd sqrt((0 + 0.04 + 0.04) / 2) = 0.2
    assert s.mu == pytest.approx(0.1)
    assert s.sigma == pytest.approx(0.2)
    assert summarise([0.2], "src", 0.5) == Residuals(0.0, 0.5, 1, "interim constant sigma=0.5 (1 residuals available)")


def test_student_t_quantile_matches_tables():
    # Student t 90% quantiles (any statistics table): df 5 -> 1.476, 13 -> 1.350, 30 -> 1.310.
    assert t_quantile_90(5) == pytest.approx(1.476, abs=2e-3)
    assert t_quantile_90(13) == pytest.approx(1.350, abs=1e-3)
    assert t_quantile_90(30) == pytest.approx(1.310, abs=1e-3)


def test_a_new_run_gets_the_wider_prediction_interval():
    # n = 14: t_13 * sqrt(1 + 1/14) / 1.2816 = 1.3502 * 1.0351 / 1.2816 = 1.0905
    assert Residuals(0.0, 0.1, 14, "").prediction_factor == pytest.approx(1.0905, abs=1e-3)
    assert Residuals(0.0, 0.1, 0, "").prediction_factor == 1.0


def test_the_committed_residuals_equal_the_ones_computed_from_the_published_runs_now():
    """presets/calibration_residuals.yaml spares every plan and `llmplan estimate` the calibration run;
    it must be what the estimator gives today (refresh: `llmplan calibrate --residuals FILE`)."""
    assert calibration_residuals() == computed_residuals(load_catalog()), (
        "presets/calibration_residuals.yaml is stale: run "
        "`llmplan calibrate --residuals presets/calibration_residuals.yaml` and commit it")
    committed = (Path(presets.__file__).parent / "calibration_residuals.yaml").read_text(encoding="utf-8")
    assert committed == residuals_yaml(load_catalog())


def test_calibration_residuals_are_the_out_of_sample_residuals_of_the_published_runs():
    """Issue 12: ranges from leave-one-family-out residuals (planner.calibration.crossval), never in-sample."""
    tp, energy = calibration_residuals()
    assert tp.n >= 12 and "leave-one-family-out" in tp.source
    assert 0.03 < tp.sigma < 0.40
    assert energy.n >= 3


OUT_OF_SAMPLE_HALF_WIDTH = 0.60
"""p90 sits at point x exp(mu + 1.2816 sigma t-factor): with the chain's out-of-sample sigma of about
0.30 (`llmplan calibrate --cv`) that is about +52%. The ranges are as wide as that error, no wider;
issue 5's +-40% bound held only for in-sample residuals."""


def test_llama_and_llama2_gpu_hours_fall_inside_p10_p90_for_at_least_7_of_8():
    tp, _ = calibration_residuals()
    inside, widths = 0, []
    rows = published_run_predictions(load_catalog(), LLAMA_ROWS)
    assert sorted(p["name"] for p in rows) == sorted(LLAMA_ROWS)
    for p in rows:
        r = lognormal_range(p["predicted_gpu_hours"], tp.mu, tp.sigma * tp.prediction_factor, "")
        inside += r.p10 <= p["reported_gpu_hours"] <= r.p90
        widths.append(relative_half_width(r, p["predicted_gpu_hours"]))
    assert inside >= 7
    assert max(widths) <= OUT_OF_SAMPLE_HALF_WIDTH


def test_plan_ranges_cover_every_headline_figure_and_bracket_the_point(tiny_plan_path):
    from planner.io import read_plan

    plan = read_plan(tiny_plan_path)
    ranges = ranges_of(plan)
    assert set(ranges) == {"gpu_hours", "wallclock_days", "cost_usd", "total_cost_usd", "energy_kwh",
                           "energy_cost_usd", "co2_kg"}
    for name, r in ranges.items():
        point = getattr(plan.estimate, name)
        assert r.p10 < point < r.p90, name
        # energy and CO2 add the energy model's own spread in quadrature
        assert relative_half_width(r, point) <= (OUT_OF_SAMPLE_HALF_WIDTH if name in TIME_FIELDS else 0.8), name
        assert "lognormal" in r.method
    # energy and CO2 carry the energy model's spread on top of the throughput spread
    assert ranges["energy_kwh"].p90 / ranges["energy_kwh"].p10 > ranges["gpu_hours"].p90 / ranges["gpu_hours"].p10


def test_failure_variance_widens_the_ranges_of_a_failure_prone_run(tiny_plan_path):
    from planner.io import read_plan

    plan = read_plan(tiny_plan_path)
    calm = ranges_of(plan)["wallclock_days"]
    plan.reliability.goodput = 0.5  # half the wall-clock lost to failures
    stormy = ranges_of(plan)["wallclock_days"]
    assert stormy.p90 / stormy.p10 > calm.p90 / calm.p10


@pytest.mark.slow
def test_derived_plans_for_the_llama_runs_carry_ranges_that_hold_7_of_8_reported_gpu_hours():
    """End to end: derive_plan on each run's goals (model size, tokens, sequence, A100-80GB, GPUs where
    the paper gives them) puts p10-p90 ranges in the plan; the reported GPU-hours fall inside for 7 of 8."""
    from planner.derive import derive_plan
    from planner.resolve import resolve
    from presets import load_catalog

    inside = 0
    for p in published_run_predictions(load_catalog(), LLAMA_ROWS):
        plan = derive_plan(resolve(p["goals"], load_catalog()))
        r = plan.ranges["gpu_hours"]
        inside += r.p10 <= p["reported_gpu_hours"] <= r.p90
        assert relative_half_width(r, plan.estimate.gpu_hours) <= OUT_OF_SAMPLE_HALF_WIDTH
        assert set(plan.ranges) >= {"gpu_hours", "wallclock_days", "cost_usd", "energy_kwh", "co2_kg"}
    assert inside >= 7
