"""A `Scorer` on a run's latest checkpoint, through the trainer's own loader.

`executor.train.checkpoint.load_for_inference` builds the plan's megatron-core `GPTModel` with the
trainer's `build_model` (TP=1 in this process; dist_checkpointing reshards a TP>1 checkpoint) and
loads the latest checkpoint; this module wraps its forward pass as `tokens[B, T] -> logits[B, T, V]`.
"""

from __future__ import annotations

from pathlib import Path

import torch

from executor.evaluate.scoring import HFTokenizer, Scorer
from executor.hf.hfconfig import model_vocab_size
from executor.train.checkpoint import _checkpoint_root, load_for_inference
from planner.errors import PlanInputError
from planner.io import read_plan


def megatron_logits_fn(model, vocab_size: int):
    """`GPTModel` forward with position ids 0..T-1 and a causal mask; logits cut to the real vocab
    (the trainer pads the embedding to a multiple of 128 x TP, Megatron-LM's rule)."""

    def logits_fn(tokens: torch.Tensor) -> torch.Tensor:
        batch, length = tokens.shape
        positions = torch.arange(length).unsqueeze(0).expand(batch, length)
        mask = torch.triu(torch.ones(1, 1, length, length, dtype=torch.bool), diagonal=1)
        with torch.no_grad():
            logits = model(tokens, positions, mask)
        return logits[..., :vocab_size]

    return logits_fn


def scorer_from_model(model, tokenizer_meta, vocab_size: int | None = None) -> Scorer:
    """A scorer over a loaded `GPTModel` and the trainer's `TokenizerMeta` (path, vocab_size, eod);
    the softmax ranges over `vocab_size` rows (default: the tokenizer's)."""
    return Scorer(
        logits_fn=megatron_logits_fn(model, vocab_size or tokenizer_meta.vocab_size),
        max_length=int(model.max_sequence_length),
        eod_id=int(tokenizer_meta.eod),
        tokenizer=HFTokenizer.from_file(tokenizer_meta.path),
    )


def scorer_from_run_dir(run_dir: str | Path) -> Scorer:
    """The run's latest checkpoint as a scorer; a missing checkpoint is bad input (exit 2)."""
    try:
        model, tokenizer_meta = load_for_inference(run_dir)
    except FileNotFoundError as exc:
        raise PlanInputError(
            "no checkpoint to evaluate",
            [f"run_dir: {exc}", "train the run first (`llmplan train` or `llmplan execute`)"],
        ) from None
    return scorer_from_model(model, tokenizer_meta, model_vocabulary(run_dir, tokenizer_meta.vocab_size))


def model_vocabulary(run_dir: str | Path, tokenizer_vocab_size: int) -> int:
    """The rows the trained softmax ranges over, without Megatron's 128 x TP padding: the larger of
    the tokenizer's and the plan's vocabulary (`executor.train.model.model_vocab_size` before padding).
    The same rows as the Hugging Face export (`executor.hf`), so both backends score alike; equal to
    the tokenizer's size unless a small corpus left the tokenizer below the planned vocabulary."""
    root, _ = _checkpoint_root(Path(run_dir))
    return model_vocab_size(read_plan(root / "plan.yaml"), tokenizer_vocab_size)
