"""Tokenizer: train a byte-level BPE with Hugging Face `tokenizers` on a sample, or load a
tokenizer.json; encode documents and append the end-of-document token."""

from __future__ import annotations

import shutil
from collections.abc import Iterable
from pathlib import Path

from planner.errors import PlanInputError
from planner.schema.data import TokenizerSpec


def train_bpe(texts: Iterable[str], spec: TokenizerSpec, out_path: Path) -> None:
    """Byte-level BPE (Radford et al. 2019, GPT-2, section 2.2) with the end-of-document token as
    id 0; saved to `out_path` atomically."""
    # deferred: tokenizers (Rust extension) only where a tokenizer is built or read
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=spec.vocab_size, min_frequency=spec.min_frequency, special_tokens=[spec.eod_token],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    _save(tok, out_path)


def copy_tokenizer(spec: TokenizerSpec, out_path: Path) -> None:
    """Check that the plan's tokenizer.json loads and has the end-of-document token, then copy it."""
    from tokenizers import Tokenizer  # deferred: tokenizers (Rust extension) only where a tokenizer is built or read

    src = Path(spec.path or "")
    try:
        tok = Tokenizer.from_file(str(src))
    except Exception as exc:  # tokenizers raises a bare Exception on bad files
        raise PlanInputError(f"cannot load tokenizer {str(src)!r}: {exc}",
                             ["data.tokenizer.path: a Hugging Face tokenizer.json"]) from None
    if tok.token_to_id(spec.eod_token) is None:
        raise PlanInputError(f"tokenizer {str(src)!r} has no token {spec.eod_token!r}",
                             ["data.tokenizer.eod_token: a token in the tokenizer's vocabulary"])
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    shutil.copyfile(src, tmp)
    tmp.replace(out_path)


def _save(tok, out_path: Path) -> None:
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    tok.save(str(tmp))
    tmp.replace(out_path)


class Encoder:
    """Token ids of documents, each followed by the end-of-document id."""

    def __init__(self, tokenizer_path: Path, eod_token: str) -> None:
        # deferred: tokenizers (Rust extension) only where a tokenizer is built or read
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(tokenizer_path))
        self.eod_id = self.tok.token_to_id(eod_token)
        self.vocab_size = self.tok.get_vocab_size()

    def encode(self, texts: list[str]) -> list[list[int]]:
        encoded = self.tok.encode_batch(texts, add_special_tokens=False)
        return [e.ids + [self.eod_id] for e in encoded]
