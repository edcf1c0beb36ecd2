"""End to end on a real one-node Slurm cluster (scripts/local-slurm.sh): an approved tiny plan runs
as dependent sbatch jobs (prepare shard array + finish -> train with srun + torchrun, 2 processes,
TP=2 on CPU -> evaluate); the training job is scancel'ed mid-run and `llmplan resume` finishes it
from its latest checkpoint; nothing that finished runs again."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest
from exec_helpers import _slurm_cluster, cli, e2e_plan, latest_checkpoint_step, metric_steps, wait_for

from executor.backends.slurm import query_job
from executor.rundir import read_state

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
PWNED = Path("/tmp/llmplan-pwned")
slurm_cluster = pytest.fixture(scope="session")(_slurm_cluster)


def job_state(job_id: str) -> str:
    return (query_job(job_id) or [{}])[0].get("JobState", "?")


def test_an_approved_tiny_plan_runs_on_slurm_and_resumes_after_scancel(tmp_path, slurm_cluster):
    PWNED.unlink(missing_ok=True)
    started = time.monotonic()
    plan_file = e2e_plan(tmp_path, note="$(touch /tmp/llmplan-pwned) `touch /tmp/llmplan-pwned`")
    run_dir = tmp_path / "run"
    code, out = cli("execute", str(plan_file), "--backend", "slurm", "--run-dir", str(run_dir))
    assert code == 0, out
    state = read_state(run_dir)
    ids = {name: s.attempts[-1].job_id for name, s in state.stages.items()}
    assert all(i.isdigit() for i in ids.values())
    train_script = (run_dir / "jobs" / "train.sbatch").read_text()
    assert f"#SBATCH --dependency=afterok:{ids['prepare']}" in train_script
    assert "Dependency" in subprocess.run(["squeue", "-h", "-j", ids["evaluate"], "-o", "%r"],
                                          capture_output=True, text=True).stdout

    wait_for(lambda: max(metric_steps(run_dir), default=0) >= 24, 600, "training past step 24")
    subprocess.run(["scancel", ids["train"]], check=True)
    wait_for(lambda: job_state(ids["train"]) == "CANCELLED" and job_state(ids["evaluate"]) == "CANCELLED",
             120, "train and evaluate CANCELLED (kill-on-invalid-dep)")
    code, out = cli("status", str(run_dir))
    assert "train     CANCELLED" in out and "evaluate  CANCELLED" in out and "prepare   COMPLETED" in out
    stopped_at = latest_checkpoint_step(run_dir)
    assert 20 <= stopped_at < 60

    code, out = cli("resume", str(run_dir), "--wait", "700")
    assert code == 0, out
    assert "resubmitted: train, evaluate" in out
    code, out = cli("status", str(run_dir))
    for stage in ("prepare", "train", "evaluate"):
        assert f"  {stage:<9} COMPLETED" in out
    state = read_state(run_dir)
    assert len(state.stages["prepare"].attempts) == 1 and len(state.stages["train"].attempts) == 2
    assert state.stages["train"].attempts[-1].job_id != ids["train"]
    steps = metric_steps(run_dir)
    assert sorted(set(steps)) == list(range(1, 61)) and len(steps) == len(set(steps)), "a step repeated"
    assert latest_checkpoint_step(run_dir) == 60
    assert list((run_dir / "data").glob("*.bin")) and json.loads((run_dir / "eval" / "results.json").read_text())
    assert sorted(p.name for p in (run_dir / "jobs").glob("*.sbatch")) == [
        "evaluate.sbatch", "prepare-shards.sbatch", "prepare.sbatch", "train.sbatch"]
    assert not PWNED.exists()
    print(f"slurm e2e with scancel and resume: {time.monotonic() - started:.0f} s")
