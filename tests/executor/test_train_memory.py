"""The planner's per-rank parameter and optimizer bytes equal what the trainer allocates (TP=2, CPU).

Runs `torchrun --nproc_per_node=2 -m executor.train.footprint` on the tiny plan: the job is built
exactly as training builds it, takes one real optimizer step, and every rank counts the bytes of
its parameters, gradients and AdamW moments; planner.compute.memory (`per_rank_parameter_count`,
`per_rank_memory`, Megatron's bytes per parameter: fp32 weight 4, grad 4, Adam m and v 8;
Megatron-LM theoretical_memory_usage.py) predicts the same numbers for the same rank.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from test_train_support import ROOT, TINY_PLAN, prepared_data, test_env  # noqa: F401 - fixture

pytestmark = pytest.mark.slow


def test_planner_predicts_the_exact_parameter_gradient_and_optimizer_bytes_of_each_tp2_rank(prepared_data, tmp_path):
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
            "-m", "executor.train.footprint", str(TINY_PLAN), "--data", str(prepared_data),
            "--cache", str(tmp_path / "cache")]
    proc = subprocess.run(argv, cwd=ROOT, env=test_env(), capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.split("FOOTPRINT ", 1)[1].splitlines()[0])
    assert [r["tp_rank"] for r in report["ranks"]] == [0, 1]
    for rank in report["ranks"]:
        measured, predicted = rank["measured"], rank["predicted"]
        for key in ("num_parameters", "weights_bytes", "gradients_bytes", "optimizer_bytes"):
            assert measured[key] == predicted[key], (rank["rank"], key)
        # torch AdamW's per-tensor step counters (4 bytes per parameter tensor) are not model state
        assert measured["optimizer_step_counter_bytes"] < 1e-4 * measured["optimizer_bytes"]
