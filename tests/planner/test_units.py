"""planner.units: one parser for flags, goals files and the wizard; formatters that never print `1e+03`."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.schema import Goals
from planner.units import (
    UnitError,
    format_bytes,
    format_co2_kg,
    format_count,
    format_duration_days,
    format_energy_kwh,
    format_number,
    format_usd,
    parse_number,
)


@pytest.mark.parametrize("text,value", [
    ("1.5M", 1.5e6), ("$1,000,000", 1e6), ("7B", 7e9), ("2T", 2e12), ("4e6", 4e6), ("70_000", 7e4),
    ("500k", 5e5), ("$ 1.2k", 1200.0), ("1g", 1e9), (" 3 ", 3.0), (".5", 0.5), ("2.5e-3", 2.5e-3), (12, 12.0),
])
def test_the_forms_people_type_parse_to_the_number_they_mean(text, value):
    assert parse_number(text, "budget_usd") == pytest.approx(value, rel=1e-12)


@pytest.mark.parametrize("text,rule", [
    ("nan", "is not a finite number"), ("inf", "is not a finite number"), (float("nan"), "is not a finite number"),
    (float("inf"), "is not a finite number"), ("1e999", "overflows"), ("1e308k", "overflows"), (10**400, "overflows"),
    ("seven", "is not a number"), ("1,00", "misplaced thousands separators"), ("-5", "must not be negative"),
    ("1.5Q", "is not a number"), (True, "is not a number"), ("", "is not a number"),
])
def test_unusable_numbers_are_errors_naming_the_field_and_the_rule(text, rule):
    with pytest.raises(UnitError) as err:
        parse_number(text, "--budget-usd")
    assert str(err.value).startswith("--budget-usd: ") and rule in str(err.value)


def test_a_value_past_the_maximum_names_the_maximum():
    with pytest.raises(UnitError, match=r"budget_usd: '1e308' is too large; the most allowed is 10T \(1e13\)"):
        parse_number("1e308", "budget_usd", maximum=1e13)


@pytest.mark.parametrize("value,text", [
    (999_999.7, "1M"), (1e6, "1M"), (7e9, "7B"), (1234, "1.23k"), (12, "12"), (0.5, "0.5"), (999.5, "1k"),
    (1e21, "1e21"), (2e-5, "2e-5"), (0, "0"), (None, "-"),
])
def test_counts_round_before_choosing_the_suffix(value, text):
    assert format_count(value) == text


@pytest.mark.parametrize("fmt,value,text", [
    (format_usd, 999_999.7, "$1M"), (format_usd, 1e6, "$1M"), (format_usd, 12.5, "$12.50"),
    (format_usd, -5000, "-$5k"), (format_usd, 999.6, "$1k"), (format_co2_kg, 1_000_000, "1 kt"),
    (format_co2_kg, 999.9, "1 t"), (format_co2_kg, 80, "80 kg"), (format_energy_kwh, 3400, "3.4 MWh"),
    (format_energy_kwh, 1.2e6, "1.2 GWh"), (format_duration_days, 30.8, "30.8 days"), (format_duration_days, 0.5, "12 h"),
])
def test_money_energy_co2_and_durations_read_as_people_write_them(fmt, value, text):
    assert fmt(value) == text


@given(st.floats(min_value=-1e30, max_value=1e30, allow_nan=False))
def test_no_formatter_prints_an_exponent_with_a_plus_sign(value):
    for fmt in (format_count, format_usd, format_energy_kwh, format_co2_kg):
        assert "e+" not in fmt(value)


@given(st.integers(min_value=1, max_value=999), st.integers(min_value=-3, max_value=17))
def test_a_formatted_count_parses_back_to_its_three_significant_digits(mantissa, exponent):
    value = mantissa * 10.0**exponent
    assert parse_number(format_count(value)) == pytest.approx(value, rel=1e-9)


def test_a_goals_file_accepts_the_same_forms_as_the_flags():
    goals = Goals.model_validate({"target_params": "7B", "budget_usd": "$1,000,000", "target_tokens": "2T",
                                  "inference_tokens": "2T", "num_gpus": 256, "deadline_days": "30",
                                  "training": {"failures_per_gpu_hour": "1e-5"}})
    assert (goals.target_params, goals.budget_usd, goals.target_tokens) == (7e9, 1e6, 2e12)
    assert goals.num_gpus == 256 and goals.training.failures_per_gpu_hour == 1e-5


@pytest.mark.parametrize("field,value,message", [
    ("budget_usd", 1e308, "is too large; the most allowed is 10T"), ("target_params", "nan", "is not a finite number"),
    ("target_tokens", math.inf, "is not a finite number"), ("budget_usd", "1.5Q", "is not a number"),
    ("budget_usd", -3, "greater than 0"),
])
def test_a_goals_file_with_an_unusable_number_names_the_field(field, value, message):
    with pytest.raises(ValidationError) as err:
        Goals.model_validate({field: value})
    (error,) = err.value.errors()
    assert error["loc"] == (field,) and message in error["msg"]


@given(st.one_of(st.text(max_size=20), st.text(alphabet="0123456789.,_$kKmMbBtTpPeE+- ", max_size=16),
                 st.floats(), st.integers(min_value=-10**400, max_value=10**400)))
def test_any_input_is_a_finite_number_or_a_unit_error_naming_the_field(value):
    try:
        number = parse_number(value, "budget_usd", maximum=1e13)
    except UnitError as exc:
        assert str(exc).startswith("budget_usd: ")
    else:
        assert math.isfinite(number) and 0 <= number <= 1e13


@given(st.sampled_from(["target_params", "target_tokens", "budget_usd", "deadline_days", "num_gpus", "seq_len"]),
       st.one_of(st.text(alphabet="0123456789.,_$kKmMbBtTe+-na", max_size=12), st.floats(),
                 st.integers(min_value=-10**30, max_value=10**30)))
def test_a_goals_file_number_validates_or_fails_with_its_field_path(field, value):
    try:
        goals = Goals.model_validate({field: value})
    except ValidationError as err:
        assert all(e["loc"][0] == field for e in err.errors())
    else:
        assert math.isfinite(getattr(goals, field))


# One formatter per kind, with a parameter where two views of the project show a figure differently.

@pytest.mark.parametrize("value,kwargs,text", [
    (999.7, {}, "1,000"), (30.84, {}, "30.8"), (2e-5, {}, "2e-5"), (0.0, {}, "0"), (-0.0, {}, "0"), (None, {}, "-"),
    (12.5, {"unit": "days"}, "12.5 days"), (None, {"unit": "days"}, "-"),
    (2.871e23, {"scientific_from": 1e12}, "2.871e23"), (2.5e12, {}, "2,500,000,000,000"),
    (150.4, {"separators_from": 100}, "150"), (150.4, {}, "150"),
    (1.234e-5, {"separators_from": 100, "python_exponent": True}, "1.23e-05"),
])
def test_format_number_is_the_reports_the_summarys_and_the_wizards_plain_figure(value, kwargs, text):
    assert format_number(value, **kwargs) == text


@pytest.mark.parametrize("value,text", [(7e9, "7B"), (1.5e6, "1.5M"), (4096, "4096"), (1234567, "1234567"),
                                        (0.1, "0.1"), (2.25e12, "2.25T"), (7_000_000_001, "7000000001")])
def test_the_exact_form_text_parses_back_to_the_same_number(value, text):
    assert format_count(value, exact=True) == text
    assert parse_number(text) == value


def test_the_reports_labels_use_a_capital_k_and_the_monitor_fixed_tenths():
    assert [format_count(x, kilo="K") for x in (4e5, 1.5e6, 12)] == ["400K", "1.5M", "12"]
    assert [format_usd(x, decimals=1) for x in (60_250, 1.5e6, 999.96, 12.5)] == ["$60.2k", "$1.5M", "$999.96", "$12.50"]
    assert format_usd(None, missing="?") == "?"
    assert [format_usd(x, cents=False) for x in (12.5, 0.0123, 1.2e6, -5000)] == ["$12.5", "$0.0123", "$1.2M", "-$5k"]
    assert [format_duration_days(d, tenths=True) for d in (31.4, 2.54, 0.5, 0.01)] == \
        ["31 days", "2.5 days", "12.0 hours", "14.4 minutes"]


@pytest.mark.parametrize("value,text", [(86e9, "80.1 GiB"), (3 * 2**40, "3 TiB"), (512, "512 B"), (1536, "1.5 KiB")])
def test_format_bytes_uses_binary_units(value, text):
    assert format_bytes(value) == text
