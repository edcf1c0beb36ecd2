"""The trainer for real: torchrun with 2 CPU processes (gloo), megatron-core GPTModel, tiny plan.

Each run is a real `torchrun --nproc_per_node=N -m executor.train` on data from `llmplan prepare`.
The TP=2 run (100 steps) is shared by several tests as the uninterrupted reference.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess

import pytest
from planner.io import read_plan
from test_train_support import (  # noqa: F401 - prepared_data is a fixture
    ROOT,
    TINY_PLAN,
    latest_iteration as _latest,
    losses,
    plan_variant,
    prepared_data,
    read_metrics,
    run_train,
    test_env,
    torchrun_argv,
    unigram_entropy_nats,
    wait_for as _wait_for,
)

pytestmark = pytest.mark.slow

NUM_STEPS = 100
TP1_PLAN_CHANGES = {"layout__layout__tensor_model_parallel_size": 1}
DP2_PLAN_CHANGES = {"layout__layout__tensor_model_parallel_size": 1, "layout__layout__data_parallel_size": 2}


@pytest.fixture(scope="module")
def tp2_run(prepared_data, tmp_path_factory):
    out = tmp_path_factory.mktemp("tp2") / "run"
    run_train(2, TINY_PLAN, prepared_data, out, "--max-steps", str(NUM_STEPS))
    return out


@pytest.fixture(scope="module")
def dp2_run(prepared_data, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dp2")
    run_train(2, plan_variant(tmp, **DP2_PLAN_CHANGES), prepared_data, tmp / "run", "--max-steps", str(NUM_STEPS))
    return tmp / "run"


@pytest.fixture(scope="module")
def entropy_nats(prepared_data) -> float:
    return unigram_entropy_nats(prepared_data)


def _final_loss(out) -> float:
    """Mean training loss of the last 10 steps (one step's batch is noisy)."""
    values = [m["loss"] for m in read_metrics(out)][-10:]
    return sum(values) / len(values)


def test_tp2_run_trains_100_steps_and_ends_below_the_unigram_entropy(tp2_run, entropy_nats):
    metrics = read_metrics(tp2_run)
    assert [m["step"] for m in metrics] == list(range(1, NUM_STEPS + 1))
    assert metrics[0]["loss"] > entropy_nats  # starts near ln(V), above the unigram entropy
    print(f"FIGURE tp2: loss {metrics[0]['loss']:.4f} -> {_final_loss(tp2_run):.4f} (mean of last 10), "
          f"unigram entropy {entropy_nats:.4f} nats, val_loss {metrics[-1]['val_loss']:.4f}")
    assert _final_loss(tp2_run) < entropy_nats
    # held-out text: better than uniform over the vocabulary (the tiny corpus's validation split is
    # one short document, so its loss is not compared with the training data's entropy)
    assert metrics[-1]["val_loss"] < math.log(read_plan(TINY_PLAN).model.vocab_size)


def test_dp2_run_trains_100_steps_and_ends_below_the_unigram_entropy(dp2_run, entropy_nats):
    metrics = read_metrics(dp2_run)
    assert len(metrics) == NUM_STEPS
    print(f"FIGURE dp2: loss {metrics[0]['loss']:.4f} -> {_final_loss(dp2_run):.4f} (mean of last 10), "
          f"unigram entropy {entropy_nats:.4f} nats, val_loss {metrics[-1]['val_loss']:.4f}")
    assert _final_loss(dp2_run) < entropy_nats
    assert metrics[-1]["val_loss"] < math.log(read_plan(TINY_PLAN).model.vocab_size)


def test_tp1_and_tp2_give_the_same_losses_for_the_first_10_steps(tp2_run, prepared_data, tmp_path):
    run_train(1, plan_variant(tmp_path, **TP1_PLAN_CHANGES), prepared_data, tmp_path / "run", "--max-steps", "10")
    tp1, tp2 = losses(tmp_path / "run"), losses(tp2_run)
    assert len(tp1) == 10
    print(f"FIGURE tp1 vs tp2, steps 1-10: max |diff| {max(abs(tp1[s] - tp2[s]) for s in tp1):.3g}")
    for step in range(1, 11):
        assert tp2[step] == pytest.approx(tp1[step], abs=1e-4), step


def test_dp2_matches_tp2_step_for_step_because_the_global_batch_is_the_same(tp2_run, dp2_run):
    tp2, dp2 = losses(tp2_run), losses(dp2_run)
    for step in range(1, 11):
        assert dp2[step] == pytest.approx(tp2[step], abs=1e-4), step


def test_metrics_have_the_contract_fields_and_the_lr_follows_warmup(tp2_run):
    metrics = read_metrics(tp2_run)
    for key in ("step", "loss", "lr", "grad_norm", "tokens_per_s", "mfu", "memory_bytes"):
        assert all(isinstance(m[key], int | float) for m in metrics), key
    recipe = read_plan(TINY_PLAN).recipe
    assert metrics[0]["lr"] == 0.0  # Megatron's linear warmup starts at 0
    assert metrics[10]["lr"] == pytest.approx(recipe.lr * 10 / recipe.warmup_steps)
    assert max(m["lr"] for m in metrics) == pytest.approx(recipe.lr, rel=1e-3)
    assert all(m["tokens_per_s"] > 0 and m["mfu"] > 0 for m in metrics)


def test_checkpoints_follow_the_plan_interval_and_latest_points_at_the_last(tp2_run):
    root = tp2_run / "checkpoints"
    assert sorted(p.name for p in root.glob("iter_*")) == ["iter_0000050", "iter_0000100"]
    assert json.loads((root / "latest").read_text()) == {"iteration": 100, "dir": "iter_0000100"}
    assert (root / "latest_checkpointed_iteration.txt").read_text().strip() == "100"
    assert (root / "iter_0000100" / "metadata.json").is_file()


def test_a_tp2_checkpoint_loads_for_inference_in_one_process(tp2_run, prepared_data, entropy_nats):
    import subprocess
    import sys

    from test_train_support import ROOT, test_env

    script = (
        "import json, sys, torch, numpy as np\n"
        "from executor.train.checkpoint import load_for_inference\n"
        "from executor.train.engine import causal_mask\n"
        "from megatron.core.datasets.indexed_dataset import IndexedDataset\n"
        f"model, tok = load_for_inference({str(tp2_run)!r})\n"
        f"ds = IndexedDataset({str(prepared_data / 'pydoc_text_document')!r})  # keep the mmap open\n"
        "doc = np.concatenate([np.array(ds[i]) for i in range(8)])\n"
        "x = torch.tensor(doc[:257].astype(np.int64)).unsqueeze(0)\n"
        "with torch.no_grad():\n"
        "    logits = model(x[:, :-1], torch.arange(256).unsqueeze(0), causal_mask(256, 'cpu'))\n"
        "lp = torch.log_softmax(logits[..., :tok.vocab_size].float(), -1)\n"
        "nll = -lp.gather(-1, x[:, 1:].unsqueeze(-1)).mean().item()\n"
        "print('RESULT', json.dumps({'nll': nll, 'vocab': tok.vocab_size, 'tp': 1}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=test_env(), capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert result["nll"] < entropy_nats  # the trained weights, resharded from TP=2 to TP=1


def test_sigkill_after_a_checkpoint_then_resume_continues_the_uninterrupted_loss_curve(
        tp2_run, prepared_data, tmp_path):
    """The TP=2 run above is the uninterrupted reference (checkpoint interval does not change the math)."""
    plan = plan_variant(tmp_path, reliability__checkpoint_interval_steps=5)
    out = tmp_path / "killed"
    job = subprocess.Popen(torchrun_argv(2, plan, prepared_data, out, "--max-steps", "12"), cwd=ROOT,
                           env=test_env(), start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_for(lambda: _latest(out) is not None, job, 600)
        os.killpg(job.pid, signal.SIGKILL)
    finally:
        job.wait()
    killed_at = _latest(out)
    assert killed_at in (5, 10)
    run_train(2, plan, prepared_data, out, "--max-steps", "12")
    resumed, uninterrupted = losses(out), losses(tp2_run)
    assert [m["step"] for m in read_metrics(out)] == list(range(1, 13))  # no step lost or logged twice
    diff = max(abs(resumed[s] - uninterrupted[s]) for s in range(killed_at + 1, 13))
    print(f"FIGURE kill at checkpoint {killed_at}, resume to 12: max |diff| vs uninterrupted {diff:.3g}")
    for step in range(killed_at + 1, 13):
        assert resumed[step] == pytest.approx(uninterrupted[step], abs=1e-6), step
