"""`llmplan layout` and `llmplan export --format megatron-args` (JSON contract of ARCHITECTURE.md)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.planner.plan_helpers import derive_preset
from planner.io import write_model
from planner.training.megatron_args import megatron_argv
from planner.compute.layout import validate_plan_layout
from tui.cli import main

ENTRY_KEYS = {
    "tensor_model_parallel_size", "pipeline_model_parallel_size", "virtual_pipeline_model_parallel_size",
    "context_parallel_size", "data_parallel_size", "micro_batch_size", "recompute", "memory_per_gpu_bytes",
    "step_time_s", "tokens_per_s", "mfu",
}


def _run_json(capsys, *args) -> dict:
    assert main(["layout", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_layout_json_has_best_alternatives_with_megatron_names_and_rejected_counts(capsys):
    out = _run_json(capsys, "--model", "Llama-2-70B", "--gpu", "A100-80GB", "--gpus", "2048",
                    "--seq-len", "4096", "--global-batch-tokens", "4194304", "--top", "3")
    assert ENTRY_KEYS <= set(out["best"])
    assert len(out["alternatives"]) == 3
    assert all(ENTRY_KEYS | {"why_lost"} <= set(alt) for alt in out["alternatives"])
    components = out["best"]["memory_components"]
    assert sum(components.values()) == pytest.approx(out["best"]["memory_per_gpu_bytes"])
    assert out["global_batch_size"] == 1024
    assert out["rejected"] and all(isinstance(v, int) for v in out["rejected"].values())
    assert out["best"]["tensor_model_parallel_size"] * out["best"]["pipeline_model_parallel_size"] * \
        out["best"]["context_parallel_size"] * out["best"]["data_parallel_size"] == 2048


def test_layout_from_a_parameter_count_derives_a_shape(capsys):
    out = _run_json(capsys, "--params", "7B", "--gpu", "H100", "--gpus", "64", "--seq-len", "4096")
    assert 6.8e9 < out["model"]["num_params"] < 7.2e9
    assert out["best"]["mfu"] > 0


@pytest.mark.parametrize("args,needle", [
    (["--model", "Llama-2-70B", "--gpu", "Z100", "--gpus", "8"], "--gpu: unknown GPU 'Z100'"),
    (["--gpu", "H100", "--gpus", "8"], "exactly one of --params and --model"),
    (["--model", "Llama-2-70B", "--gpu", "H100", "--gpus", "8", "--global-batch-tokens", "100"],
     "--global-batch-tokens: 100 tokens is shorter than one sequence of 4096 tokens"),
    (["--model", "Llama-2-70B", "--gpu", "A100-80GB", "--gpus", "8", "--global-batch-tokens", "262144"],
     "GiB more than the"),
])
def test_bad_layout_input_exits_2_with_one_clear_message(capsys, args, needle):
    assert main(["layout", *args]) == 2
    err = capsys.readouterr().err
    assert needle in err
    assert "Traceback" not in err


@pytest.mark.parametrize("batch", ["4M", "4e6", "4194304"])
def test_a_4m_token_batch_is_1024_sequences_and_a_wide_data_parallel_layout(capsys, batch):
    """Issue 12: "4M tokens" in a paper is 1,024 x 4,096; the awkward 977 gave DP=1 at 7% MFU."""
    out = _run_json(capsys, "--params", "70e9", "--gpu", "A100-80GB", "--gpus", "2048", "--seq-len", "4096",
                    "--global-batch-tokens", batch)
    assert out["global_batch_size"] == 1024 and out["global_batch_tokens"] == 1024 * 4096
    assert out["best"]["data_parallel_size"] >= 16 and out["best"]["mfu"] >= 0.40


def test_the_405b_16m_batch_on_16384_h100_gets_tp8_pp8_dp8_or_more(capsys):
    out = _run_json(capsys, "--model", "Llama-3-405B", "--gpu", "H100", "--gpus", "16384", "--seq-len", "8192",
                    "--global-batch-tokens", "16M")
    best = out["best"]
    assert out["global_batch_size"] == 2048
    assert best["tensor_model_parallel_size"] == 8 and best["pipeline_model_parallel_size"] >= 8
    assert best["data_parallel_size"] >= 8


def test_a_pinned_layout_is_evaluated_as_given_with_its_step_time(capsys):
    """Megatron-Bridge measured 1,602 tokens/s/GPU for this Llama 3 70B fp8 layout on 64 H100s
    (performance-summary.md, NeMo 25.11); llmplan times exactly that layout."""
    out = _run_json(capsys, "--model", "Llama-3-70B", "--gpu", "H100", "--gpus", "64", "--seq-len", "8192",
                    "--precision", "fp8", "--tp", "4", "--pp", "8", "--vpp", "5", "--cp", "1", "--mbs", "1",
                    "--global-batch-size", "128")
    best = out["best"]
    assert (best["tensor_model_parallel_size"], best["pipeline_model_parallel_size"],
            best["virtual_pipeline_model_parallel_size"], best["context_parallel_size"],
            best["data_parallel_size"], best["micro_batch_size"], best["global_batch_size"]) == (4, 8, 5, 1, 2, 1, 128)
    assert best["step_time_s"] > 0 and set(best["memory_components"]) >= {"weights_bytes", "activations_bytes"}
    lo, hi = best["tokens_per_s_p10_p90"]
    assert lo / 64 <= 1602 <= hi / 64  # the measured figure is inside the step-time model's out-of-sample range


def test_a_pinned_size_that_breaks_a_rule_exits_2_naming_it(capsys):
    code = main(["layout", "--model", "Llama-3-70B", "--gpu", "H100", "--gpus", "64", "--seq-len", "8192",
                 "--tp", "3", "--pp", "8"])
    err = capsys.readouterr().err
    assert code == 2
    assert "--tp: tensor_model_parallel_size (3) must divide num_attention_heads (64); try 1, 2, 4 or 8" in err
    assert "Traceback" not in err


def test_layout_text_output_runs_as_a_real_program():
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "layout", "--model", "Llama-3-8B", "--gpu", "H100",
                           "--gpus", "16", "--top", "2"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "best" in proc.stdout and "rejected:" in proc.stdout


@pytest.fixture(scope="module")
def default_plan():
    return derive_preset("default")


def test_megatron_args_carry_the_plans_layout_shape_and_schedule(default_plan):
    argv = megatron_argv(default_plan)
    lay = default_plan.layout.layout

    def value(flag):
        return argv[argv.index(flag) + 1]

    assert int(value("--tensor-model-parallel-size")) == lay.tensor_model_parallel_size
    assert int(value("--pipeline-model-parallel-size")) == lay.pipeline_model_parallel_size
    assert int(value("--global-batch-size")) == lay.global_batch_size
    assert int(value("--micro-batch-size")) == lay.micro_batch_size
    assert int(value("--num-layers")) == default_plan.model.num_layers
    assert int(value("--train-iters")) == default_plan.recipe.train_steps
    assert float(value("--lr")) == pytest.approx(default_plan.recipe.lr)
    assert ("--bf16" in argv) == (default_plan.recipe.precision in ("bf16", "fp8"))
    assert ("--sequence-parallel" in argv) == lay.sequence_parallel


def test_megatron_args_for_interleaved_and_uneven_llama3_split(default_plan):
    layout = default_plan.layout.layout.model_copy(update={
        "tensor_model_parallel_size": 8, "pipeline_model_parallel_size": 16,
        "virtual_pipeline_model_parallel_size": 8, "recompute": "full"})
    model = default_plan.model.model_copy(update={"num_layers": 126})
    plan = default_plan.model_copy(update={"model": model, "layout": default_plan.layout.model_copy(
        update={"layout": layout.model_copy(update={"num_layers_in_first_pipeline_stage": 7,
                                                    "num_layers_in_last_pipeline_stage": 7})})})
    argv = megatron_argv(plan)
    assert "--account-for-embedding-in-pipeline-split" in argv and "--account-for-loss-in-pipeline-split" in argv
    assert argv[argv.index("--num-virtual-stages-per-pipeline-rank") + 1] == "8"
    assert argv[argv.index("--recompute-granularity") + 1] == "full"
    even = plan.model_copy(update={"model": model.model_copy(update={"num_layers": 128}),
                                   "layout": default_plan.layout.model_copy(update={"layout": layout})})
    argv = megatron_argv(even)
    assert argv[argv.index("--num-layers-per-virtual-pipeline-stage") + 1] == "1"


def test_export_megatron_args_prints_pretrain_gpt_arguments(tmp_path, capsys, default_plan):
    path = tmp_path / "plan.yaml"
    write_model(default_plan, path)
    assert main(["export", str(path), "--format", "megatron-args"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[3] == "pretrain_gpt.py \\"
    assert "--tensor-model-parallel-size" in out and "--use-distributed-optimizer" in out


def _with_layout(plan, **update):
    layout = plan.layout.layout.model_copy(update=update)
    return plan.model_copy(update={"layout": plan.layout.model_copy(update={"layout": layout})})


def test_a_derived_plan_has_a_valid_layout(default_plan):
    assert validate_plan_layout(default_plan) == []


@pytest.mark.parametrize("update,needle", [
    (dict(tensor_model_parallel_size=3), "tensor_model_parallel_size (3) must divide num_attention_heads"),
    (dict(tensor_model_parallel_size=3), "must divide gpus_per_node (8)"),
    (dict(data_parallel_size=3), "parallel sizes = "),
    (dict(micro_batch_size=7), "must divide global_batch_size"),
    (dict(context_parallel_size=3), "2 x context_parallel_size (6) must divide seq_length"),
    (dict(pipeline_model_parallel_size=7), "pipeline_model_parallel_size (7) must divide num_layers"),
    (dict(virtual_pipeline_model_parallel_size=7), "virtual stages"),
])
def test_each_broken_layout_rule_is_named_with_its_numbers(default_plan, update, needle):
    problems = validate_plan_layout(_with_layout(default_plan, **update))
    assert any(needle in p for p in problems), problems


def test_heads_rule_suggests_the_nearest_valid_values(default_plan):
    model = default_plan.model.model_copy(update={"num_attention_heads": 12, "num_query_groups": 12,
                                                  "hidden_size": 12 * 128})
    plan = _with_layout(default_plan.model_copy(update={"model": model}), tensor_model_parallel_size=8)
    problems = validate_plan_layout(plan)
    assert any("tensor_model_parallel_size (8) must divide num_attention_heads (12); try 1, 2, 3, 4, 6 or 12" in p
               for p in problems), problems


def test_a_layout_that_does_not_fit_says_by_how_much(default_plan):
    plan = _with_layout(default_plan, recompute="none", micro_batch_size=default_plan.layout.layout.micro_batch_size)
    small = plan.model_copy(update={"layout": plan.layout.model_copy(
        update={"memory": plan.layout.memory.model_copy(update={"capacity_bytes": 4 * 1024**3})})})
    problems = validate_plan_layout(small)
    assert len(problems) == 1 and problems[0].startswith("layout.memory: the layout needs")
    assert "GiB more than the" in problems[0] and "recompute full" in problems[0]


def test_llmplan_validate_names_a_broken_layout_rule_and_exits_2(tmp_path, capsys, default_plan):
    path = tmp_path / "bad.yaml"
    write_model(_with_layout(default_plan, tensor_model_parallel_size=3), path)
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "tensor_model_parallel_size (3) must divide num_attention_heads" in err
    assert "try 1, 2, 4" in err
