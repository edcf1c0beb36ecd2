"""Sizing laws (planner.model.sizing).

Sources: Hoffmann et al. 2022 (Chinchilla) eq. 2, eq. 4 and Table 3; Besiroglu et al. 2024
Table 1; Sardana & Frankle 2023 eq. 2; Muennighoff et al. 2023 eq. 5 (R*_D = 15.387).
"""

from __future__ import annotations

import math

import pytest

from planner.model import sizing
from planner.model.sizing import BESIROGLU_2024, HOFFMANN_2022


def test_rule_of_thumb_is_20_tokens_per_parameter():
    assert sizing.rule_of_thumb_tokens(7e9) == 140e9
    n = sizing.rule_of_thumb_params_for_compute(6 * 20 * 1e9 * 1e9)
    assert n == pytest.approx(1e9)


@pytest.mark.parametrize("compute", [1e21, 1e23, 1e25])
def test_besiroglu_refit_puts_the_optimum_near_20_tokens_per_param(compute):
    n, d = sizing.compute_optimal(compute, BESIROGLU_2024)
    assert 6 * n * d == pytest.approx(compute)
    assert 15 < d / n < 25


def test_hoffmann_constants_do_not_give_20_tokens_per_param():
    # the known inconsistency of approach 3's published fit (Besiroglu et al. 2024, Sec. 1)
    n, d = sizing.compute_optimal(1e23, HOFFMANN_2022)
    assert d / n > 50


def test_compute_optimal_point_minimises_the_loss_on_the_budget_line():
    compute = 1e22
    n, d = sizing.compute_optimal(compute)
    best = BESIROGLU_2024.loss(n, d)
    for factor in (0.8, 1.25):
        assert BESIROGLU_2024.loss(n * factor, compute / (6 * n * factor)) > best


def test_chinchilla_loss_by_hand_with_the_hoffmann_fit():
    # 1.69 + 406.4/70e9^0.34 + 410.7/1.4e12^0.28 (Chinchilla: 70B params, 1.4T tokens) = 1.9367
    expected = 1.69 + 406.4 / 70e9**0.34 + 410.7 / 1.4e12**0.28
    assert HOFFMANN_2022.loss(70e9, 1.4e12) == pytest.approx(expected)
    assert expected == pytest.approx(1.937, abs=0.001)


def test_compute_optimal_tokens_for_a_size_inverts_the_optimum():
    n, d = sizing.compute_optimal(3e23)
    assert sizing.compute_optimal_tokens_for_params(n) == pytest.approx(d, rel=1e-9)


def test_compute_optimal_size_for_a_token_count_inverts_the_optimum():
    n, d = sizing.compute_optimal(3e23)
    assert sizing.compute_optimal_params_for_tokens(d) == pytest.approx(n, rel=1e-9)


def test_inference_aware_sizing_without_inference_is_compute_optimal():
    assert sizing.inference_optimal_for_compute(1e23, 0) == sizing.compute_optimal(1e23)


def test_inference_demand_shrinks_the_model_and_over_trains_it():
    n_c, d_c = sizing.compute_optimal(1e23)
    n, d = sizing.inference_optimal_for_compute(1e23, 1e13)
    assert n < n_c and d > d_c
    assert 6 * n * d == pytest.approx(1e23)
    assert d / n > 100


def test_inference_optimum_minimises_total_flops_at_its_own_loss():
    n, d = sizing.inference_optimal_for_compute(1e23, 1e13)
    target = BESIROGLU_2024.loss(n, d)
    n2, d2 = sizing.inference_optimal_for_loss(target, 1e13)  # independent golden-section search
    assert n2 == pytest.approx(n, rel=1e-3)
    assert d2 == pytest.approx(d, rel=1e-3)


def test_inference_optimal_tokens_for_a_fixed_size_grow_with_demand():
    d0 = sizing.inference_optimal_tokens_for_params(7e9, 0)
    d1 = sizing.inference_optimal_tokens_for_params(7e9, 1e13)
    assert d0 == pytest.approx(sizing.compute_optimal_tokens_for_params(7e9), rel=1e-6)
    assert d1 > 5 * d0


def test_muennighoff_effective_tokens_by_hand():
    # U = 100, D = 400 -> R_D = 3: 100 + 100·15.387·(1 − e^(−3/15.387)) = 372.57
    assert sizing.effective_tokens(400, 100) == pytest.approx(100 + 1538.7 * (1 - math.exp(-3 / 15.387)))
    assert sizing.effective_tokens(400, 100) == pytest.approx(372.57, abs=0.01)
    assert sizing.effective_tokens(100, 200) == 100


def test_repeated_data_keeps_most_of_its_value_up_to_four_epochs_then_fades():
    assert sizing.effective_tokens(4, 1) / 4 > 0.9
    assert sizing.effective_tokens(40, 1) / 40 < 0.5


def test_past_four_epochs_the_planner_warns():
    assert sizing.epochs_warning(4e9, 1e9) is None
    message = sizing.epochs_warning(8e9, 1e9)
    assert "8.0 times" in message and "Muennighoff" in message


def test_predicted_loss_is_worse_with_repeated_data_than_with_fresh_data():
    fresh = sizing.predicted_loss(1e9, 1e11)
    repeated = sizing.predicted_loss(1e9, 1e11, unique_tokens=1e10)
    assert repeated > fresh
