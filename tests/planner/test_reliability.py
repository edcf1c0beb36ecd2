"""Failure and checkpoint planning (planner/cost/reliability.py).

Sources: Young 1974, CACM 17(9) (tau = sqrt(2 delta M)); Daly 2006, FGCS 22(3), Eq. 37 (higher-order
optimum) and its Figs. 3-5 (published optima); Llama Team 2024, The Llama 3 Herd of Models, Sec 3.3.4
and Table 5 (419 unexpected interruptions in 54 days on ~16,384 H100s).
"""

from __future__ import annotations

import math

import pytest

from planner.cost.reliability import (
    checkpoint_bytes,
    daly_interval,
    expected_wall_time,
    interruption_range,
    job_mtti_hours,
    plan_reliability,
    resolve_inputs,
    young_interval,
)
from tests.planner.hardware_fixtures import LLAMA2_7B as SEVEN_B
from planner.schema import ModelShape
import presets

H100 = presets.find_gpu("H100")
PRESETS = presets.load_catalog().reliability
LLAMA3_405B = ModelShape(
    num_layers=126, hidden_size=16384, num_attention_heads=128, num_query_groups=8,
    ffn_hidden_size=53248, vocab_size=128256, seq_length=8192, num_params=405_000_000_000,
)


def test_young_interval_matches_the_hand_computed_value():
    # delta = 5 min, M = 24 h = 1440 min: sqrt(2 * 5 * 1440) = sqrt(14400) = 120 min exactly.
    assert young_interval(5.0, 1440.0) == pytest.approx(120.0, rel=1e-12)
    # delta = 30 s, M = 3 h = 10800 s: sqrt(648000) = 804.98 s.
    assert young_interval(30.0, 10800.0) == pytest.approx(804.984, rel=1e-5)


@pytest.mark.parametrize(
    ("mtti_min", "hand_min", "published_min"),
    [
        # Hand: 120 * (1 + sqrt(5/2880)/3 + (5/2880)/9) - 5 = 116.69
        (1440.0, 116.69, 117.0),   # Daly 2006 Fig. 3: M = 24 h, delta = 5 min -> 117 min
        # Hand: 60 * (1 + sqrt(5/720)/3 + (5/720)/9) - 5 = 56.71
        (360.0, 56.71, 57.0),      # Daly 2006 Fig. 4: M = 6 h -> 57 min
        # Hand: sqrt(150) * (1 + sqrt(1/6)/3 + (1/6)/9) - 5 = 9.14
        (15.0, 9.14, 9.1),         # Daly 2006 Fig. 5: M = 15 min -> 9.1 min
    ],
)
def test_daly_interval_matches_hand_computed_and_published_optima(mtti_min, hand_min, published_min):
    tau = daly_interval(5.0, mtti_min)
    assert tau == pytest.approx(hand_min, abs=0.01)
    assert tau == pytest.approx(published_min, abs=0.55)


def test_daly_interval_is_the_mtti_when_the_checkpoint_takes_longer_than_two_mttis():
    assert daly_interval(delta=50.0, mtti=20.0) == 20.0


def test_wall_time_without_failures_only_adds_checkpoint_writes():
    # M -> infinity: T_w = T_s * (tau + delta) / tau.
    assert expected_wall_time(100.0, 1.0, 0.01, 0.5, math.inf) == pytest.approx(101.0)


def test_wall_time_overhead_agrees_with_the_first_order_waste_for_rare_failures():
    # Daly/Young first-order waste: delta/tau + (tau/2 + R)/M, for tau, delta, R << M.
    solve, tau, delta, restart, mtti = 1000.0, 0.1, 0.001, 0.01, 100.0
    overhead = expected_wall_time(solve, tau, delta, restart, mtti) / solve - 1
    first_order = delta / tau + (tau / 2 + restart) / mtti
    assert overhead == pytest.approx(first_order, rel=0.02)


def test_job_mtti_falls_as_one_over_the_number_of_gpus():
    assert job_mtti_hours(1e-5, 1000) == pytest.approx(100.0)
    assert job_mtti_hours(1e-5, 2000) == pytest.approx(50.0)
    assert job_mtti_hours(0.0, 10) == math.inf


def test_checkpoint_holds_bf16_weights_fp32_master_and_adam_moments():
    # 2 + 4 + 4 + 4 = 14 bytes per parameter (fp32 gradients are not saved).
    assert checkpoint_bytes(1_000_000, resolve_inputs(PRESETS, 8).bytes_per_param) == 14_000_000


def test_405b_on_16384_h100_for_54_days_expects_about_the_interruptions_llama3_saw():
    # Llama 3 405B: 16,384 H100s, Tectonic storage (2 TB/s sustained), a 54-day snapshot.
    plan = plan_reliability(PRESETS, 16_384, H100, LLAMA3_405B, train_hours=54 * 24, step_time_s=15.0,
                            num_params=LLAMA3_405B.num_params, storage="llama3-tectonic")
    # Llama 3 paper, Sec 3.3.4 / Table 5: 419 unexpected interruptions in the 54-day snapshot.
    assert 210 <= plan.expected_interruptions <= 840
    assert plan.interruptions_p10 < 419 < plan.interruptions_p90
    # One interruption every ~3 h for the whole job, as the paper reports.
    assert plan.job_mtti_hours == pytest.approx(3.09, abs=0.02)
    # Llama 3 reports > 90% effective training time.
    assert plan.goodput > 0.9
    assert plan.checkpoint_interval_steps == round(plan.daly_interval_s / 15.0)


def test_slower_storage_means_longer_intervals_and_lower_goodput():
    fast = plan_reliability(PRESETS, 16_384, H100, LLAMA3_405B, 1000.0, 15.0, LLAMA3_405B.num_params,
                            storage="llama3-tectonic")
    slow = plan_reliability(PRESETS, 16_384, H100, LLAMA3_405B, 1000.0, 15.0, LLAMA3_405B.num_params,
                            storage="parallel-fs")
    assert slow.checkpoint_write_s == pytest.approx(fast.checkpoint_write_s * 20)
    assert slow.checkpoint_interval_s > fast.checkpoint_interval_s
    assert slow.goodput < fast.goodput


def test_adjusted_days_and_dollars_add_the_lost_time_to_the_failure_free_run():
    plan = plan_reliability(PRESETS, 1024, H100, SEVEN_B, train_hours=240.0, step_time_s=2.0,
                            num_params=SEVEN_B.num_params, price_per_gpu_hour_usd=2.0)
    assert plan.adjusted_wallclock_days * 24 == pytest.approx(240.0 + plan.lost_hours)
    assert plan.adjusted_cost_usd == pytest.approx(plan.adjusted_gpu_hours * 2.0)
    assert plan.extra_cost_usd == pytest.approx(plan.lost_hours * 1024 * 2.0)
    assert plan.goodput == pytest.approx(240.0 / (240.0 + plan.lost_hours))
    assert plan.expected_interruptions == pytest.approx(
        plan.adjusted_wallclock_days * 24 / plan.job_mtti_hours)


def test_a_short_small_run_checkpoints_at_most_once_per_run():
    plan = plan_reliability(PRESETS, 8, H100, SEVEN_B, train_hours=2.0, step_time_s=1.0, num_params=SEVEN_B.num_params)
    assert plan.checkpoint_interval_steps == 7200
    assert plan.expected_interruptions < 0.01


def test_interruption_range_widens_with_rate_uncertainty():
    lo, hi = interruption_range(400.0, 0.5, 2.0)
    assert lo == pytest.approx(400 / 2, rel=0.02) and hi == pytest.approx(400 * 2, rel=0.02)
    assert interruption_range(0.0, 0.5, 2.0) == (0.0, 0.0)


def test_interruption_range_of_a_rare_failure_run_is_exact_poisson_quantiles():
    # Almost no failures expected: P(N = 0) > 0.9, so p10 = p90 = 0 (not an absurd lognormal tail).
    assert interruption_range(4e-6, 0.5, 2.0) == (0.0, 0.0)
    # Without rate uncertainty (factors 1, 1) the quantiles of Poisson(2): P(N<=0) = 0.135 >= 0.1,
    # P(N<=3) = 0.857 < 0.9 <= P(N<=4) = 0.947.
    assert interruption_range(2.0, 1.0, 1.0) == (0.0, 4.0)
    # The Poisson-lognormal mixture is wider than the plain Poisson.
    assert interruption_range(2.0, 0.5, 2.0)[1] > 4.0


def test_unknown_storage_preset_is_rejected_with_the_choices():
    with pytest.raises(ValueError, match=r"storage 'tape' is not a preset; choose one of .*parallel-fs"):
        plan_reliability(PRESETS, 8, H100, SEVEN_B, 10.0, 1.0, SEVEN_B.num_params, storage="tape")


def test_non_positive_run_length_is_rejected():
    with pytest.raises(ValueError, match="train_hours must be a positive finite number, got 0"):
        plan_reliability(PRESETS, 8, H100, SEVEN_B, 0.0, 1.0, SEVEN_B.num_params)


def test_a_job_that_fails_faster_than_it_checkpoints_is_refused_with_the_numbers():
    from planner.errors import PlanInputError

    with pytest.raises(PlanInputError, match=r"num_gpus: 16,384 GPUs are interrupted every 22 s .* under 1% of the wall-clock time"):
        plan_reliability(PRESETS, 16_384, H100, LLAMA3_405B, 1000.0, 15.0, LLAMA3_405B.num_params,
                         storage="nfs", failures_per_gpu_hour=1e-2)
