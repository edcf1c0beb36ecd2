"""Dollars, energy and CO2 of a run.

- Rented GPUs: cost = GPU-hours x price per GPU-hour (electricity is part of the rental price, so
  the plan reports energy cost beside it but does not add it to the total).
- Owned GPUs: cost = GPU-hours x purchase price / (lifetime in hours) — straight-line amortisation —
  plus the electricity bill.
- Energy (the accounting of Patterson et al. 2021, eq. 1, and Luccioni et al. 2022):
  kWh = GPU-hours x (TDP x power utilisation + node overhead per GPU) / 1000 x PUE,
  with the node overhead (host CPUs, memory, network, storage) a fraction of GPU TDP
  (presets/energy.yaml).
- CO2 = kWh x grid intensity (kg/kWh) of the region (presets/regions.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

HOURS_PER_YEAR = 24 * 365


@dataclass(frozen=True)
class PowerModel:
    """Per-GPU power draw: TDP x utilisation, plus the node's share as a fraction of TDP."""

    gpu_power_utilisation: float
    node_overhead_fraction: float

    def watts_per_gpu(self, tdp_w: float) -> float:
        return tdp_w * (self.gpu_power_utilisation + self.node_overhead_fraction)


def rented_cost_usd(gpu_hours: float, price_per_gpu_hour_usd: float) -> float:
    return gpu_hours * price_per_gpu_hour_usd


def owned_cost_per_gpu_hour_usd(purchase_usd: float, lifetime_years: float) -> float:
    """Straight-line amortisation of the purchase over the GPU's lifetime, per hour."""
    return purchase_usd / (lifetime_years * HOURS_PER_YEAR)


def owned_cost_usd(gpu_hours: float, purchase_usd: float, lifetime_years: float) -> float:
    return gpu_hours * owned_cost_per_gpu_hour_usd(purchase_usd, lifetime_years)


def energy_kwh(gpu_hours: float, tdp_w: float, power: PowerModel, pue: float) -> float:
    """kWh = GPU-hours x (TDP·u + node overhead) / 1000 x PUE (Patterson et al. 2021, eq. 1)."""
    return gpu_hours * power.watts_per_gpu(tdp_w) / 1000.0 * pue


def energy_cost_usd(kwh: float, price_usd_per_kwh: float) -> float:
    return kwh * price_usd_per_kwh


def co2_kg(kwh: float, grid_kg_co2_per_kwh: float) -> float:
    return kwh * grid_kg_co2_per_kwh


def total_cost_usd(cost_usd: float, energy_cost: float, ownership: str) -> float:
    """Owned: amortisation + electricity. Rented: the rental (it includes electricity)."""
    return cost_usd + energy_cost if ownership == "owned" else cost_usd


def cost_per_gpu_hour_usd(
    ownership: str, price_per_gpu_hour_usd: float, purchase_usd: float, lifetime_years: float,
    tdp_w: float, power: PowerModel, pue: float, electricity_usd_per_kwh: float,
) -> float:
    """What one GPU-hour costs in total: used to turn a dollar budget into GPU-hours."""
    if ownership == "rented":
        return price_per_gpu_hour_usd
    energy = energy_cost_usd(energy_kwh(1.0, tdp_w, power, pue), electricity_usd_per_kwh)
    return owned_cost_per_gpu_hour_usd(purchase_usd, lifetime_years) + energy
