"""Calibration against published runs (planner.calibration.calibrate, presets/published_runs.csv)."""

from __future__ import annotations

import pytest

from planner.calibration.calibrate import calibration_table, summary
from presets import load_catalog


@pytest.fixture(scope="module")
def rows():
    return calibration_table(load_catalog())


def test_median_gpu_hour_error_over_whole_runs_is_at_most_15_percent(rows):
    stats = summary(rows)["gpu_hours"]
    assert stats["n"] >= 14
    assert stats["median_abs_rel_error"] <= 0.15


def test_no_whole_run_is_off_by_more_than_a_factor_of_two(rows):
    for row in rows:
        if row["kind"] == "run" and row["gpu_hours_error"] is not None:
            assert 0.5 <= 1 + row["gpu_hours_error"] <= 2.0, row["name"]


def test_every_csv_row_appears_with_energy_and_co2_where_reported(rows):
    names = [r["name"] for r in rows]
    assert "GPT-3-175B" in names and "Llama-3-405B-8192gpu" in names
    gpt3 = next(r for r in rows if r["name"] == "GPT-3-175B")
    # Patterson et al. 2021 Table 4: 1,287 MWh and 552.1 tCO2 on 10,000 V100 for 14.8 days
    assert gpt3["predicted_energy_kwh"] == pytest.approx(1_287_000, rel=0.3)
    assert gpt3["predicted_co2_kg"] == pytest.approx(552_100, rel=0.3)


def test_reference_shapes_are_used_where_presets_have_them(rows):
    llama = next(r for r in rows if r["name"] == "Llama-2-70B")
    assert llama["shape"] == "presets/models.yaml Llama-2-70B"


def test_the_calibration_frame_is_a_pandas_table():
    from planner.calibration.calibrate import calibration_frame

    frame = calibration_frame(load_catalog())
    assert {"predicted_gpu_hours", "reported_gpu_hours", "gpu_hours_error"} <= set(frame.columns)


def test_refitting_on_the_published_runs_reproduces_the_committed_coefficients():
    from planner.calibration.calibrate import fit_mfu_model
    from planner.compute.throughput import MfuModel
    from presets import load_mfu_model

    preset = MfuModel.from_preset(load_mfu_model())
    fitted = fit_mfu_model(load_catalog())
    assert fitted["median_abs_rel_error"] <= 0.15 and fitted["max_factor"] < 2
    for gpu, base in fitted["bases"].items():
        assert preset.gpus[gpu].base == pytest.approx(base, rel=0.02), gpu
        assert preset.gpus[gpu].half_size_params == fitted["half_size_params"]
