"""The sizing prior and time arithmetic (planner.compute.throughput).

MFU as Chowdhery et al. 2022 (PaLM) App. B define it; the prior's coefficients (presets/mfu_model.yaml)
are fitted to the layout-to-dollars chain (planner.chain; tests/planner/test_chain.py).
"""

from __future__ import annotations

import pytest

from planner.compute import throughput
from planner.compute.throughput import MfuModel, default_precision, fleet_for_days, gpu_hours_for, predict_mfu
from presets import find_gpu, load_mfu_model

MODEL = MfuModel.from_preset(load_mfu_model())
A100 = find_gpu("A100")
H100 = find_gpu("H100")


def mfu(gpu=A100, n=7e9, s=2048, gpus=256, precision="bf16"):
    return predict_mfu(MODEL, gpu, num_params=n, seq_length=s, num_gpus=gpus, precision=precision)


def test_mfu_stays_a_fraction_for_every_gpu_and_size():
    from presets import load_gpus

    for gpu in load_gpus():
        for n in (1e5, 1e8, 1e11, 1e13):
            assert 0 < mfu(gpu, n, gpus=8, precision=default_precision(gpu)) <= 1


def test_small_models_use_the_gpu_less_well():
    assert mfu(n=7e7) < mfu(n=1.4e9) < mfu(n=7e10)


def test_longer_sequences_and_larger_fleets_lower_mfu():
    assert mfu(s=8192) < mfu(s=2048)
    assert mfu(gpus=16384) < mfu(gpus=64)
    assert mfu(s=1024) == mfu(s=2048)  # no gain below the reference length


def test_fp8_is_scored_against_its_own_higher_peak():
    assert mfu(H100, precision="fp8") == pytest.approx(0.65 * mfu(H100, precision="bf16"))


def test_the_a100_prior_is_near_llama2_7b_implied_mfu():
    # Touvron et al. 2023: 184,320 GPU-hours for 2T tokens; Megatron FLOPs give ~0.414 implied MFU.
    # The prior only guesses what a budget buys before the chain prices the run: 15% is its job.
    assert mfu(A100, 6.74e9, 4096, 256) == pytest.approx(0.414, rel=0.15)


def test_gpu_hours_are_flops_over_peak_times_mfu():
    assert gpu_hours_for(312e12 * 0.5 * 3600, A100, 0.5, "bf16") == pytest.approx(1.0)


def test_precision_defaults_follow_the_hardware():
    assert default_precision(A100) == "bf16"
    assert default_precision(find_gpu("V100")) == "fp16"
    assert default_precision(find_gpu("CPU")) == "fp32"


def test_peak_for_a_precision_the_gpu_lacks_is_refused():
    with pytest.raises(ValueError, match="no fp8"):
        throughput.peak_flops(A100, "fp8")


def test_without_a_deadline_the_fleet_is_the_nearest_power_of_two_in_log_space():
    # 200,000 GPU-hours in 30 days needs 277.8 GPUs = 34.7 nodes: 32 nodes, not 64
    assert fleet_for_days(gpu_hours=200_000, days=30, gpus_per_node=8, max_gpus=32768, round_up=False) == 256


def test_fleets_are_whole_power_of_two_node_counts_that_meet_the_days():
    n = fleet_for_days(gpu_hours=184_320, days=30, gpus_per_node=8, max_gpus=32768)
    assert n == 256  # 184,320 / 720 h = 256 GPUs exactly
    n = fleet_for_days(gpu_hours=200_000, days=30, gpus_per_node=8, max_gpus=32768)
    assert n == 512 and 200_000 / n / 24 <= 30
    assert fleet_for_days(1.0, 30, 8, 32768) == 8
    assert fleet_for_days(1e12, 30, 8, 32768) == 32768
