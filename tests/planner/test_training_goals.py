"""goals.training: the recipe and failure-plan choices a person may fix reach the plan, the
Megatron arguments and the executor, and bad values get one message naming the field.

Sources of the formulas checked here: Young 1974 (tau = sqrt(2 delta M)) and Daly 2006 Eq. 37 for the
checkpoint interval (planner.cost.reliability); Hu et al. 2024 (MiniCPM) Sec 4 for the WSD decay phase
(10% of the steps); Brown et al. 2020 (GPT-3) App. B for the batch ramp-up.
"""

from __future__ import annotations

import math

import pytest
import yaml

from executor.train.loop import TrainArgs, run
from planner.derive import derive_plan
from planner.errors import PlanInputError
from planner.io import write_model
from planner.training.megatron_args import megatron_argv
from planner.resolve import resolve
from planner.schema import Goals
from presets import load_catalog
from presets import load_goals_preset
from tui.cli import main


def goals_with(**training) -> Goals:
    base = load_goals_preset("default").model_dump(mode="json")
    return Goals.model_validate({**base, "training": {**base["training"], **training}})


@pytest.fixture(scope="module")
def default_plan():
    return derive_plan(resolve(load_goals_preset("default"), load_catalog()))


def test_the_defaults_are_cosine_a_fixed_batch_and_the_preset_storage_and_failure_rate(default_plan):
    p = load_catalog().reliability
    assert default_plan.recipe.lr_decay_style == "cosine" and not default_plan.recipe.batch_size_rampup
    assert default_plan.reliability.storage == p.default_storage
    rate = p.failure_models[p.default_failure_model].failures_per_gpu_hour
    assert default_plan.reliability.failures_per_gpu_hour == rate
    names = {a.name: a for a in default_plan.assumptions}
    assert names["checkpoint_storage"].value == p.default_storage
    assert "presets/reliability.yaml" in names["failures_per_gpu_hour"].source


def test_wsd_decays_over_the_last_tenth_of_the_steps_in_the_plan_and_the_megatron_arguments(default_plan):
    plan = derive_plan(resolve(goals_with(lr_schedule="wsd"), load_catalog()))
    r = plan.recipe
    assert r.lr_decay_style == "wsd" and r.train_steps == default_plan.recipe.train_steps
    assert r.lr_wsd_decay_steps == math.ceil(0.1 * r.train_steps)  # MiniCPM Sec 4
    argv = megatron_argv(plan)
    assert argv[argv.index("--lr-decay-style") + 1] == "WSD"
    assert argv[argv.index("--lr-wsd-decay-iters") + 1] == str(r.lr_wsd_decay_steps)
    assert "--lr-wsd-decay-iters" not in megatron_argv(default_plan)


def test_batch_rampup_sizes_divide_the_layout_and_reach_the_megatron_arguments(default_plan):
    plan = derive_plan(resolve(goals_with(batch_rampup=True), load_catalog()))
    lay = plan.layout.layout
    start, increment, samples = plan.recipe.rampup_batch_size
    granule = lay.micro_batch_size * lay.data_parallel_size
    assert plan.recipe.batch_size_rampup
    assert start % granule == 0 and increment % granule == 0 and start < lay.global_batch_size
    assert (lay.global_batch_size - start) % increment == 0  # Megatron's rampup calculator requires it
    assert samples > 0
    argv = megatron_argv(plan)
    i = argv.index("--rampup-batch-size")
    assert argv[i + 1:i + 4] == [str(start), str(increment), str(samples)]
    assert "--rampup-batch-size" not in megatron_argv(default_plan)


def test_the_training_loop_refuses_a_ramped_batch_with_the_field_and_the_way_out(tmp_path):
    plan = derive_plan(resolve(goals_with(batch_rampup=True), load_catalog()))
    path = tmp_path / "plan.yaml"
    write_model(plan, path)
    with pytest.raises(PlanInputError) as err:
        run(TrainArgs(plan_path=path, data_dir=tmp_path, out_dir=tmp_path / "out"))
    text = str(err.value)
    assert "recipe.batch_size_rampup" in text and "goals.training.batch_rampup" in text
    assert not (tmp_path / "out").exists()  # refused before anything was written


def test_slower_checkpoint_storage_lengthens_the_interval_by_youngs_square_root(default_plan):
    plan = derive_plan(resolve(goals_with(checkpoint_storage="nfs"), load_catalog()))
    fast, slow = default_plan.reliability, plan.reliability
    nfs = load_catalog().reliability.storage["nfs"]
    nodes = math.ceil(plan.estimate.num_gpus / plan.goals.gpus_per_node)
    bandwidth = min(nfs.aggregate_bytes_per_s, nodes * nfs.per_node_bytes_per_s)
    assert slow.storage == "nfs" and slow.checkpoint_write_s == pytest.approx(slow.checkpoint_bytes / bandwidth)
    # Young: tau = sqrt(2 delta M); the job's MTTI is unchanged, so the interval scales as sqrt(delta).
    assert slow.young_interval_s / fast.young_interval_s == pytest.approx(
        math.sqrt(slow.checkpoint_write_s / fast.checkpoint_write_s), rel=1e-6)
    assert slow.checkpoint_interval_steps > fast.checkpoint_interval_steps and slow.goodput < fast.goodput


def test_a_given_failure_rate_overrides_the_preset_and_scales_the_interruptions(default_plan):
    rate = 4 * default_plan.reliability.failures_per_gpu_hour
    plan = derive_plan(resolve(goals_with(failures_per_gpu_hour=rate), load_catalog()))
    r = plan.reliability
    assert r.failures_per_gpu_hour == rate and "given in the goals" in r.sources[0]
    assert r.job_mtti_hours == pytest.approx(default_plan.reliability.job_mtti_hours / 4)
    # More interruptions, in proportion to the (slightly longer) wall time over the MTTI.
    assert r.expected_interruptions == pytest.approx(
        r.adjusted_wallclock_days * 24 / r.job_mtti_hours, rel=1e-6)
    assert r.expected_interruptions > 3.9 * default_plan.reliability.expected_interruptions
    assert derive_plan(resolve(goals_with(failure_model="llama3-h100-pessimistic"), load_catalog())).reliability.failures_per_gpu_hour == \
        pytest.approx(2 * default_plan.reliability.failures_per_gpu_hour)


@pytest.mark.parametrize("training,needle", [
    ({"checkpoint_storage": "tape"}, "goals.training.checkpoint_storage: 'tape' is not a preset; choose one of"),
    ({"failure_model": "cosmic-rays"}, "goals.training.failure_model: 'cosmic-rays' is not a preset"),
])
def test_an_unknown_preset_names_the_field_and_the_choices(training, needle):
    with pytest.raises(PlanInputError, match=needle):
        derive_plan(resolve(goals_with(**training), load_catalog()))


def test_plan_flags_write_the_training_goals_and_bad_values_exit_2(capsys, tmp_path):
    out = tmp_path / "plan.yaml"
    assert main(["plan", "--lr-schedule", "wsd", "--checkpoint-storage", "nfs", "-o", str(out)]) == 0
    written = yaml.safe_load(out.read_text(encoding="utf-8"))
    assert written["goals"]["training"]["lr_schedule"] == "wsd"
    assert written["goals"]["budget_usd"] == 500_000  # training flags alone start from the default preset
    assert written["recipe"]["lr_decay_style"] == "wsd" and written["reliability"]["storage"] == "nfs"
    capsys.readouterr()
    assert main(["plan", "--failures-per-gpu-hour", "-1"]) == 2
    err = capsys.readouterr().err
    assert "training.failures_per_gpu_hour: Input should be greater than 0 (got -1.0)" in err
