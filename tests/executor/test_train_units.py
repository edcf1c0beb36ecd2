"""Fast checks of the trainer's pieces (no torchrun): sampling, splits, vocab padding, refusals,
the LR schedule from the plan, MFU arithmetic, the torchrun command line, the CLI's bad input."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from test_train_support import ROOT, TINY_PLAN, plan_variant, test_env

from executor.train import data, metrics
from executor.train.launch import torchrun_argv
from planner.errors import PlanInputError
from planner.io import read_plan


def test_microbatches_cover_each_global_batch_once_in_megatron_sampler_order():
    """MegatronPretrainingSampler: step k uses [kG, (k+1)G); micro m of DP rank r: kG + m*b*d + r*b."""
    seen = []
    for micro in range(2):
        for rank in range(2):
            seen += list(data.microbatch_indices(3, micro, global_batch=16, micro_batch=4, dp_size=2, dp_rank=rank))
    assert sorted(seen) == list(range(48, 64))
    assert list(data.microbatch_indices(3, 1, global_batch=16, micro_batch=4, dp_size=2, dp_rank=1)) == [60, 61, 62, 63]


def test_validation_split_always_gets_at_least_one_document():
    train, valid, test = (float(x) for x in data.split_string(0.01, 20).split(","))
    assert round(valid * 20) >= 1 and test == 0 and train + valid == pytest.approx(1.0)
    assert data.split_string(0.1, 10_000) == "0.900000,0.100000,0"


def test_padded_vocab_is_megatrons_multiple_of_128_times_tp():
    from executor.train.model import padded_vocab_size

    assert padded_vocab_size(2594, 2) == 2816  # 11 x 256
    assert padded_vocab_size(4096, 2) == 4096
    assert padded_vocab_size(50257, 8) == 51200  # GPT-2 vocab at TP=8, as Megatron-LM pads it


@pytest.mark.parametrize("field,value", [("pipeline_model_parallel_size", 2), ("context_parallel_size", 2)])
def test_pipeline_or_context_parallel_on_cpu_is_refused_naming_the_field(field, value):
    from executor.train.cpu_compat import refuse_unsupported_on_cpu

    layout = read_plan(TINY_PLAN).layout.layout.model_copy(update={field: value})
    with pytest.raises(PlanInputError, match=rf"{field} \({value}\) must be 1 without a GPU"):
        refuse_unsupported_on_cpu(layout)


def test_scheduler_built_from_the_plan_warms_up_linearly_then_decays_to_min_lr():
    import torch

    from executor.train.loop import build_scheduler

    plan = read_plan(TINY_PLAN)
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(2))], lr=1.0)
    sched = build_scheduler(plan, opt)
    lrs = []
    for _ in range(plan.recipe.train_steps + 1):
        lrs.append(opt.param_groups[0]["lr"])
        sched.step(1)
    r = plan.recipe
    assert lrs[r.warmup_steps // 2] == pytest.approx(r.lr / 2)
    assert lrs[r.warmup_steps] == pytest.approx(r.lr)
    assert lrs[r.train_steps] == pytest.approx(r.min_lr)
    assert opt.param_groups[0]["weight_decay"] == pytest.approx(r.weight_decay)


def test_mfu_against_the_plans_own_accounting_is_1_at_the_plans_predicted_throughput():
    est = read_plan(TINY_PLAN).estimate
    assert metrics.measured_mfu(est.tokens_per_s, est, est.num_gpus) == pytest.approx(est.mfu)
    assert metrics.measured_mfu(2 * est.tokens_per_s, est, est.num_gpus) == pytest.approx(2 * est.mfu)


def test_torchrun_command_line_for_the_tiny_plan(tmp_path):
    argv = torchrun_argv(2, TINY_PLAN, tmp_path / "data", tmp_path / "run", max_steps=10)
    assert argv[1:] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                        "-m", "executor.train", str(TINY_PLAN), "--data", str(tmp_path / "data"),
                        "--out", str(tmp_path / "run"), "--resume", "--max-steps", "10"]


def test_tokenizer_meta_names_the_missing_tokenizer(tmp_path):
    with pytest.raises(PlanInputError, match="no tokenizer.json; run `llmplan prepare` first"):
        data.read_tokenizer_meta(tmp_path)


def test_train_command_without_prepared_data_exits_2_with_one_message(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "train", str(TINY_PLAN), "--data", str(tmp_path),
                           "--out", str(tmp_path / "run")], cwd=ROOT, env=test_env(), capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a prepared data directory (no tokenizer.json)" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_plan_variant_changes_only_the_named_field(tmp_path):
    path = plan_variant(tmp_path, layout__layout__data_parallel_size=2)
    changed, original = yaml.safe_load(path.read_text()), yaml.safe_load(TINY_PLAN.read_text())
    assert changed["layout"]["layout"]["data_parallel_size"] == 2
    changed["layout"]["layout"]["data_parallel_size"] = original["layout"]["layout"]["data_parallel_size"]
    assert changed == original


def test_sequence_parallel_without_transformer_engine_is_refused_naming_the_field():
    """megatron-core's local layer spec asserts 'sequence parallel not supported by torch LayerNorm'."""
    from types import SimpleNamespace

    from executor.train.model import _check_sequence_parallel, transformer_engine_available

    if transformer_engine_available():
        pytest.skip("Transformer Engine is installed here: sequence parallelism is supported")
    with pytest.raises(PlanInputError, match=r"sequence_parallel \(true\) needs Transformer Engine"):
        _check_sequence_parallel(SimpleNamespace(sequence_parallel=True))
    _check_sequence_parallel(SimpleNamespace(sequence_parallel=False))
