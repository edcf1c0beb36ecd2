"""End to end on the local backend with the real stages: prepare (its shard array in a process pool,
then the merge job) -> train (torchrun, 2 processes,
TP=2 on CPU) -> evaluate; the training job is cancelled mid-run and `llmplan resume` finishes it
from its latest checkpoint without repeating finished work."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from exec_helpers import cli, e2e_plan, latest_checkpoint_step, metric_steps, wait_for

from executor.rundir import read_state

pytestmark = pytest.mark.slow
PWNED = Path("/tmp/llmplan-pwned")


def test_an_approved_tiny_plan_runs_end_to_end_locally_and_survives_a_cancel(tmp_path):
    PWNED.unlink(missing_ok=True)
    started = time.monotonic()
    plan_file = e2e_plan(tmp_path, note="ok $(touch /tmp/llmplan-pwned) `touch /tmp/llmplan-pwned`")
    run_dir = tmp_path / "run"
    code, out = cli("execute", str(plan_file), "--backend", "local", "--run-dir", str(run_dir))
    assert code == 0, out

    # cancel training once it has passed its first checkpoint (step 20)
    wait_for(lambda: max(metric_steps(run_dir), default=0) >= 24, 600, "training past step 24")
    code, out = cli("cancel", str(run_dir))
    assert code == 0, out
    state = read_state(run_dir)
    assert [s.status for s in state.stages.values()] == ["COMPLETED", "CANCELLED", "CANCELLED"]
    stopped_at = latest_checkpoint_step(run_dir)
    assert 20 <= stopped_at < 60  # SIGTERM made the trainer checkpoint where it stood

    code, out = cli("resume", str(run_dir), "--wait", "700")
    assert code == 0, out
    assert "resubmitted: train, evaluate" in out

    code, out = cli("status", str(run_dir))
    assert code == 0, out
    for stage in ("prepare", "train", "evaluate"):
        assert f"  {stage:<9} COMPLETED" in out
    assert "GPU-hours" in out
    state = read_state(run_dir)
    assert len(state.stages["prepare"].attempts) == 1  # prepare never repeated
    assert len(state.stages["train"].attempts) == 2
    steps = metric_steps(run_dir)
    assert sorted(set(steps)) == list(range(1, 61)) and len(steps) == len(set(steps)), "a step repeated"
    log = (run_dir / "logs" / "train.log").read_text()
    assert str(stopped_at) in log  # the second attempt resumed from the checkpoint
    assert (run_dir / "data" / "tokenizer.json").exists() and list((run_dir / "data").glob("*.bin"))
    # prepare ran as its array (one process per shard, each its own log) and then the merge job
    shard_logs = sorted(p.name for p in (run_dir / "logs").glob("prepare-shards-*.log"))
    assert shard_logs == ["prepare-shards-0.log", "prepare-shards-1.log"]
    assert "=== llmplan prepare started" in (run_dir / "logs" / "prepare.log").read_text()
    assert len(state.stages["prepare"].attempts[0].extra_job_ids) == 2  # the two tasks' PIDs
    assert latest_checkpoint_step(run_dir) == 60
    assert json.loads((run_dir / "eval" / "results.json").read_text())
    assert (run_dir / "plan.yaml").read_bytes() == plan_file.read_bytes()
    assert not PWNED.exists()
    print(f"local e2e with cancel and resume: {time.monotonic() - started:.0f} s")
