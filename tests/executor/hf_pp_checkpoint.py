"""Under torchrun with 2 CPU processes: the tiny plan's freshly initialised model at PP=2 (one stage
per rank), saved as a megatron-core torch_dist checkpoint with the trainer's pointer and meta files.

The CPU trainer refuses pipeline parallelism (its forward/backward loop has no pipeline schedule),
but building and saving a PP=2 model works; the initialisation is layout-independent
(`init_layout_invariant`), so the checkpoint holds the same function as a TP=1 model of that seed.
Usage: torchrun --nproc_per_node=2 tests/executor/hf_pp_checkpoint.py PLAN DATA_DIR RUN_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch.distributed as dist
from megatron.core import dist_checkpointing, parallel_state
from megatron.core.tensor_parallel.random import model_parallel_cuda_manual_seed

from executor.train import checkpoint, cpu_compat
from executor.train.data import read_tokenizer_meta
from executor.train.model import build_model
from planner.io import read_plan


def main(plan_path: Path, data_dir: Path, run_dir: Path) -> None:
    plan = read_plan(plan_path)
    cpu_compat.install_cpu_shim()
    dist.init_process_group("gloo")
    lay = plan.layout.layout
    parallel_state.initialize_model_parallel(lay.tensor_model_parallel_size, lay.pipeline_model_parallel_size)
    model_parallel_cuda_manual_seed(plan.recipe.seed)
    tok = read_tokenizer_meta(data_dir, plan.data.tokenizer.eod_token)
    model = build_model(plan, tok.vocab_size, on_gpu=False)
    root, rank0 = run_dir / "checkpoints", dist.get_rank() == 0
    target = checkpoint.iteration_dir(root, 0)
    if rank0:
        target.mkdir(parents=True)
        checkpoint.write_meta(root, plan_path, tok)
    dist.barrier()
    dist_checkpointing.save({"model": model.sharded_state_dict(prefix="")}, str(target),
                            sharded_strategy=cpu_compat.sync_save_strategy())
    dist.barrier()
    if rank0:
        (root / checkpoint.LATEST).write_text(json.dumps({"iteration": 0, "dir": target.name}) + "\n")
    dist.destroy_process_group()


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:4]))
