"""`llmplan export-model RUN_DIR --format hf -o DIR`: a run's checkpoint as a Transformers directory.

The checkpoint is loaded by the evaluator's loader (`executor.train.checkpoint.load_for_inference`,
TP=1 in this process whatever TP/PP the run used), converted by `executor.hf.convert`, and written
to a staging directory beside OUT that is renamed into place when complete:

    config.json  generation_config.json  model.safetensors (or shards + index)
    tokenizer.json  tokenizer_config.json  special_tokens_map.json  README.md (model card)
"""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch

from executor.hf import hfconfig
from executor.hf.card import model_card
from executor.hf.convert import megatron_to_hf
from executor.hf.weights import DEFAULT_MAX_SHARD_BYTES, write_weights
from executor.train.checkpoint import LATEST, _checkpoint_root, iteration_dir, load_for_inference
from planner.errors import PlanInputError
from planner.io import read_plan


@dataclass(frozen=True)
class Exported:
    out_dir: Path
    iteration: int
    vocab_size: int
    files: list[str]


def checkpoint_path(run_dir: Path, step: int | None) -> Path:
    """RUN_DIR (latest) or RUN_DIR/checkpoints/iter_N; a missing one is bad input (exit 2)."""
    root = run_dir / "checkpoints" if (run_dir / "checkpoints").is_dir() else run_dir
    if step is None:
        if not (root / LATEST).is_file():
            raise PlanInputError(f"{run_dir}: no checkpoint to export", [
                f"RUN_DIR: {root / LATEST} does not exist; train the run first (`llmplan train` or `llmplan execute`)"])
        return root
    target = iteration_dir(root, step)
    if not (target / "metadata.json").is_file():
        found = sorted(p.name for p in root.glob("iter_*")) if root.is_dir() else []
        raise PlanInputError(f"{run_dir}: no checkpoint at step {step}", [
            f"--step: {target} does not exist; checkpoints here: {', '.join(found) or 'none'}"])
    return target


def tokenizer_files(tokenizer_json: Path, eod_id: int, max_length: int) -> dict[str, str]:
    """tokenizer.json as trained, plus the files `AutoTokenizer` reads (PreTrainedTokenizerFast with
    the run's end-of-document token as bos and eos: training conditioned documents on it)."""
    from tokenizers import Tokenizer  # deferred: tokenizers (Rust extension) only where a tokenizer is built or read

    eod = Tokenizer.from_file(str(tokenizer_json)).id_to_token(eod_id)
    special = {"bos_token": eod, "eos_token": eod, "unk_token": None}
    config = {"tokenizer_class": "PreTrainedTokenizerFast", **special, "add_bos_token": False,
              "add_eos_token": False, "model_max_length": max_length, "clean_up_tokenization_spaces": False}
    return {
        "tokenizer.json": tokenizer_json.read_text(encoding="utf-8"),
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
        "special_tokens_map.json": json.dumps({"bos_token": eod, "eos_token": eod}, indent=2) + "\n",
    }


def _prepare_out(out_dir: Path) -> Path:
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise PlanInputError(f"-o: {out_dir} exists and is not empty", ["-o: name a new or empty directory"])
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))


def stored_dtype_name(target: Path) -> str:
    """The dtype the checkpoint holds its weights in (bf16 for a bf16 GPU run, fp32 on CPU)."""
    from megatron.core import dist_checkpointing  # deferred: megatron-core takes seconds to import

    meta = dist_checkpointing.load_tensors_metadata(str(target))["embedding.word_embeddings.weight"]
    return str(meta.dtype).removeprefix("torch.")


def export_hf(run_dir: str | Path, out_dir: str | Path, step: int | None = None,
              max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES, dtype: str = "auto") -> Exported:
    """`dtype`: `auto` (the checkpoint's stored dtype), `float32`, `bfloat16` or `float16`."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    path = checkpoint_path(run_dir, step)
    root, target = _checkpoint_root(path)
    plan = read_plan(root / "plan.yaml")
    hfconfig.check_llama_family(plan)
    if not (root / "tokenizer.json").is_file():
        raise PlanInputError(f"{run_dir}: the run has no tokenizer", [
            f"tokenizer: {root / 'tokenizer.json'} is missing (the trainer copies the prepared tokenizer there)"])
    staging = _prepare_out(out_dir)
    try:
        model, tok = load_for_inference(path)
        iteration = int(target.name.removeprefix("iter_"))
        vocab = hfconfig.model_vocab_size(plan, tok.vocab_size)
        state = {k: v for k, v in model.state_dict().items() if "_extra_state" not in k}
        dtype_name = stored_dtype_name(target) if dtype == "auto" else dtype
        tensors = megatron_to_hf(state, hfconfig.shape_of(plan, vocab))
        tensors = {k: v.to(getattr(torch, dtype_name)) for k, v in tensors.items()}
        files = write_weights(staging, tensors, max_shard_bytes)
        texts = tokenizer_files(Path(tok.path), tok.eod, plan.model.seq_length)
        texts["config.json"] = json.dumps(hfconfig.llama_config(plan, vocab, tok.eod, dtype_name), indent=2) + "\n"
        texts["generation_config.json"] = json.dumps(
            {"bos_token_id": tok.eod, "eos_token_id": tok.eod, "do_sample": False}, indent=2) + "\n"
        origin_path = root / "imported_from.json"
        origin = json.loads(origin_path.read_text(encoding="utf-8")) if origin_path.is_file() else None
        texts["README.md"] = model_card(plan, run_dir, iteration, vocab, origin)
        for name, text in texts.items():
            (staging / name).write_text(text, encoding="utf-8")
        for path in [staging, *staging.iterdir()]:
            path.chmod(0o755 if path.is_dir() else 0o644)  # mkdtemp makes 0700
        if out_dir.is_dir():
            out_dir.rmdir()
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Exported(out_dir, iteration, vocab, sorted([*files, *texts]))
