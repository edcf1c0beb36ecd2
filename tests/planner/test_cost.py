"""Dollars, energy and CO2 (planner.cost.pricing), by hand.

Energy accounting of Patterson et al. 2021 eq. 1: GPU-hours x average power x PUE; CO2 = kWh x grid.
"""

from __future__ import annotations

import pytest

from planner.cost import pricing

POWER = pricing.PowerModel(gpu_power_utilisation=0.8, node_overhead_fraction=0.3)


def test_rented_cost_is_hours_times_price():
    assert pricing.rented_cost_usd(1000, 2.0) == 2000


def test_owned_cost_amortises_the_purchase_over_the_lifetime():
    # $35,040 over 4 years = 35,040 h -> $1/GPU-hour
    assert pricing.owned_cost_per_gpu_hour_usd(35_040, 4) == pytest.approx(35_040 / (4 * 8760))
    assert pricing.owned_cost_usd(8760, 35_040, 4) == pytest.approx(8760)


def test_energy_is_power_with_node_overhead_times_pue():
    # 1000 GPU-h x 400 W x (0.8 + 0.3) = 440 kWh; x PUE 1.1 = 484 kWh
    assert pricing.energy_kwh(1000, 400, POWER, 1.1) == pytest.approx(484.0)


def test_llama_energy_convention_is_a_special_case():
    # Touvron et al. 2023 Table 15: GPU-h x 400 W x PUE 1.1 (utilisation 1, no overhead)
    llama = pricing.PowerModel(1.0, 0.0)
    assert pricing.energy_kwh(82_432, 400, llama, 1.1) / 1000 == pytest.approx(36.27, abs=0.01)


def test_co2_and_energy_cost():
    assert pricing.co2_kg(1000, 0.385) == pytest.approx(385)
    assert pricing.energy_cost_usd(1000, 0.12) == pytest.approx(120)


def test_owned_runs_add_electricity_and_rented_runs_do_not():
    assert pricing.total_cost_usd(100, 10, "owned") == 110
    assert pricing.total_cost_usd(100, 10, "rented") == 100


def test_an_owned_gpu_hour_costs_amortisation_plus_electricity():
    per_hour = pricing.cost_per_gpu_hour_usd("owned", 2.0, 35_040, 4, 400, POWER, 1.1, 0.10)
    assert per_hour == pytest.approx(1.0 + 0.484 * 0.10)
    assert pricing.cost_per_gpu_hour_usd("rented", 2.0, 35_040, 4, 400, POWER, 1.1, 0.10) == 2.0
