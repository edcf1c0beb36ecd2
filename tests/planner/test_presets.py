"""Preset files and their loader (presets/)."""

from __future__ import annotations

from pathlib import Path

import pytest

import presets
from planner.errors import PlanInputError

SHARED_RUNS = Path(__file__).resolve().parents[3] / "shared" / "calibration" / "published_runs.csv"


@pytest.mark.parametrize("alias", ["H100", "H100-SXM", "H100-80GB", "h100-sxm-80gb", " h100_sxm "])
def test_h100_aliases_name_the_sxm_80gb_part(alias):
    assert presets.find_gpu(alias).name == "H100-SXM-80GB"


def test_a100_means_the_80gb_part_unless_40gb_is_named():
    assert presets.find_gpu("A100").name == "A100-SXM4-80GB"
    assert presets.find_gpu("a100-80gb").name == "A100-SXM4-80GB"
    assert presets.find_gpu("A100-40GB").name == "A100-SXM4-40GB"


def test_unknown_gpu_lists_the_known_names():
    with pytest.raises(PlanInputError) as err:
        presets.find_gpu("TPUv9")
    text = str(err.value)
    assert "gpu: unknown GPU 'TPUv9'" in text and "H100-SXM-80GB" in text and "MI300X" in text


def test_every_required_gpu_is_present_with_source_and_date():
    names = {g.name for g in presets.load_gpus()}
    for required in ("V100", "A100-40GB", "A100-80GB", "H100-SXM", "H100-PCIe", "H800", "H200", "B200",
                     "MI250X", "MI300X", "L40S", "CPU"):
        assert presets.find_gpu(required).name in names
    for gpu in presets.load_gpus():
        assert gpu.source and gpu.date
        assert gpu.peak_bf16_flops <= gpu.peak_fp16_flops * 1.0001


def test_aliases_are_unambiguous():
    seen = {}
    for gpu in presets.load_gpus():
        for name in (gpu.name, *gpu.aliases):
            key = name.lower()
            assert seen.setdefault(key, gpu.name) == gpu.name, f"{name} names two GPUs"


def test_regions_have_sources_and_unknown_region_is_refused():
    assert presets.find_region("US-Average").grid_kg_co2_per_kwh == pytest.approx(0.385)
    assert all(r.source for r in presets.load_regions())
    with pytest.raises(PlanInputError, match="known regions"):
        presets.find_region("atlantis")


def test_published_runs_copy_matches_the_shared_calibration_file():
    if not SHARED_RUNS.exists():
        pytest.skip("../shared is not beside this checkout")
    assert presets.PUBLISHED_RUNS_CSV.read_bytes() == SHARED_RUNS.read_bytes()


def test_goal_presets_load_and_unknown_preset_is_refused():
    assert {"default", "tiny-cpu"} <= set(presets.goals_preset_names())
    assert presets.load_goals_preset("tiny-cpu").gpu == "CPU"
    with pytest.raises(PlanInputError, match="known presets"):
        presets.load_goals_preset("huge")
