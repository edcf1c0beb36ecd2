"""One parser and one set of formatters for the numbers people type and read.

Sizes, token counts, money, energy, CO2, bytes and durations are written the same way on the command line, in
goals files and in the wizard: `1.5M`, `$1,000,000`, `7B`, `2T`, `4e6`, `70_000`, `500k`. Suffixes
are decimal (k = 1e3, M = 1e6, B = G = 1e9, T = 1e12, P = 1e15), case-insensitive. A value that is
not a number, not finite (`nan`, `inf`) or overflows (`1e999`), or lies beyond the field's `maximum`,
is a `UnitError` (a ValueError) whose message names the field, the value and what is allowed, so the
CLI exits 2 and the wizard marks the field.

The formatters round *before* choosing the suffix, so 999,999.7 dollars reads `$1M`, never `$1e+03k`.
"""

from __future__ import annotations

import math
import re

SUFFIXES: dict[str, float] = {"": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12, "p": 1e15}
_SCALES: tuple[tuple[str, float], ...] = (("P", 1e15), ("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3))
_NUMBER = re.compile(
    r"^\s*(?P<sign>[-+]?)\s*\$?\s*(?P<digits>(?:\d[\d_,]*(?:\.\d*)?|\.\d+)(?:e[-+]?\d+)?)\s*"
    r"(?P<suffix>[kmbgtp]?)\s*$",
    re.IGNORECASE,
)
EXAMPLES = "a number such as 4e6, 1.5M, 7B, 2T or $1,000,000"


class UnitError(ValueError):
    """A typed number that cannot be used; `str()` names the field, the value and what is allowed."""

    def __init__(self, field: str, text: object, rule: str) -> None:
        self.field, self.text, self.rule = field, text, rule
        head = f"{field}: " if field else ""
        shown = repr(text) if len(repr(text)) <= 40 else repr(text)[:37] + "..."
        super().__init__(f"{head}{shown} {rule}")


def parse_number(text: str | float | int, field: str = "", *, maximum: float | None = None,
                 allow_negative: bool = False) -> float:
    """`"1.5M"` -> 1.5e6, `"$1,000,000"` -> 1e6, `"7B"` -> 7e9, `"4e6"` -> 4e6; numbers pass through.

    Raises UnitError for text that is not a number, for NaN/infinity/overflow, for a negative value
    unless `allow_negative`, and for a value above `maximum`.
    """
    if isinstance(text, bool):
        raise UnitError(field, text, f"is not a number; use {EXAMPLES}")
    if isinstance(text, int | float):
        try:
            value = float(text)
        except OverflowError:  # an int beyond float's range
            value = math.inf if text > 0 else -math.inf
    else:
        value = _parse_text(str(text), field)
    return _check(value, text, field, maximum, allow_negative)


def _parse_text(text: str, field: str) -> float:
    match = _NUMBER.match(text)
    if not match:
        if text.strip().lower().lstrip("+-") in ("nan", "inf", "infinity"):
            raise UnitError(field, text, "is not a finite number")
        raise UnitError(field, text, f"is not a number; use {EXAMPLES}")
    digits = match["digits"].replace("_", "")
    if "," in digits and not re.fullmatch(r"\d{1,3}(,\d{3})+(\.\d*)?(e[-+]?\d+)?", digits, re.IGNORECASE):
        raise UnitError(field, text, "has misplaced thousands separators; write 1,000,000 or 1000000")
    value = float(digits.replace(",", "")) * SUFFIXES[match["suffix"].lower()]  # 1e999 -> inf, not an error
    return -value if match["sign"] == "-" else value


def _check(value: float, text: object, field: str, maximum: float | None, allow_negative: bool) -> float:
    if math.isnan(value) or (isinstance(text, float) and math.isinf(value)):
        raise UnitError(field, text, "is not a finite number")
    if math.isinf(value):
        raise UnitError(field, text, "overflows; " + (f"the most allowed is {format_count(maximum)}"
                                                       if maximum else "use a finite number"))
    if value < 0 and not allow_negative:
        raise UnitError(field, text, "must not be negative")
    if maximum is not None and abs(value) > maximum:
        raise UnitError(field, text, f"is too large; the most allowed is {format_count(maximum)} ({format_scientific(maximum)})")
    return value


def round_significant(value: float, digits: int) -> float:
    """`value` rounded to `digits` significant digits (999.7, 3 -> 1000.0)."""
    if value == 0 or not math.isfinite(value):
        return value
    return round(value, digits - 1 - math.floor(math.log10(abs(value))))


_round_sig = round_significant


def format_count(value: float | int | None, digits: int = 3, *, kilo: str = "k", decimals: int | None = None,
                 exact: bool = False) -> str:
    """7e9 -> `7B`, 1.5e6 -> `1.5M`, 999_999.7 -> `1M`, 1234 -> `1.23k`, 12 -> `12`; None -> `-`.

    `parse_number(format_count(x)) == x` for figures with at most `digits` significant digits.
    `kilo="K"`: the report's axis and table labels (`400K`). `decimals`: a fixed number of
    decimals after the suffix instead of significant digits (the run monitor's `$60.3k`, `$1.5M`).
    `exact`: the form text of the wizard, which must parse back to `value` exactly: `7B`, `1.5M`
    where `digits` digits say it all, else the whole number (`1234567`) or Python's `repr`.
    """
    if value is None:
        return "-"
    if exact:
        return _exact_text(value, digits)
    if not math.isfinite(value):
        return str(value)
    if decimals is not None:  # chosen on the value itself: 999.96 -> `999.96`, not rounded up to `1.0k`
        scale, suffix = next(((s, n) for n, s in _SCALES if abs(value) >= s), (1.0, ""))
        return f"{value / scale:.{decimals}f}{kilo if suffix == 'k' else suffix}"
    rounded = _round_sig(float(value), digits)
    if abs(rounded) >= 1000 * _SCALES[0][1] or 0 < abs(rounded) < 1e-3:
        return format_scientific(rounded, digits)
    for suffix, scale in _SCALES:
        if abs(rounded) >= scale:
            return f"{_round_sig(rounded / scale, digits):.{digits}g}{kilo if suffix == 'k' else suffix}"
    return f"{rounded:.{digits}g}"


def _exact_text(value: float | int, digits: int) -> str:
    for suffix, scale in _SCALES:
        if abs(value) >= scale:
            text = f"{value / scale:.{digits}g}{suffix}"  # 7B, 1.5M, 2.25T; 4096 stays 4096
            if "e" not in text and parse_number(text, allow_negative=True) == value:
                return text
    if float(value).is_integer():
        return f"{int(value)}"
    return repr(float(value))


def format_number(value: float | None, digits: int = 3, *, unit: str = "", separators_from: float = 1000.0,
                  scientific_from: float | None = None, python_exponent: bool = False) -> str:
    """A plain figure for tables and sentences: `12,345` (thousands separators from `separators_from`
    on), `30.8`, `0.0123` (`digits` significant digits below it), rounded before the form is chosen
    (999.7 -> `1,000`), then ` unit`; None -> `-`.

    From `scientific_from` on, the exponent form with one more digit (the report: `2.871e23`). Tiny
    values read `2e-5`; `python_exponent=True` keeps Python's `2e-05` (the text summary's form).
    """
    if value is None:
        return "-"
    value = value or 0.0  # -0.0 reads `0`
    rounded = _round_sig(value, digits)
    if scientific_from is not None and abs(rounded) >= scientific_from:
        text = format_scientific(value, digits + 1)
    elif abs(rounded) >= separators_from:
        text = f"{value:,.0f}"
    else:
        text = f"{rounded:.{digits}g}"
        if "e" in text and not python_exponent:
            text = format_scientific(value, digits)
    return f"{text} {unit}".rstrip()


def format_scientific(value: float, digits: int = 3) -> str:
    """1.234e21 -> `1.23e21`, 2e-5 -> `2e-5`: mantissa and exponent without `+` or leading zeros."""
    if value == 0 or not math.isfinite(value):
        return str(value)
    mantissa, exponent = f"{_round_sig(value, digits):.{digits - 1}e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".") if "." in mantissa else mantissa
    return f"{mantissa}e{int(exponent)}"


def format_usd(value: float | None, digits: int = 3, *, decimals: int | None = None, cents: bool = True,
               missing: str = "-") -> str:
    """1e6 -> `$1M`, 999_999.7 -> `$1M`, 60_250 -> `$60.2k`, 12.5 -> `$12.50`; negative as `-$5k`.

    `decimals=1`: the run monitor's fixed tenths from $1,000 on (`$60.3k`, `$1.5M`), as format_count.
    `cents=False`: small amounts as counts too (`$12.5`, `$0.0123`; the report's serving table).
    `missing`: the text for None.
    """
    if value is None:
        return missing
    sign = "-" if value < 0 else ""
    if decimals is not None and abs(value) >= 1000:
        return f"{sign}${format_count(abs(value), decimals=decimals)}"
    if decimals is None and (abs(value) >= 999.5 or not cents):
        return f"{sign}${format_count(abs(value), digits)}"
    return f"{sign}${abs(value):,.2f}"


def format_energy_kwh(value_kwh: float | None, digits: int = 3) -> str:
    """1.2e6 kWh -> `1.2 GWh`, 3400 -> `3.4 MWh`, 12 -> `12 kWh`."""
    return _with_unit(value_kwh, (("TWh", 1e9), ("GWh", 1e6), ("MWh", 1e3), ("kWh", 1.0)), digits)


def format_co2_kg(value_kg: float | None, digits: int = 3) -> str:
    """CO2 mass: 1.234e6 kg -> `1.23 kt`, 5400 -> `5.4 t`, 80 -> `80 kg` (never `1e+03`)."""
    return _with_unit(value_kg, (("Mt", 1e9), ("kt", 1e6), ("t", 1e3), ("kg", 1.0)), digits)


def _with_unit(value: float | None, scales: tuple[tuple[str, float], ...], digits: int) -> str:
    """The largest unit the rounded value reaches; beyond the largest, its count with k/M/B suffixes."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    rounded = _round_sig(value, digits)
    for suffix, scale in scales:
        if abs(rounded) >= scale or scale == scales[-1][1]:
            return f"{format_count(rounded / scale, digits)} {suffix}"
    raise AssertionError("unreachable")


def format_bytes(value: float, digits: int = 3) -> str:
    """Binary sizes: 8.6e10 -> `80.1 GiB`, 3 * 2**40 -> `3 TiB`, 512 -> `512 B`."""
    for suffix, scale in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if abs(value) >= scale:
            return f"{_round_sig(value / scale, digits):.{digits}g} {suffix}"
    return f"{value:.0f} B"


def format_duration_days(days: float | None, digits: int = 3, *, tenths: bool = False) -> str:
    """0.5 -> `12 h`, 30.8 -> `30.8 days`, 800 -> `2.19 years`, 0.01 -> `14.4 min`.

    `tenths=True`: the run monitor's form, one decimal below ten days and none from ten on, in
    days, hours or minutes (`2.5 days`, `31 days`, `12.0 hours`, `14.4 minutes`).
    """
    if days is None:
        return "-"
    if tenths:
        for unit, amount in (("days", days), ("hours", days * 24), ("minutes", days * 1440)):
            if amount >= 1 or unit == "minutes":
                return f"{amount:.0f} {unit}" if unit == "days" and amount >= 10 else f"{amount:.1f} {unit}"
    if not math.isfinite(days):
        return str(days)
    if days >= 365:
        return f"{_round_sig(days / 365.25, digits):,.{digits}g} years"
    if days >= 1:
        return f"{_round_sig(days, digits):.{digits}g} days"
    if days * 24 >= 1:
        return f"{_round_sig(days * 24, digits):.{digits}g} h"
    return f"{_round_sig(days * 1440, digits):.{digits}g} min"
