"""Token-level scoring over a small model interface: windows, batched log-likelihoods, greedy decoding.

Everything here works on any causal language model that can be called as `logits_fn(tokens)`
with `tokens` a `[B, T]` int64 tensor and returning `[B, T, V]` logits, where the logits at
position t predict token t+1 (the usual causal convention). The lm-eval adapter
(`executor.evaluate.adapter`) and the validation perplexity use only this module, so both can be
tested on a plain torch model as well as on the trainer's megatron-core GPTModel.

Windows (the rule lm-eval documents for `loglikelihood_rolling`, `lm_eval/api/model.py`):
a sequence `s_0 .. s_{n-1}` whose tokens from index `first` on are to be scored is cut into groups
of at most `max_length` consecutive target positions, from the left. A group `[g0, g1)` is fed the
input `s[lo : g1 - 1]` with `lo = max(0, g1 - 1 - max_length)`, so each prediction gets as much
context as fits, every target is scored exactly once, and the last window is a full-length one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch


class TextTokenizer(Protocol):
    """The two tokenizer calls the evaluator needs; no special tokens are added by `encode`."""

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: Sequence[int]) -> str: ...


class HFTokenizer:
    """A `tokenizers.Tokenizer` (a `tokenizer.json`) behind the `TextTokenizer` protocol."""

    def __init__(self, tokenizer) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def from_file(cls, path: str) -> "HFTokenizer":
        # deferred: tokenizers (Rust extension) only where a tokenizer is built or read
        from tokenizers import Tokenizer

        return cls(Tokenizer.from_file(str(path)))

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self.tokenizer.decode(list(ids), skip_special_tokens=False)

    def token_to_id(self, token: str) -> int | None:
        return self.tokenizer.token_to_id(token)


@dataclass(frozen=True)
class Scorer:
    """A causal LM as the evaluator sees it.

    `logits_fn`: `[B, T]` int64 token ids -> `[B, T, V]` logits (any float dtype; scored in at least float32).
    `max_length`: the longest input the model takes (its sequence length).
    `eod_id`: the end-of-document token: the prefix for texts scored from their first token, the
    padding token, and a stop token in generation.
    """

    logits_fn: Callable[[torch.Tensor], torch.Tensor]
    max_length: int
    eod_id: int
    tokenizer: TextTokenizer

    def __post_init__(self) -> None:
        if self.max_length < 1:
            raise ValueError(f"max_length must be at least 1, got {self.max_length}")


@dataclass(frozen=True)
class Window:
    """One forward pass: `inputs`, and the `targets` predicted at its last len(targets) positions."""

    owner: int
    inputs: tuple[int, ...]
    targets: tuple[int, ...]


def plan_windows(tokens: Sequence[int], first: int, max_length: int, owner: int = 0) -> list[Window]:
    """Windows that score `tokens[first:]` given everything before, `max_length` inputs at most.

    `first` must be at least 1 (the first token needs something to condition on); see the module
    docstring for the rule.
    """
    if first < 1:
        raise ValueError(f"first scored index must be >= 1 (a token to condition on), got {first}")
    windows = []
    for g0 in range(first, len(tokens), max_length):
        g1 = min(g0 + max_length, len(tokens))
        lo = max(0, g1 - 1 - max_length)
        windows.append(Window(owner, tuple(tokens[lo : g1 - 1]), tuple(tokens[g0:g1])))
    return windows


@dataclass
class TokenScore:
    """Sum of log-probabilities (natural log) of the scored tokens, their count, and whether each
    scored token was the model's argmax (greedy) choice."""

    logprob: float = 0.0
    num_tokens: int = 0
    is_greedy: bool = True


def _pad_batch(rows: Sequence[Sequence[int]], pad_id: int) -> torch.Tensor:
    width = max(len(r) for r in rows)
    batch = torch.full((len(rows), width), pad_id, dtype=torch.long)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = torch.tensor(row, dtype=torch.long)
    return batch


@torch.no_grad()
def score_windows(scorer: Scorer, windows: Sequence[Window], num_owners: int,
                  batch_size: int) -> list[TokenScore]:
    """Run the windows in right-padded batches (longest first) and sum the scores per owner.

    Right padding leaves a causal model's logits at the real positions unchanged.
    """
    scores = [TokenScore() for _ in range(num_owners)]
    order = sorted(range(len(windows)), key=lambda i: -len(windows[i].inputs))
    for start in range(0, len(order), batch_size):
        chunk = [windows[i] for i in order[start : start + batch_size]]
        logits = scorer.logits_fn(_pad_batch([w.inputs for w in chunk], scorer.eod_id))
        for row, window in enumerate(chunk):
            end, num = len(window.inputs), len(window.targets)
            row_logits = logits[row, end - num : end]
            row_logits = row_logits.to(torch.promote_types(row_logits.dtype, torch.float32))
            targets = torch.tensor(window.targets, dtype=torch.long)
            logprobs = torch.log_softmax(row_logits, dim=-1).gather(1, targets[:, None])[:, 0]
            score = scores[window.owner]
            score.logprob += float(logprobs.double().sum())
            score.num_tokens += num
            score.is_greedy &= bool((row_logits.argmax(dim=-1) == targets).all())
    return scores


def score_continuations(scorer: Scorer, pairs: Sequence[tuple[Sequence[int], Sequence[int]]],
                        batch_size: int) -> list[TokenScore]:
    """log p(continuation | context) for token pairs; the context must not be empty."""
    windows: list[Window] = []
    for owner, (context, continuation) in enumerate(pairs):
        if not context:
            raise ValueError("context tokens must not be empty (prefix the end-of-document token)")
        windows += plan_windows([*context, *continuation], len(context), scorer.max_length, owner)
    return score_windows(scorer, windows, len(pairs), batch_size)


def score_documents(scorer: Scorer, documents: Sequence[Sequence[int]], batch_size: int) -> list[TokenScore]:
    """Full log-likelihood of each document, conditioned on the end-of-document token only."""
    windows: list[Window] = []
    for owner, tokens in enumerate(documents):
        windows += plan_windows([scorer.eod_id, *tokens], 1, scorer.max_length, owner)
    return score_windows(scorer, windows, len(documents), batch_size)


def _first_stop(text: str, stops: Sequence[str]) -> int | None:
    hits = [text.find(s) for s in stops if s and s in text]
    return min(hits) if hits else None


@torch.no_grad()
def greedy_generate(scorer: Scorer, contexts: Sequence[Sequence[int]], stops: Sequence[Sequence[str]],
                    max_new_tokens: Sequence[int]) -> list[str]:
    """Greedy continuation of each context until a stop string, the end-of-document token or
    `max_new_tokens`; the returned text stops before the first stop string.

    All unfinished rows advance together, one full forward pass per step over the last
    `max_length` tokens (no KV cache: meant for the small models this runs on).
    """
    generated: list[list[int]] = [[] for _ in contexts]
    texts = ["" for _ in contexts]
    active = [i for i, limit in enumerate(max_new_tokens) if limit > 0]
    while active:
        rows = [([*contexts[i], *generated[i]] or [scorer.eod_id])[-scorer.max_length :] for i in active]
        logits = scorer.logits_fn(_pad_batch(rows, scorer.eod_id))
        still = []
        for row, i in enumerate(active):
            token = int(logits[row, len(rows[row]) - 1].argmax())
            if token == scorer.eod_id:
                continue
            generated[i].append(token)
            texts[i] = scorer.tokenizer.decode(generated[i])
            cut = _first_stop(texts[i], stops[i])
            if cut is not None:
                texts[i] = texts[i][:cut]
            elif len(generated[i]) < max_new_tokens[i]:
                still.append(i)
        active = still
    return texts
