"""The lm-eval model adapter: `LlmplanLM`, registered in lm-eval as `llmplan`.

It turns lm-eval's text requests into token requests for a `Scorer` (see `scoring.py`):

- `loglikelihood((context, continuation))`: trailing spaces of the context move to the
  continuation (lm-eval's convention: `"Answer:" + " Paris"`). The pair is then split at the
  character boundary: when the tokens of `context + continuation` begin with exactly the tokens of
  `context`, the rest are the continuation's tokens (the text's own tokenization); when a token
  straddles the boundary (a continuation that starts mid-word, `"Par" + "is"` -> `" Paris"`), the
  continuation is tokenized on its own, so the scored tokens always decode to exactly the
  continuation. (lm-eval's `TemplateLM` instead cuts `whole[len(context_tokens):]`, which drops or
  adds characters in that case.) An empty context is replaced by the end-of-document token.
- `loglikelihood_rolling((text,))`: the whole text, conditioned on the end-of-document token,
  in windows of the model's context length (every token scored once, each with the most context).
- `generate_until((context, gen_kwargs))`: greedy decoding until a stop string in `until`, the
  end-of-document token or `max_gen_toks`; the context is left-truncated to leave room for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from lm_eval.api.model import LM
from lm_eval.api.registry import register_model
from lm_eval.models.utils import normalize_gen_kwargs

from executor.evaluate.checkpoint import scorer_from_run_dir
from executor.evaluate.scoring import (
    Scorer,
    TextTokenizer,
    greedy_generate,
    score_continuations,
    score_documents,
)

DEFAULT_MAX_GEN_TOKENS = 256


def split_pair(tokenizer: TextTokenizer, context: str, continuation: str,
               eod_id: int) -> tuple[list[int], list[int]]:
    """Context and continuation tokens for `loglikelihood` (rule in the module docstring)."""
    num_spaces = len(context) - len(context.rstrip())
    if num_spaces:
        context, continuation = context[:-num_spaces], context[-num_spaces:] + continuation
    if not context:
        return [eod_id], tokenizer.encode(continuation)
    context_ids = tokenizer.encode(context)
    whole_ids = tokenizer.encode(context + continuation)
    if whole_ids[: len(context_ids)] == context_ids:
        return context_ids, whole_ids[len(context_ids) :]
    return context_ids, tokenizer.encode(continuation)


@register_model("llmplan")
class LlmplanLM(LM):
    """lm-eval model over a `Scorer`; `from_run_dir` builds one on a run's latest checkpoint.

    With `model_args` on lm-eval's command line: `--model llmplan --model_args run_dir=RUN_DIR`.
    """

    def __init__(self, scorer: Scorer | None = None, batch_size: int | str = 8,
                 run_dir: str | None = None, max_gen_toks: int = DEFAULT_MAX_GEN_TOKENS, **_ignored) -> None:
        super().__init__()
        if scorer is None:
            if run_dir is None:
                raise ValueError("LlmplanLM needs a scorer or run_dir=RUN_DIR")
            scorer = scorer_from_run_dir(run_dir)
        self.scorer = scorer
        # lm-eval's command line may pass "auto" (find the largest batch that fits): not supported,
        # the default is used instead (docs/evaluation.md)
        self.batch_size = 8 if str(batch_size).startswith("auto") else int(batch_size)
        self.max_gen_toks = int(max_gen_toks)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")

    @property
    def max_length(self) -> int:
        return self.scorer.max_length

    @property
    def tokenizer_name(self) -> str:
        return "llmplan"

    def _split(self, context: str, continuation: str) -> tuple[list[int], list[int]]:
        return split_pair(self.scorer.tokenizer, context, continuation, self.scorer.eod_id)

    def loglikelihood(self, requests, disable_tqdm: bool = False) -> list[tuple[float, bool]]:
        pairs = [self._split(*req.args) for req in requests]
        scores = score_continuations(self.scorer, pairs, self.batch_size)
        results = [(s.logprob, s.is_greedy) for s in scores]
        for req, result in zip(requests, results):
            self.cache_hook.add_partial("loglikelihood", req.args, result)
        return results

    def loglikelihood_rolling(self, requests, disable_tqdm: bool = False) -> list[float]:
        documents = [self.scorer.tokenizer.encode(req.args[0]) for req in requests]
        results = [s.logprob for s in score_documents(self.scorer, documents, self.batch_size)]
        for req, result in zip(requests, results):
            self.cache_hook.add_partial("loglikelihood_rolling", req.args, result)
        return results

    def _generation_args(self, gen_kwargs: dict) -> tuple[list[str], int]:
        kwargs = normalize_gen_kwargs(dict(gen_kwargs or {}), self.max_gen_toks)
        if kwargs.get("do_sample"):
            raise ValueError(
                f"generate_until: do_sample=True (temperature {kwargs.get('temperature')}) is not "
                "supported; the llmplan model decodes greedily (set do_sample: false)"
            )
        until = kwargs.get("until") or []
        until = [until] if isinstance(until, str) else list(until)
        max_new = int(kwargs["max_gen_toks"])
        if max_new >= self.max_length:
            raise ValueError(
                f"generate_until: max_gen_toks ({max_new}) must be less than the model's "
                f"context length ({self.max_length})"
            )
        return until, max_new

    def generate_until(self, requests, disable_tqdm: bool = False) -> list[str]:
        contexts: list[list[int]] = []
        stops: list[Sequence[str]] = []
        limits: list[int] = []
        for req in requests:
            context, gen_kwargs = req.args
            until, max_new = self._generation_args(gen_kwargs)
            ids = self.scorer.tokenizer.encode(context) or [self.scorer.eod_id]
            contexts.append(ids[-(self.max_length - max_new) :])
            stops.append(until)
            limits.append(max_new)
        results = []
        for start in range(0, len(contexts), self.batch_size):
            end = start + self.batch_size
            results += greedy_generate(self.scorer, contexts[start:end], stops[start:end], limits[start:end])
        for req, result in zip(requests, results):
            self.cache_hook.add_partial("generate_until", req.args, result)
        return results
