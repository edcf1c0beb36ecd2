"""`llmplan import-model HF_DIR --plan PLAN -o RUN_DIR`: a Transformers Llama directory as a
megatron-core checkpoint that `llmplan train PLAN --out RUN_DIR` continues from.

Checks, before anything is written (each a `PlanInputError`, exit 2): the config is a Llama-family
model of exactly the plan's shape (`hfconfig.check_against_plan`), `tokenizer.json` is there, and
every tensor has the shape the plan implies. The tensors are then converted to a TP=1 `GPTModel`
state dict (`convert.hf_to_megatron`, vocabulary padded to a multiple of 128 x the plan's TP, zero
rows) and saved by megatron-core `dist_checkpointing` (torch_dist, global coordinates, so the plan's
TP/PP loads it) as RUN_DIR/checkpoints/iter_0000000 with a `latest` pointer marked `weights_only`:
the trainer then loads the weights and starts its optimizer, scheduler and data at step 0.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import torch

from executor.hf import hfconfig
from executor.hf.convert import expected_hf_shapes, hf_to_megatron
from executor.hf.weights import read_weights
from executor.train.checkpoint import LATEST, MEGATRON_LATEST, _init_single_process, iteration_dir
from executor.train.cpu_compat import sync_save_strategy
from executor.train.model import build_model
from planner.compute.memory import padded_vocab_size
from planner.errors import PlanInputError
from planner.io import atomic_write_text, read_plan


@dataclass(frozen=True)
class Imported:
    checkpoint_dir: Path
    padded_vocab_rows: int
    num_tensors: int


def _check_tensors(tensors: dict, shape, source: str) -> None:
    want = expected_hf_shapes(shape)
    lines = [f"{name}: shape {tuple(tensors[name].shape)}, the plan implies {dims}"
             for name, dims in want.items() if name in tensors and tuple(tensors[name].shape) != dims]
    lines += [f"{name}: missing (the plan implies {dims})" for name, dims in want.items() if name not in tensors]
    extra = sorted(set(tensors) - set(want) - {"lm_head.weight"})
    lines += [f"{name}: not part of a Llama model of the plan's shape" for name in extra[:10]]
    if lines:
        raise PlanInputError("the weights do not match the plan's model", lines, source)


def _tokenizer(hf_dir: Path, plan) -> tuple[int, int]:
    """(vocabulary size, end-of-document id) of HF_DIR/tokenizer.json."""
    from tokenizers import Tokenizer  # deferred: tokenizers (Rust extension) only where a tokenizer is built or read

    path = hf_dir / "tokenizer.json"
    if not path.is_file():
        raise PlanInputError(f"{hf_dir}: no tokenizer", [
            f"tokenizer: {path} is missing; llmplan trains with a `tokenizers` tokenizer.json "
            "(save one with AutoTokenizer.from_pretrained(...).save_pretrained(HF_DIR))"])
    tok = Tokenizer.from_file(str(path))
    eod = tok.token_to_id(plan.data.tokenizer.eod_token)
    config = json.loads((hf_dir / "config.json").read_text(encoding="utf-8"))
    eod = eod if eod is not None else config.get("eos_token_id")
    if not isinstance(eod, int):
        raise PlanInputError(f"{path}: no end-of-document token", [
            f"data.tokenizer.eod_token: {plan.data.tokenizer.eod_token!r} is not in the tokenizer and config.json "
            "has no integer eos_token_id; set eod_token to the model's end-of-text token"])
    return tok.get_vocab_size(with_added_tokens=True), eod


def read_config(hf_dir: Path) -> dict:
    path = hf_dir / "config.json"
    if not path.is_file():
        raise PlanInputError(f"{hf_dir}: not a Hugging Face model directory", [f"HF_DIR: {path} is missing"])
    return json.loads(path.read_text(encoding="utf-8"))


IMPORTED = "imported_from.json"  # beside the checkpoints; the trainer leaves it, the export's model card reads it


def import_hf(hf_dir: str | Path, plan_path: str | Path, out_dir: str | Path,
              tokens_seen: float | None = None) -> Imported:
    """`tokens_seen`: tokens the model was trained on before (its card's figure), for the model card."""
    hf_dir, out_dir = Path(hf_dir), Path(out_dir)
    plan = read_plan(plan_path)
    if plan.layout is None:
        raise PlanInputError(f"{plan_path}: the plan has no layout", ["layout: derive one with `llmplan plan`"])
    shape = hfconfig.check_against_plan(read_config(hf_dir), plan, str(hf_dir / "config.json"))
    vocab, eod = _tokenizer(hf_dir, plan)
    if vocab > shape.vocab_size:
        raise PlanInputError("the tokenizer is larger than the model's vocabulary", [
            f"tokenizer.json: {vocab} tokens > config.json vocab_size {shape.vocab_size}"], str(hf_dir))
    tensors = read_weights(hf_dir)
    if shape.tied_embeddings:
        tensors.pop("lm_head.weight", None)  # some exports write the tied head too
    _check_tensors(tensors, shape, str(hf_dir))
    root = out_dir / "checkpoints"
    if root.exists() and any(root.iterdir()):
        raise PlanInputError(f"-o: {root} exists and is not empty", [
            "-o: name a new run directory (import writes RUN_DIR/checkpoints, which `llmplan train` resumes)"])
    rows = padded_vocab_size(shape.vocab_size, plan.layout.layout.tensor_model_parallel_size)
    state = hf_to_megatron(tensors, shape, rows)
    root.mkdir(parents=True, exist_ok=True)
    _save(plan, Path(plan_path), state, rows, root)
    shutil.copyfile(hf_dir / "tokenizer.json", root / "tokenizer.json")
    meta = {"plan": "plan.yaml", "tokenizer_path": "tokenizer.json", "vocab_size": vocab, "eod": eod,
            "imported_from": str(hf_dir.resolve())}
    (root / "train_meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if tokens_seen is None and plan.goals.continue_from is not None:  # a plan from `plan --continue-from`
        tokens_seen = plan.goals.continue_from.tokens_seen
    origin = {"hf_dir": str(hf_dir.resolve()), "tokens_seen": tokens_seen}
    (root / IMPORTED).write_text(json.dumps(origin, indent=2) + "\n", encoding="utf-8")

    atomic_write_text(root / MEGATRON_LATEST, "0\n")
    atomic_write_text(root / LATEST, json.dumps({"iteration": 0, "dir": "iter_0000000", "weights_only": True}) + "\n")
    return Imported(root, rows, len(state))


def _save(plan, plan_path: Path, state: dict, rows: int, root: Path) -> None:
    """Load `state` into a TP=1 `GPTModel` built by the trainer's `build_model` (strict: every key
    and shape) and save its sharded state dict as iter_0000000."""
    from megatron.core import dist_checkpointing  # deferred: megatron-core takes seconds to import

    _init_single_process()
    model = build_model(plan, rows, on_gpu=False)
    model.to(getattr(torch, hfconfig.plan_dtype_name(plan)))  # as the GPU trainer's own checkpoints hold it
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [k for k in missing if "_extra_state" not in k]
    if missing or unexpected:
        raise RuntimeError(f"conversion does not fill GPTModel: missing {missing}, unexpected {unexpected}")
    (root / "plan.yaml").write_text(plan_path.read_text(encoding="utf-8"), encoding="utf-8")
    target = iteration_dir(root, 0)
    target.mkdir(parents=True)
    dist_checkpointing.save({"model": model.sharded_state_dict(prefix="")}, str(target),
                            sharded_strategy=sync_save_strategy())
