"""Bytes the model, its gradients and its optimizer actually hold on each rank, against the planner.

`torchrun --nproc_per_node=N -m executor.train.footprint PLAN --data DIR` builds the job exactly as
training does, runs one optimizer step on real data (so gradients and Adam moments exist), counts
tensor bytes per rank and prints one JSON object (rank 0) with every rank's measured bytes and
planner.compute.memory's prediction for the same rank (`per_rank_parameter_count`, `per_rank_memory`),
using the vocabulary the model really has (`model.model_vocab_size`: the larger of the tokenizer's
and the plan's, padded as Megatron does).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch.distributed as dist

from executor.train import data
from executor.train.loop import build_engine, init_parallel, micro_batches
from planner.compute.memory import per_rank_memory, per_rank_parameter_count
from planner.io import read_plan


def measured_bytes(engine) -> dict:
    """Tensor bytes of parameters, gradients and optimizer moments on this rank (CPU engine)."""
    params = [p for chunk in engine.chunks for p in chunk.parameters()]
    state = engine.optimizer.optimizer.state
    moments = [t for p in params for k, t in state.get(p, {}).items() if k != "step"]
    counters = [t for p in params for k, t in state.get(p, {}).items() if k == "step"]
    return {
        "num_parameters": sum(p.numel() for p in params),
        "weights_bytes": sum(p.numel() * p.element_size() for p in params),
        "gradients_bytes": sum(p.grad.numel() * p.grad.element_size() for p in params if p.grad is not None),
        "optimizer_bytes": sum(t.numel() * t.element_size() for t in moments),
        "optimizer_step_counter_bytes": sum(t.numel() * t.element_size() for t in counters),
    }


def predicted_bytes(plan, vocab_size: int, tp_rank: int, pp_rank: int) -> dict:
    model = plan.model.model_copy(update={"vocab_size": max(vocab_size, plan.model.vocab_size)})
    lay = plan.layout.layout
    mem = per_rank_memory(model, lay, pp_rank, precision=plan.recipe.precision)
    return {
        "num_parameters": per_rank_parameter_count(model, lay, tp_rank, pp_rank, make_vocab_size_divisible_by=128),
        "weights_bytes": mem.weights_bytes, "gradients_bytes": mem.gradients_bytes,
        "optimizer_bytes": mem.optimizer_bytes,
    }


def main(argv: list[str] | None = None) -> int:
    from megatron.core import parallel_state  # deferred: megatron-core takes seconds to import

    p = argparse.ArgumentParser(prog="python -m executor.train.footprint")
    p.add_argument("plan", type=Path)
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--cache", type=Path, default=None, help="dataset index cache (default DATA/../footprint_cache)")
    a = p.parse_args(argv)
    plan = read_plan(a.plan)
    on_gpu = init_parallel(plan)
    if on_gpu:
        raise SystemExit("footprint counts CPU-engine tensors; on GPU see scripts/gpu_check.sh")
    tok = data.read_tokenizer_meta(a.data, plan.data.tokenizer.eod_token)
    engine = build_engine(plan, tok.vocab_size, on_gpu)
    cache = a.cache or Path(a.data).resolve().parent / "footprint_cache"
    train, _ = data.build_datasets(plan, a.data, tok, cache, build_on_rank=lambda: True)
    engine.train_step(micro_batches(train, 0, plan))
    tp_rank = parallel_state.get_tensor_model_parallel_rank()
    pp_rank = parallel_state.get_pipeline_model_parallel_rank()
    mine = {"rank": dist.get_rank(), "tp_rank": tp_rank, "pp_rank": pp_rank,
            "measured": measured_bytes(engine), "predicted": predicted_bytes(plan, tok.vocab_size, tp_rank, pp_rank)}
    gathered = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, mine)
    if dist.get_rank() == 0:
        print("FOOTPRINT " + json.dumps({"ranks": gathered, "vocab_size": tok.vocab_size}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
