"""Cost, energy and risk: prices and energy, failures and restarts, serving cost, p10-p90 ranges, feasibility."""
