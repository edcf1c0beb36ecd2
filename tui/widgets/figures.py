"""Display formatting of plan figures: the units and rounding of planner.units, so the wizard writes
numbers the way the CLI and the report do (`$1M`, `1 kt`, `1,000 days`; never `$1e+03k` or `1e+03`)."""

from __future__ import annotations

from planner.schema import Range
from planner.units import (
    format_bytes,
    format_co2_kg,
    format_count,
    format_energy_kwh,
    format_number,
    format_scientific,
    format_usd,
)

count = format_count
"""7.0e9 -> `7B`; 1234 -> `1.23k`; 999,999.7 -> `1M`; None -> `-`."""
usd = format_usd
"""1e6 -> `$1M`; 60,250 -> `$60.2k`; 12.5 -> `$12.50`."""
energy = format_energy_kwh
co2 = format_co2_kg
num = format_number
"""Three significant digits, rounded before choosing the form: 999.7 -> `1,000`, 30.84 -> `30.8`;
thousands separators from 1,000 on; `num(v, unit="days")`."""
nbytes = format_bytes
"""Binary sizes: `80.1 GiB`."""


def flops(value: float) -> str:
    """3.1e23 -> `3.1e23 FLOP`."""
    return f"{format_scientific(value)} FLOP"


def span(rng: Range | None, fmt) -> str:
    """`p10-p90` of a range with the same formatter as its point value, or empty."""
    if rng is None:
        return ""
    return f"{fmt(rng.p10)} – {fmt(rng.p90)}"


def value(v: float | int | str | bool) -> str:
    """An assumption's value: large numbers with k/M/B suffixes, tiny ones as `2e-5`, others as they are."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    if v and abs(v) >= 1e5:
        return format_count(v, 4)
    if v and abs(v) < 1e-3:
        return format_scientific(v, 4)
    return f"{v:g}"
