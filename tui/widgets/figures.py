"""Display formatting of plan figures (units and significant digits only; no planning math)."""

from __future__ import annotations

from planner.schema import Range

_SCALES = (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))
_BYTE_SCALES = (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10))


def count(value: float | None) -> str:
    """7.0e9 -> `7.00B`; 1234 -> `1.23k`; None -> `-`."""
    if value is None:
        return "-"
    for suffix, scale in _SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.3g}{suffix}"
    return f"{value:.3g}"


def usd(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 1e3:
        return "$" + count(value)
    return f"${value:,.2f}"


def flops(value: float) -> str:
    return f"{value:.3g} FLOP"


def num(value: float | None, unit: str = "") -> str:
    """Three significant digits with thousands separators, then the unit."""
    if value is None:
        return "-"
    text = f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


def nbytes(value: float) -> str:
    for suffix, scale in _BYTE_SCALES:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {suffix}"
    return f"{value:.0f} B"


def span(rng: Range | None, fmt) -> str:
    """`p10-p90` of a range with the same formatter as its point value, or empty."""
    if rng is None:
        return ""
    return f"{fmt(rng.p10)} – {fmt(rng.p90)}"


def value(v: float | int | str | bool) -> str:
    """An assumption's value: large or tiny numbers in 4 significant digits, others as they are."""
    if isinstance(v, bool) or not isinstance(v, int | float):
        return str(v)
    return f"{v:.4g}" if v and (abs(v) >= 1e5 or abs(v) < 1e-3) else f"{v:g}"
