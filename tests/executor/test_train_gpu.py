"""The trainer through Megatron's own GPU path (marker `gpu`; skipped without CUDA).

A ~125M-parameter plan derived by the planner for the GPUs present (pinned to exercise Megatron
DDP, the distributed optimizer, bf16 and selective recompute) trains 30 steps under torchrun,
saves a dist_checkpointing checkpoint, and resumes from it for 2 more steps. Measured tokens/s,
MFU and peak memory are printed against the planner's predictions for the same layout. With more
than one GPU, TP, PP with virtual stages and DP combinations that fit the GPU count run too.
Run with `scripts/gpu_check.sh` (prints the figures) or `pytest -m gpu -s`.
"""

from __future__ import annotations

import json
import statistics

import pytest
from test_train_support import prepared_data, read_metrics, run_train  # noqa: F401 - fixture

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.slow,
    pytest.mark.skipif(not torch.cuda.is_available(),
                       reason="no CUDA device: Megatron DDP, the distributed optimizer, bf16 and the "
                              "pipeline schedules need an NVIDIA GPU (scripts/gpu_check.sh)"),
]
NUM_GPUS = torch.cuda.device_count() if torch.cuda.is_available() else 0
GPU_MEMORY_BYTES = torch.cuda.get_device_properties(0).total_memory if NUM_GPUS else 0
STEPS = 30


def gpu_plan(tmp_path, *, tp=1, pp=1, vpp=1, dp=None, target_params=1.25e8):
    """A planner-derived plan for this machine's GPUs, pinned to the layout under test."""
    from executor.train.model import transformer_engine_available
    from planner.derive import derive_plan
    from planner.resolve import resolve
    from presets import load_catalog
    from planner.io import read_plan, write_model
    from test_train_support import TINY_PLAN

    gpu_name = torch.cuda.get_device_name(0)
    gpu = "H200" if "H200" in gpu_name else "H100" if "H100" in gpu_name else "A100"
    num = tp * pp * (dp or 1)
    goals = read_plan(TINY_PLAN).goals.model_copy(update={
        "target_params": target_params, "target_tokens": 20 * target_params, "seq_len": 1024,
        "gpu": gpu, "num_gpus": num, "gpus_per_node": num, "unique_tokens_available": None,
    })
    pins = {"reason": "gpu check: exercise Megatron's GPU components",
            "layout": {"tensor_model_parallel_size": tp, "pipeline_model_parallel_size": pp,
                       "virtual_pipeline_model_parallel_size": vpp, "data_parallel_size": dp or 1,
                       "recompute": "selective", "use_distributed_optimizer": True,
                       "sequence_parallel": tp > 1 and transformer_engine_available()},
            "recipe": {"eval_interval_steps": STEPS, "eval_iters": 2},
            "reliability": {"checkpoint_interval_steps": STEPS}}
    plan = derive_plan(resolve(goals, load_catalog()), pins=pins)
    path = tmp_path / "plan.yaml"
    write_model(plan, path)
    return path, plan


def _report(name, plan, out, vocab_size):
    from planner.compute.memory import per_rank_memory

    metrics = [m for m in read_metrics(out) if m["step"] > 5]
    model = plan.model.model_copy(update={"vocab_size": max(vocab_size, plan.model.vocab_size)})
    mem = per_rank_memory(model, plan.layout.layout, precision=plan.recipe.precision)
    figures = {
        "check": name, "gpu": torch.cuda.get_device_name(0), "params": plan.model.num_params,
        "tokens_per_s": statistics.median(m["tokens_per_s"] for m in metrics),
        "predicted_tokens_per_s": plan.layout.tokens_per_s,
        "mfu": statistics.median(m["mfu"] for m in metrics), "predicted_mfu": plan.layout.mfu,
        "peak_memory_bytes": max(m["memory_bytes"] for m in metrics),
        "predicted_memory_bytes": mem.total_bytes - mem.overhead_bytes,
        "final_loss": metrics[-1]["loss"],
    }
    print("GPU_CHECK " + json.dumps(figures), flush=True)
    return figures


def _train_save_resume(tmp_path, data, nproc, name, **layout):
    import math

    from executor.train.data import read_tokenizer_meta

    plan_path, plan = gpu_plan(tmp_path, **layout)
    out = tmp_path / "run"
    run_train(nproc, plan_path, data, out, "--max-steps", str(STEPS), timeout_s=900)
    assert (out / "checkpoints" / f"iter_{STEPS:07d}" / "metadata.json").is_file()
    run_train(nproc, plan_path, data, out, "--max-steps", str(STEPS + 2), timeout_s=900)
    steps = [m["step"] for m in read_metrics(out)]
    assert steps == list(range(1, STEPS + 3))  # resumed from the checkpoint, nothing repeated
    figures = _report(name, plan, out, read_tokenizer_meta(data).vocab_size)
    assert math.isfinite(figures["final_loss"]) and figures["final_loss"] < read_metrics(out)[0]["loss"]
    return figures


def test_125m_model_trains_through_megatron_ddp_distributed_optimizer_bf16_and_resumes(prepared_data, tmp_path):
    _train_save_resume(tmp_path, prepared_data, NUM_GPUS, "125M dp", dp=NUM_GPUS)


@pytest.mark.skipif(NUM_GPUS < 2, reason="needs 2+ GPUs for TP/PP/DP combinations")
@pytest.mark.parametrize("layout", [
    {"tp": 2, "dp": max(NUM_GPUS // 2, 1)},
    {"pp": 2, "vpp": 2, "dp": max(NUM_GPUS // 2, 1)},
    {"tp": 2, "pp": 2, "dp": max(NUM_GPUS // 4, 1)},
], ids=["tp2", "pp2-vpp2", "tp2-pp2"])
def test_parallel_layouts_train_and_resume_on_several_gpus(prepared_data, tmp_path, layout):
    nproc = layout.get("tp", 1) * layout.get("pp", 1) * layout["dp"]
    if nproc > NUM_GPUS:
        pytest.skip(f"layout needs {nproc} GPUs, {NUM_GPUS} present")
    _train_save_resume(tmp_path, prepared_data, nproc, "-".join(f"{k}{v}" for k, v in layout.items()), **layout)


@pytest.mark.skipif(GPU_MEMORY_BYTES < 70e9, reason="the ~1B check needs a GPU with 70+ GB")
def test_1b_model_trains_and_resumes_where_memory_allows(prepared_data, tmp_path):
    from planner.errors import PlanInputError

    try:
        _train_save_resume(tmp_path, prepared_data, NUM_GPUS, "1B dp", dp=NUM_GPUS, target_params=1.0e9)
    except PlanInputError as exc:
        pytest.skip(f"the planner finds no pinned layout for 1B here: {exc}")
