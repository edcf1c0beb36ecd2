"""End to end with the network off: `llmplan prepare` -> `llmplan train` (torchrun, 2 CPU ranks)
-> `llmplan evaluate`, on a corpus that states invented facts; then the adapter against direct
forward passes of that same megatron-core checkpoint.

Every command runs in a new network namespace with only loopback (`unshare -rn`) where the kernel
allows it, and always with a socket guard that refuses connections to anything but loopback.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("megatron.core")
pytest.importorskip("lm_eval")

from executor.evaluate.facts import TASK_DIR  # noqa: E402
from planner.io import read_plan, write_model  # noqa: E402
from planner.schema.data import DataSource  # noqa: E402

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
LLMPLAN = [sys.executable, "-m", "tui.cli"]
TRAIN_STEPS = 250
GUARD = '''
import socket
_connect = socket.socket.connect
def _loopback_only(self, address):
    host = address[0] if isinstance(address, tuple) else ""
    if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
        raise OSError(f"network is off in this test (connect to {address!r} refused)")
    return _connect(self, address)
socket.socket.connect = _loopback_only
'''


def facts_plan(path: Path) -> None:
    """The tiny CPU plan on the facts corpus: filters, dedup and PII off (a templated synthetic
    corpus), DP=2 x TP=1, 16 sequences of 128 tokens a step, `TRAIN_STEPS` steps, evaluation on `facts`.

    The association country -> capital is learned late, after a plateau where the model already
    predicts "some capital" (loss ~0.7): 17/24 at step 200 and 22/24 at step 250 of a 400-step run,
    24/24 after a 250-step run; a 200-step run with 8 sequences a step stayed at chance."""
    plan = read_plan(ROOT / "tests" / "fixtures" / "tiny_plan.yaml")
    d, lay = plan.data, plan.layout
    data = d.model_copy(update={
        "sources": [DataSource(name="facts", path=str(TASK_DIR / "facts_corpus.jsonl"), format="jsonl")],
        "filters": d.filters.model_copy(update={"gopher_quality": False, "gopher_repetition": False,
                                                "c4": False, "fineweb": False}),
        "dedup": d.dedup.model_copy(update={"exact": False, "near": False}),
        "pii": d.pii.model_copy(update={"enabled": False}),
        "tokenizer": d.tokenizer.model_copy(update={"vocab_size": 1024}),
        "validation_fraction": 0.05,
        "num_workers": 1,
    })
    layout = lay.layout.model_copy(update={"tensor_model_parallel_size": 1, "data_parallel_size": 2,
                                           "micro_batch_size": 8, "global_batch_size": 16})
    plan = plan.model_copy(update={
        "name": "facts-e2e", "data": data,
        "model": plan.model.model_copy(update={"seq_length": 128}),
        "layout": lay.model_copy(update={"layout": layout}),
        "recipe": plan.recipe.model_copy(update={"lr": 0.01, "min_lr": 0.001, "train_steps": TRAIN_STEPS,
                                                 "warmup_steps": 10, "eval_interval_steps": TRAIN_STEPS}),
        "evaluation": plan.evaluation.model_copy(update={"tasks": ["facts"], "limit": None, "batch_size": 8}),
        "reliability": plan.reliability.model_copy(update={"checkpoint_interval_steps": TRAIN_STEPS}),
    })
    write_model(type(plan).model_validate(plan.model_dump()), path)


def _namespace_prefix() -> list[str]:
    if shutil.which("unshare") and shutil.which("ip"):
        probe = subprocess.run(["unshare", "-rn", "sh", "-c", "ip link set lo up"], capture_output=True)
        if probe.returncode == 0:
            return ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$@"', "offline"]
    return []


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory) -> dict:
    guard = tmp_path_factory.mktemp("guard")
    (guard / "sitecustomize.py").write_text(GUARD)
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(guard), str(ROOT)]))
    env.pop("RANK", None)
    return env


def _run(argv: list[str], env: dict, timeout_s: int) -> subprocess.CompletedProcess:
    done = subprocess.run(_namespace_prefix() + argv, env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout_s)
    assert done.returncode == 0, f"{argv[2:4]} failed ({done.returncode}):\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory, offline_env) -> Path:
    run = tmp_path_factory.mktemp("facts_run")
    facts_plan(run / "plan.yaml")
    _run([*LLMPLAN, "prepare", str(run / "plan.yaml"), "--out", str(run / "data"), "--quiet"], offline_env, 300)
    _run([*LLMPLAN, "train", str(run / "plan.yaml"), "--data", str(run / "data"), "--out", str(run)],
         offline_env, 600)
    return run


def test_a_model_trained_on_stated_facts_scores_above_chance_on_them_offline(trained_run, offline_env):
    done = _run([*LLMPLAN, "evaluate", str(trained_run)], offline_env, 300)
    saved = json.loads((trained_run / "eval" / "results.json").read_text())
    acc, items = saved["results"]["facts"]["acc,none"], saved["n-samples"]["facts"]["effective"]
    chance_p = sum(math.comb(items, k) * 0.25 ** k * 0.75 ** (items - k)
                   for k in range(round(acc * items), items + 1))
    validation = saved["llmplan"]["validation"]
    val_losses = [json.loads(line).get("val_loss") for line in (trained_run / "metrics.jsonl").open()]
    trainer_val_loss = [v for v in val_losses if v is not None][-1]
    print(f"\nfacts acc {acc:.3f} on {items} items (chance 0.25, P(>= this | chance) = {chance_p:.1e}); "
          f"validation perplexity {validation['value']:.3f} (nll/token {validation['nll_per_token']:.4f}, "
          f"trainer val_loss {trainer_val_loss:.4f}); offline via {' '.join(_namespace_prefix()[:2]) or 'guard'}")
    assert items == 24 and saved["llmplan"]["complete"] is True
    assert acc >= 0.5 and chance_p < 0.01
    assert "facts" in done.stdout and "perplexity" in done.stdout
    assert 1.0 < validation["value"] < 20.0
    assert abs(validation["nll_per_token"] - trainer_val_loss) < 0.2


CHECK = textwrap.dedent('''
    """Adapter vs direct forward passes on a trained checkpoint, in float32 and float64; prints JSON."""
    import json, random, sys

    import torch
    from lm_eval.api.instance import Instance

    from executor.evaluate.adapter import LlmplanLM, split_pair
    from executor.evaluate.checkpoint import scorer_from_model
    from executor.evaluate.facts import corpus_documents
    from executor.train.checkpoint import load_for_inference


    def direct_logprobs(model, vocab, ids):
        """log-softmax over the real vocabulary from one GPTModel forward pass, batch of one."""
        n = len(ids)
        mask = torch.triu(torch.ones(n, n, dtype=torch.bool), diagonal=1)[None, None]
        with torch.no_grad():
            logits = model(torch.tensor([ids]), torch.arange(n)[None], mask)[0, :, :vocab]
        return torch.log_softmax(logits.double(), dim=-1)


    def random_pairs():
        rng = random.Random(0)
        pairs = []
        for text in corpus_documents(40, seed=7):
            cut = rng.randint(1, min(len(text), 300) - 1)
            start = rng.randint(0, max(0, cut - 150))
            pairs.append((text[start:cut], text[cut:cut + rng.randint(1, 40)]))
        return pairs


    def measure(model, meta):
        scorer = scorer_from_model(model, meta)
        tok, vocab, length = scorer.tokenizer, meta.vocab_size, scorer.max_length
        lm = LlmplanLM(scorer=scorer, batch_size=8)
        pairs = random_pairs()
        got = lm.loglikelihood([Instance("loglikelihood", {}, p, i) for i, p in enumerate(pairs)])
        worst, mid_word = 0.0, 0
        for (context, continuation), (value, _) in zip(pairs, got):
            ctx_ids, cont_ids = split_pair(tok, context, continuation, scorer.eod_id)
            assert tok.decode(cont_ids) == context[len(context.rstrip()):] + continuation
            assert len(ctx_ids) + len(cont_ids) <= length + 1
            mid_word += context[-1:].isalpha() and continuation[:1].isalpha()
            lp = direct_logprobs(model, vocab, (ctx_ids + cont_ids)[:-1])
            direct = sum(float(lp[len(ctx_ids) - 1 + k, t]) for k, t in enumerate(cont_ids))
            worst = max(worst, abs(direct - value))
        text = "\\n".join(corpus_documents(8, seed=8))
        seq = [scorer.eod_id, *tok.encode(text)]
        rolling_direct, num_windows = 0.0, 0
        for g0 in range(1, len(seq), length):
            g1 = min(g0 + length, len(seq))
            inputs = seq[max(0, g1 - 1 - length): g1 - 1]
            lp = direct_logprobs(model, vocab, inputs)
            first = len(inputs) - (g1 - g0)
            rolling_direct += sum(float(lp[first + k, t]) for k, t in enumerate(seq[g0:g1]))
            num_windows += 1
        [rolling] = lm.loglikelihood_rolling([Instance("loglikelihood_rolling", {}, (text,), 0)])
        return {"num_pairs": len(pairs), "num_mid_word": mid_word, "loglikelihood_max_abs_diff": worst,
                "rolling_tokens": len(seq) - 1, "context_length": length, "rolling_windows": num_windows,
                "rolling_adapter": rolling, "rolling_direct": rolling_direct}


    model, meta = load_for_inference(sys.argv[1])
    figures = {"float32": measure(model, meta)}
    figures["float64"] = measure(model.double(), meta)
    print(json.dumps(figures))
''')


def test_adapter_on_the_trained_checkpoint_equals_direct_forward_passes(trained_run, offline_env, tmp_path):
    script = tmp_path / "check.py"
    script.write_text(CHECK)
    done = _run([sys.executable, str(script), str(trained_run)], offline_env, 300)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"\ncheckpoint: {json.dumps(figures, indent=1)}")
    single, double = figures["float32"], figures["float64"]
    assert single["num_mid_word"] >= 10
    assert single["loglikelihood_max_abs_diff"] < 1e-5
    assert single["rolling_windows"] >= 3 and single["rolling_tokens"] > 2 * single["context_length"]
    # float32: batches of several windows vs one at a time differ by rounding only ...
    assert single["rolling_adapter"] == pytest.approx(single["rolling_direct"], rel=1e-6)
    # ... which float64 removes: the windows and the sums are exactly the direct ones
    assert double["loglikelihood_max_abs_diff"] < 1e-9
    assert double["rolling_adapter"] == pytest.approx(double["rolling_direct"], abs=1e-9)
