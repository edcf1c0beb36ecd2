"""Checkpoints: megatron-core `dist_checkpointing` directories with a `latest` pointer written last.

Layout (Megatron-LM's, so its tools can read them):

    OUT/checkpoints/iter_0000050/        dist_checkpointing torch_dist files (.metadata, *.distcp,
                                         common.pt, metadata.json)
    OUT/checkpoints/latest_checkpointed_iteration.txt   "50"
    OUT/checkpoints/latest                              {"iteration": 50, "dir": "iter_0000050"}
    OUT/checkpoints/train_meta.json                     plan, tokenizer path, vocab size, eod id

A checkpoint holds the model and optimizer as sharded tensors in layout-independent coordinates,
the LR scheduler, the iteration, the consumed samples and every rank's RNG states. The pointer is
replaced atomically after every rank has finished writing, so a crash mid-save leaves the previous
checkpoint current. Because the tensors are stored in global coordinates, a run trained with TP=2
loads into a TP=1 model in one process (`load_for_inference`): dist_checkpointing reshards on load.
"""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist

from executor.train.cpu_compat import install_cpu_shim
from executor.train.data import TokenizerMeta
from executor.train.model import build_model
from planner.io import atomic_write_text, read_plan

LATEST = "latest"
MEGATRON_LATEST = "latest_checkpointed_iteration.txt"
META = "train_meta.json"


def iteration_dir(root: Path, iteration: int) -> Path:
    return Path(root) / f"iter_{iteration:07d}"


def latest_iteration(root: str | Path) -> int | None:
    path = Path(root) / LATEST
    if not path.is_file():
        return None
    return int(json.loads(path.read_text(encoding="utf-8"))["iteration"])


def _rng_object(is_loading: bool):
    # deferred: megatron-core takes seconds to import
    from megatron.core.dist_checkpointing.mapping import ShardedObject
    from megatron.core.tensor_parallel.random import get_cuda_rng_tracker

    state = None if is_loading else {
        "python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state() if torch.cuda.is_available() else None,
        "tracker": get_cuda_rng_tracker().get_states(),
    }
    rank, world = dist.get_rank(), dist.get_world_size()
    return ShardedObject("rng_state", state, (world,), (rank,), replica_id=0)


def _restore_rng(state: dict) -> None:
    # deferred: megatron-core takes seconds to import
    from megatron.core.tensor_parallel.random import get_cuda_rng_tracker

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])
    get_cuda_rng_tracker().set_states(state["tracker"])


def _model_keys(chunks) -> list[str]:
    return ["model"] if len(chunks) == 1 else [f"model{i}" for i in range(len(chunks))]


def _state(chunks, optimizer, *, is_loading: bool, scheduler=None, extra: dict | None = None) -> dict:
    """Megatron-LM's checkpoint keys: model (model0, model1, ... with virtual stages), optimizer, ..."""
    state = {key: chunk.sharded_state_dict(prefix="") for key, chunk in zip(_model_keys(chunks), chunks)}
    optim_model_sd = {}
    for chunk in chunks:
        optim_model_sd.update(chunk.sharded_state_dict(prefix=""))
    state["optimizer"] = optimizer.sharded_state_dict(optim_model_sd, is_loading=is_loading)
    state["rng_state"] = _rng_object(is_loading)
    if scheduler is not None and not is_loading:
        state["scheduler"] = scheduler.state_dict()
    state.update(extra or {})
    return state


def save(root: str | Path, iteration: int, chunks, optimizer, scheduler, *, consumed_samples: int,
         strategy=None) -> Path:
    """Write iter_NNNNNNN on every rank, then (rank 0, after a barrier) move the pointers."""
    from megatron.core import dist_checkpointing  # deferred: megatron-core takes seconds to import

    root, target = Path(root), iteration_dir(Path(root), iteration)
    if dist.get_rank() == 0:
        shutil.rmtree(target, ignore_errors=True)  # a partial save of this iteration, never current
        target.mkdir(parents=True)
    dist.barrier()
    extra = {"iteration": iteration, "consumed_samples": consumed_samples}
    state = _state(chunks, optimizer, is_loading=False, scheduler=scheduler, extra=extra)
    dist_checkpointing.save(state, str(target), sharded_strategy=strategy)
    dist.barrier()
    if dist.get_rank() == 0:
        atomic_write_text(root / MEGATRON_LATEST, f"{iteration}\n")
        atomic_write_text(root / LATEST, json.dumps({"iteration": iteration, "dir": target.name}) + "\n")
    dist.barrier()
    return target


def load(root: str | Path, chunks, optimizer, scheduler) -> dict:
    """Restore the latest checkpoint in place; returns {"iteration", "consumed_samples"}."""
    from megatron.core import dist_checkpointing  # deferred: megatron-core takes seconds to import

    iteration = latest_iteration(root)
    target = iteration_dir(Path(root), iteration)
    if weights_only(root):
        return _load_weights_only(target, chunks)
    state = _state(chunks, optimizer, is_loading=True)
    loaded = dist_checkpointing.load(state, str(target))
    for key, chunk in zip(_model_keys(chunks), chunks):
        chunk.load_state_dict(loaded[key])
    optimizer.load_state_dict(loaded["optimizer"])
    scheduler.load_state_dict(loaded["scheduler"])
    _restore_rng(loaded["rng_state"])
    return {"iteration": int(loaded["iteration"]), "consumed_samples": int(loaded["consumed_samples"])}


def weights_only(root: str | Path) -> bool:
    """The `latest` pointer of an imported model (`llmplan import-model`): model weights only."""
    path = Path(root) / LATEST
    return path.is_file() and bool(json.loads(path.read_text(encoding="utf-8")).get("weights_only"))


def _load_weights_only(target: Path, chunks) -> dict:
    """Megatron-LM's `--finetune --no-load-optim --no-load-rng`: the weights, then a fresh optimizer,
    scheduler and RNG at step 0 (a model imported from Hugging Face has no training state)."""
    from megatron.core import dist_checkpointing  # deferred: megatron-core takes seconds to import

    state = {key: chunk.sharded_state_dict(prefix="") for key, chunk in zip(_model_keys(chunks), chunks)}
    loaded = dist_checkpointing.load(state, str(target))
    for key, chunk in zip(_model_keys(chunks), chunks):
        chunk.load_state_dict(loaded[key])
    return {"iteration": 0, "consumed_samples": 0}


def write_meta(root: str | Path, plan_path: str | Path, tokenizer) -> None:
    """Copy the plan and tokenizer beside the checkpoints, so they are self-contained."""
    root = Path(root)
    atomic_write_text(root / "plan.yaml", Path(plan_path).read_text(encoding="utf-8"))
    atomic_write_text(root / "tokenizer.json", Path(tokenizer.path).read_text(encoding="utf-8"))
    meta = {"plan": "plan.yaml", "tokenizer_path": "tokenizer.json",
            "vocab_size": tokenizer.vocab_size, "eod": tokenizer.eod}
    atomic_write_text(root / META, json.dumps(meta, indent=2) + "\n")


def _checkpoint_root(path: Path) -> tuple[Path, Path]:
    """(checkpoints root, iteration dir) from a run dir, a checkpoints dir or an iter_* dir."""
    path = Path(path)
    if (path / "checkpoints" / LATEST).is_file():
        path = path / "checkpoints"
    if (path / LATEST).is_file():
        return path, iteration_dir(path, latest_iteration(path))
    if path.name.startswith("iter_") and (path / "metadata.json").is_file():
        return path.parent, path
    raise FileNotFoundError(f"{path}: no checkpoint (expected checkpoints/latest or an iter_* directory)")


def _init_single_process() -> None:
    """A one-process gloo group and TP=PP=1 parallel state, unless one exists already."""
    from megatron.core import parallel_state  # deferred: megatron-core takes seconds to import

    install_cpu_shim()
    if not dist.is_initialized():
        # an in-memory store: one process needs no rendezvous port (a MASTER_PORT inherited from a
        # launcher could be taken: EADDRINUSE)
        dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    if not parallel_state.model_parallel_is_initialized():
        parallel_state.initialize_model_parallel(1, 1)


def load_for_inference(path: str | Path):
    """(model, TokenizerMeta) from a run's latest checkpoint, in this single process (TP=1).

    Works whatever TP the run trained with: the checkpoint stores global tensors and
    dist_checkpointing reshards them into this TP=1 model. The model is fp32, on CPU, in eval
    mode; `model(tokens, position_ids, attention_mask)` returns logits over the padded vocabulary
    (slice `[..., :tokenizer.vocab_size]`). attention_mask: bool [1, 1, s, s], True = masked.
    """
    # deferred: megatron-core takes seconds to import
    from megatron.core import dist_checkpointing
    from megatron.core.tensor_parallel.random import model_parallel_cuda_manual_seed

    root, target = _checkpoint_root(Path(path))
    meta = json.loads((root / META).read_text(encoding="utf-8"))
    _init_single_process()
    plan = read_plan(root / meta["plan"])
    model_parallel_cuda_manual_seed(plan.recipe.seed)
    # the rows as saved: a run at TP=2 pads to a multiple of 256, which TP=1 padding may not reach
    rows = dist_checkpointing.load_tensors_metadata(str(target))["embedding.word_embeddings.weight"].global_shape[0]
    model = build_model(plan, max(meta["vocab_size"], rows), on_gpu=False)
    loaded = dist_checkpointing.load({"model": model.sharded_state_dict(prefix="")}, str(target))
    model.load_state_dict(loaded["model"])
    model.eval()
    tokenizer = TokenizerMeta(str(root / meta["tokenizer_path"]), meta["vocab_size"], meta["eod"])
    return model, tokenizer
