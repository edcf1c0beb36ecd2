"""The lm-eval adapter against direct forward passes of a small torch model.

Each expected value is computed here by hand: one forward pass over the whole token sequence and a
sum of log-softmax entries, independent of the adapter's splitting, windowing, padding and batching.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import random

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lm_eval")
tokenizers = pytest.importorskip("tokenizers")

from lm_eval.api.instance import Instance  # noqa: E402
from lm_eval.utils import get_rolling_token_windows  # noqa: E402

from executor.evaluate.adapter import LlmplanLM, split_pair  # noqa: E402
from executor.evaluate.scoring import HFTokenizer, Scorer, plan_windows, score_continuations  # noqa: E402

WORDS = ("the capital of france is paris and the river seine runs through it while bakers "
         "bake bread every morning in a small shop near the station where trains arrive late "
         "mountains rivers valleys forests oceans islands deserts planets stars galaxies").split()
EOD = "<|endoftext|>"
TOL = 1e-5


def _corpus(num: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(5, 30))) + "." for _ in range(num)]


@pytest.fixture(scope="module")
def tokenizer() -> HFTokenizer:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=400, special_tokens=[EOD],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(_corpus(400, seed=0), trainer)
    return HFTokenizer(tok)


class TinyCausalLM(torch.nn.Module):
    """Two causal self-attention layers with learned positions; logits at t predict token t+1."""

    def __init__(self, vocab_size: int, max_length: int, width: int = 32) -> None:
        super().__init__()
        self.embed = torch.nn.Embedding(vocab_size, width)
        self.position = torch.nn.Embedding(max_length, width)
        layer = torch.nn.TransformerEncoderLayer(width, 4, 64, dropout=0.0, batch_first=True)
        self.body = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = torch.nn.Linear(width, vocab_size)

    def forward(self, tokens):
        length = tokens.shape[1]
        mask = torch.nn.Transformer.generate_square_subsequent_mask(length)
        hidden = self.embed(tokens) + self.position(torch.arange(length))[None]
        return self.head(self.body(hidden, mask=mask, is_causal=True))


@pytest.fixture(scope="module")
def model(tokenizer) -> TinyCausalLM:
    torch.manual_seed(0)
    net = TinyCausalLM(tokenizer.tokenizer.get_vocab_size(), max_length=24).eval()
    with torch.no_grad():  # spread the logits so that scores differ visibly between choices
        net.head.weight.mul_(8.0)
    return net


@pytest.fixture(scope="module")
def scorer(model, tokenizer) -> Scorer:
    return Scorer(logits_fn=model, max_length=24, eod_id=tokenizer.token_to_id(EOD), tokenizer=tokenizer)


def _direct_logprob(model, context_ids: list[int], continuation_ids: list[int]) -> float:
    """log p(continuation | context) from one forward pass over the whole sequence."""
    ids = torch.tensor([(context_ids + continuation_ids)[:-1]])  # the last token is only predicted
    with torch.no_grad():
        logprobs = torch.log_softmax(model(ids)[0].double(), dim=-1)
    start = len(context_ids)
    return sum(float(logprobs[start - 1 + k, tok]) for k, tok in enumerate(continuation_ids))


def _random_pairs(num: int, seed: int) -> list[tuple[str, str]]:
    """Contexts and continuations cut at random characters, so many start mid-word."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(num):
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6)))
        cut = rng.randint(1, len(text) - 1)
        pairs.append((text[:cut], text[cut:]))
    return pairs


def _requests(kind: str, args: list[tuple]) -> list[Instance]:
    return [Instance(request_type=kind, doc={}, arguments=a, idx=i) for i, a in enumerate(args)]


def test_split_tokens_decode_to_exactly_the_context_and_the_continuation(tokenizer):
    for context, continuation in _random_pairs(200, seed=1):
        context_ids, continuation_ids = split_pair(tokenizer, context, continuation, eod_id=0)
        moved = len(context) - len(context.rstrip())
        assert tokenizer.decode(context_ids) == context.rstrip()
        assert tokenizer.decode(continuation_ids) == context[len(context) - moved:] + continuation


def test_mid_word_continuation_keeps_its_characters_where_lm_evals_cut_would_lose_them(tokenizer):
    """lm-eval's TemplateLM takes whole[len(context_tokens):]; with a token across the boundary
    that decodes to the wrong text. The adapter's split decodes to the continuation exactly."""
    lost = 0
    for context, continuation in _random_pairs(200, seed=2):
        context = context.rstrip() or context
        naive = tokenizer.encode(context + continuation)[len(tokenizer.encode(context)):]
        ours = split_pair(tokenizer, context, continuation, eod_id=0)[1]
        if tokenizer.decode(naive) != continuation:
            lost += 1
            assert tokenizer.decode(ours) == continuation
    assert lost >= 20, "the random pairs should include many mid-word boundaries"


@pytest.mark.parametrize("dtype, tolerance", [("float32", TOL), ("float64", 1e-9)])
def test_loglikelihood_equals_a_direct_forward_pass_to_1e_5(model, tokenizer, scorer, dtype, tolerance):
    net = copy.deepcopy(model).to(getattr(torch, dtype))
    scorer = dataclasses.replace(scorer, logits_fn=net)
    pairs = [p for p in _random_pairs(60, seed=3)
             if len(tokenizer.encode(p[0] + p[1])) + 1 <= scorer.max_length]
    lm = LlmplanLM(scorer=scorer, batch_size=7)
    results = lm.loglikelihood(_requests("loglikelihood", pairs))
    worst = 0.0
    for (context, continuation), (logprob, _) in zip(pairs, results):
        context_ids, continuation_ids = split_pair(tokenizer, context, continuation, scorer.eod_id)
        worst = max(worst, abs(logprob - _direct_logprob(net, context_ids, continuation_ids)))
        assert logprob < 0
    print(f"loglikelihood ({dtype}): {len(pairs)} random pairs, max |adapter - direct| = {worst:.2e}")
    assert worst < tolerance


def test_empty_context_is_conditioned_on_the_end_of_document_token(model, scorer):
    lm = LlmplanLM(scorer=scorer)
    [(logprob, _)] = lm.loglikelihood(_requests("loglikelihood", [("", "the river")]))
    expected = _direct_logprob(model, [scorer.eod_id], scorer.tokenizer.encode("the river"))
    assert logprob == pytest.approx(expected, abs=TOL)


def test_a_pair_longer_than_the_context_is_scored_with_the_last_max_length_tokens(model, tokenizer, scorer):
    context = " ".join(WORDS[:30])
    context_ids, continuation_ids = split_pair(tokenizer, context, " paris", scorer.eod_id)
    whole = context_ids + continuation_ids
    assert len(whole) > scorer.max_length + 1
    kept = whole[-(scorer.max_length + 1):]
    expected = _direct_logprob(model, kept[: -len(continuation_ids)], continuation_ids)
    [(logprob, _)] = LlmplanLM(scorer=scorer).loglikelihood(_requests("loglikelihood", [(context, " paris")]))
    assert logprob == pytest.approx(expected, abs=TOL)


def test_is_greedy_holds_exactly_for_the_argmax_continuation(model, scorer):
    context_ids = scorer.tokenizer.encode("the capital of")
    greedy = _greedy_by_hand(model, context_ids, 4, eod=-1, max_length=scorer.max_length)
    other = greedy[:-1] + [(greedy[-1] + 1) % 400]
    first, second = score_continuations(scorer, [(context_ids, greedy), (context_ids, other)], batch_size=2)
    assert first.is_greedy is True
    assert second.is_greedy is False


def _windows_by_hand(tokens: list[int], prefix: int, max_length: int) -> list[tuple[list[int], list[int]]]:
    """The windows lm-eval's loglikelihood_rolling docstring draws: first window prefix + tokens,
    each next one the following max_length predictions with the most context; the last is full."""
    seq = [prefix, *tokens]
    out = []
    for g0 in range(1, len(seq), max_length):
        g1 = min(g0 + max_length, len(seq))
        inputs = seq[max(0, g1 - 1 - max_length): g1 - 1]
        out.append((inputs, seq[g0:g1]))
    return out


def test_windows_are_the_ones_lm_eval_documents_and_computes():
    tokens = list(range(10))
    mine = [(list(w.inputs), list(w.targets)) for w in plan_windows([-1, *tokens], 1, 4)]
    assert mine == [([-1, 0, 1, 2], [0, 1, 2, 3]), ([3, 4, 5, 6], [4, 5, 6, 7]), ([5, 6, 7, 8], [8, 9])]
    for length in (1, 3, 4, 7, 23):
        theirs = list(get_rolling_token_windows(tokens, -1, length, 1))
        ours = plan_windows([-1, *tokens], 1, length)
        assert [w.targets for w in ours] == [tuple(t) for _, t in theirs]
        assert all(w.inputs[-len(w.targets) + 1:] == tuple(i[-len(w.targets) + 1:]) or len(w.targets) == 1
                   for w, (i, _) in zip(ours, theirs))


@pytest.mark.parametrize("dtype, tolerance", [("float32", TOL), ("float64", 1e-9)])
def test_rolling_loglikelihood_of_a_text_longer_than_the_context_is_the_sum_over_windows(
        model, scorer, dtype, tolerance):
    """In float64 the only difference left (batching) vanishes: the windows are exactly lm-eval's."""
    net = copy.deepcopy(model).to(getattr(torch, dtype))
    scorer = dataclasses.replace(scorer, logits_fn=net)
    text = " ".join(_corpus(6, seed=4))
    tokens = scorer.tokenizer.encode(text)
    assert len(tokens) > 3 * scorer.max_length
    expected = 0.0
    windows = _windows_by_hand(tokens, scorer.eod_id, scorer.max_length)
    for inputs, targets in windows:
        with torch.no_grad():
            logprobs = torch.log_softmax(net(torch.tensor([inputs]))[0].double(), dim=-1)
        first = len(inputs) - len(targets)
        expected += sum(float(logprobs[first + k, t]) for k, t in enumerate(targets))
    [got] = LlmplanLM(scorer=scorer, batch_size=3).loglikelihood_rolling(_requests("loglikelihood_rolling", [(text,)]))
    print(f"rolling ({dtype}): {len(tokens)} tokens, {len(windows)} windows of {scorer.max_length}, "
          f"adapter {got:.6f} vs direct {expected:.6f}, |diff| = {abs(got - expected):.2e}")
    assert got == pytest.approx(expected, abs=tolerance)
    assert math.isfinite(got) and got < 0


def _greedy_by_hand(model, ids: list[int], max_new: int, eod: int, max_length: int) -> list[int]:
    out = []
    with torch.no_grad():
        for _ in range(max_new):
            token = int(model(torch.tensor([(ids + out)[-max_length:]]))[0, -1].argmax())
            if token == eod:
                break
            out.append(token)
    return out


def test_generate_until_is_greedy_and_stops_at_max_gen_toks_or_the_stop_string(model, scorer):
    lm = LlmplanLM(scorer=scorer, batch_size=2)
    contexts = ["the capital of", "bakers bake", "trains arrive"]
    expected = [scorer.tokenizer.decode(_greedy_by_hand(model, scorer.tokenizer.encode(c), 6,
                                                         scorer.eod_id, scorer.max_length)) for c in contexts]
    got = lm.generate_until(_requests("generate_until", [(c, {"until": [], "max_gen_toks": 6}) for c in contexts]))
    assert got == expected
    stop = expected[0][2:4]
    assert stop and stop in expected[0]
    [cut] = lm.generate_until(_requests("generate_until", [(contexts[0], {"until": [stop], "max_gen_toks": 6})]))
    assert cut == expected[0][: expected[0].find(stop)]


def test_the_model_is_registered_in_lm_eval_as_llmplan():
    from lm_eval.api.registry import get_model

    assert get_model("llmplan") is LlmplanLM


def test_sampling_requests_are_refused_with_a_clear_message(scorer):
    lm = LlmplanLM(scorer=scorer)
    with pytest.raises(ValueError, match="do_sample=True"):
        lm.generate_until(_requests("generate_until", [("x", {"do_sample": True, "temperature": 0.7})]))
