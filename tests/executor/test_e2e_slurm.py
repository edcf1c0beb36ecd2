"""End to end on a real two-node Slurm cluster (scripts/local-slurm.sh start --nodes 2): an approved
tiny plan runs as dependent sbatch jobs (prepare-shards, a real job array of one task per shard ->
the prepare merge job, afterok on the whole array -> train -> evaluate), read back from `scontrol
show job` (the cluster keeps no accounting, so no sacct). Training
is ONE job over both nodes: srun starts one torchrun per node (c10d rendezvous on the first node's
NodeAddr), DP=2 with TP=1, one rank on each node. Mid-run, every training process of node n2
is SIGKILLed: the job restarts the step from the latest checkpoint in the same allocation
(logs/train-attempts.jsonl, `llmplan status`). Later the training job is scancel'ed and `llmplan
resume` finishes it from its checkpoint; nothing that finished runs again and every step is in
metrics.jsonl exactly once, and every checkpoint step was written once (rank 0 logs each save once
over all attempts; each iter_* directory's torch_dist metadata holds both ranks' files and RNG
shards exactly once)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from exec_helpers import _slurm_cluster, cli, e2e_plan, latest_checkpoint_step, metric_steps, wait_for

from executor.backends.slurm import query_job, read_attempts
from executor.rundir import read_state

pytestmark = [pytest.mark.slurm, pytest.mark.slow]
PWNED = Path("/tmp/llmplan-pwned")
slurm_cluster = pytest.fixture(scope="session")(_slurm_cluster)


def job_state(job_id: str) -> str:
    return (query_job(job_id) or [{}])[0].get("JobState", "?")


def task_ids(records: list[dict[str, str]]) -> list[int]:
    """The array task ids of an array job's `scontrol show job` records ("0-1" while pending together)."""
    out = []
    for record in records:
        first, _, last = record["ArrayTaskId"].partition("-")
        out += range(int(first), int(last or first) + 1)
    return sorted(out)


def check_prepare_array(run_dir: Path, array_id: str, merge_id: str, merge_seen: dict[str, str]) -> str:
    """prepare ran as a real array job (one task per shard, each its own log) and the merge job ran
    after the whole array (afterok:ARRAY_*); returns the evidence line for the closing figure."""
    records = query_job(array_id)
    assert {r["ArrayJobId"] for r in records} == {array_id} and task_ids(records) == [0, 1], records
    assert all(r["JobName"].endswith("-prepare-shards") and r["JobState"] == "COMPLETED" for r in records), records
    merge = query_job(merge_id)[0]
    assert merge["JobName"].endswith("-prepare") and merge["JobState"] == "COMPLETED" and "ArrayJobId" not in merge
    if merge_seen["JobState"] == "PENDING":  # seen before the array ended: waiting on every task of it
        assert merge_seen["Dependency"] == f"afterok:{array_id}_*(unfulfilled)", merge_seen
    assert merge["EligibleTime"] >= max(r["EndTime"] for r in records) and merge["StartTime"] >= merge["EligibleTime"]
    assert f"#SBATCH --dependency=afterok:{array_id}" in (run_dir / "jobs" / "prepare.sbatch").read_text()
    assert sorted(p.name for p in (run_dir / "logs").glob("prepare-shards-*.log")) == [
        "prepare-shards-0.log", "prepare-shards-1.log"]
    tasks = ", ".join(f"{r['JobId']} = {array_id}_{r['ArrayTaskId']} {r['JobState']} {r['StartTime']}..{r['EndTime']}"
                      for r in sorted(records, key=lambda r: int(r["ArrayTaskId"])))
    return (f"array {array_id} tasks [{tasks}]; merge {merge_id} {merge['JobState']}, seen {merge_seen['JobState']} "
            f"with Dependency={merge_seen['Dependency']}, eligible {merge['EligibleTime']}")


def training_processes(run_dir: Path) -> list[tuple[int, str, str]]:
    """(pid, SLURMD_NODENAME, RANK or '' for the torchrun agent) of this run's training processes."""
    out = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmd = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            env = dict(kv.split("=", 1) for kv in (proc / "environ").read_bytes().decode(errors="replace").split("\0")
                       if "=" in kv)
        except OSError:
            continue
        if f"executor.train {run_dir}/plan.yaml" in cmd and "srun" not in cmd and "SLURMD_NODENAME" in env:
            out.append((int(proc.name), env["SLURMD_NODENAME"], env.get("RANK", "")
                        if "torch.distributed.run" not in cmd else ""))
    return out


def checkpoint_writes(run_dir: Path) -> dict[str, int]:
    """How many times each iter_* checkpoint was written: rank 0's save lines in the per-node logs
    (`checkpoint iter_NNNNNNN written by 2 ranks`), over every attempt."""
    import re
    from collections import Counter

    text = "".join(p.read_text(errors="replace") for p in (run_dir / "logs").glob("train-*-*.log"))
    return dict(Counter(re.findall(r"checkpoint (iter_\d{7}) written by 2 ranks", text)))


def check_single_writers(iter_dir: Path) -> int:
    """The torch_dist metadata of one checkpoint: each rank's file once, each rank's RNG shard once, no
    two entries writing the same bytes (a duplicate writer would add entries or files). Returns the
    number of stored entries."""
    from torch.distributed.checkpoint import FileSystemReader

    meta = FileSystemReader(str(iter_dir)).read_metadata()
    files = {info.relative_path for info in meta.storage_data.values()}
    assert files == {"__0_0.distcp", "__1_0.distcp"} == {p.name for p in iter_dir.glob("*.distcp")}, files
    rng = sorted(index.fqn for index in meta.storage_data if index.fqn.startswith("rng_state/"))
    assert rng == ["rng_state/shard_0_2", "rng_state/shard_1_2"], rng
    spans = sorted((info.relative_path, info.offset, info.offset + info.length) for info in meta.storage_data.values())
    for (f1, _, end), (f2, start, _) in zip(spans, spans[1:]):
        assert f1 != f2 or end <= start, f"{iter_dir.name}: two entries write {f1} bytes {start}..{end}"
    return len(spans)


def test_the_tiny_plan_trains_over_two_nodes_survives_a_node_crash_and_resumes_after_scancel(tmp_path, slurm_cluster):
    PWNED.unlink(missing_ok=True)
    started = time.monotonic()
    plan_file = e2e_plan(tmp_path, note="$(touch /tmp/llmplan-pwned) `touch /tmp/llmplan-pwned`", nodes=2)
    run_dir = tmp_path / "run"
    code, out = cli("execute", str(plan_file), "--backend", "slurm", "--run-dir", str(run_dir))
    assert code == 0, out
    state = read_state(run_dir)
    ids = {name: s.attempts[-1].job_id for name, s in state.stages.items()}
    assert all(i.isdigit() for i in ids.values())
    train_script = (run_dir / "jobs" / "train.sbatch").read_text()
    assert f"#SBATCH --dependency=afterok:{ids['prepare']}" in train_script and "#SBATCH --nodes=2" in train_script
    assert "Dependency" in subprocess.run(["squeue", "-h", "-j", ids["evaluate"], "-o", "%r"],
                                          capture_output=True, text=True).stdout
    array_id = state.stages["prepare"].attempts[-1].extra_job_ids[0]  # prepare-shards, beside the merge job
    merge_seen = query_job(ids["prepare"])[0]
    wait_for(lambda: job_state(ids["prepare"]) == "COMPLETED", 300, "the prepare array and merge job")
    array_evidence = check_prepare_array(run_dir, array_id, ids["prepare"], merge_seen)

    # one job over both nodes, one rank on each (the c10d rendezvous decides which node gets rank 0)
    wait_for(lambda: max(metric_steps(run_dir), default=0) >= 24, 600, "training past step 24")
    assert query_job(ids["train"])[0]["NodeList"] == "n[1-2]"
    procs = training_processes(run_dir)
    ranks = {node: rank for _, node, rank in procs if rank}
    assert sorted(ranks) == ["n1", "n2"] and sorted(ranks.values()) == ["0", "1"], procs
    # a node crash: every training process of n2 (torchrun agent and trainer) SIGKILLed
    for pid, node, _ in procs:
        if node == "n2":
            os.kill(pid, signal.SIGKILL)
    crash_step = max(metric_steps(run_dir))
    wait_for(lambda: read_attempts(run_dir), 120, "the failed attempt recorded")
    first = read_attempts(run_dir)[0]
    assert first["exit_code"] != 0 and first["checkpoint_step"] == 20 and first["last_step"] >= crash_step
    assert "n2: task 1" in first["cause"], first  # the first error srun reported: the killed node
    steps_lost = first["last_step"] - first["checkpoint_step"]
    # the restarted step trains on in the same job, then the job is scancel'ed
    wait_for(lambda: max(metric_steps(run_dir), default=0) >= 44, 300, "the restarted training past step 44")
    assert job_state(ids["train"]) == "RUNNING"
    subprocess.run(["scancel", ids["train"]], check=True)
    wait_for(lambda: job_state(ids["train"]) == "CANCELLED" and job_state(ids["evaluate"]) == "CANCELLED",
             120, "train and evaluate CANCELLED (kill-on-invalid-dep)")
    code, out = cli("status", str(run_dir))
    assert "train     CANCELLED" in out and "evaluate  CANCELLED" in out and "prepare   COMPLETED" in out
    assert f"train attempt 1 (job {ids['train']}" in out and f"{steps_lost} steps lost" in out, out
    stopped_at = latest_checkpoint_step(run_dir)
    assert 40 <= stopped_at < 60

    code, out = cli("resume", str(run_dir), "--wait", "700")
    assert code == 0, out
    assert "resubmitted: train, evaluate" in out
    code, out = cli("status", str(run_dir))
    for stage in ("prepare", "train", "evaluate"):
        assert f"  {stage:<9} COMPLETED" in out
    state = read_state(run_dir)
    assert len(state.stages["prepare"].attempts) == 1 and len(state.stages["train"].attempts) == 2
    assert state.stages["train"].attempts[-1].job_id != ids["train"]
    attempts = read_attempts(run_dir)
    assert attempts[-1]["job_id"] == state.stages["train"].attempts[-1].job_id and attempts[-1]["exit_code"] == 0
    steps = metric_steps(run_dir)
    assert sorted(set(steps)) == list(range(1, 61)) and len(steps) == len(set(steps)), "a step repeated"
    assert latest_checkpoint_step(run_dir) == 60
    # each checkpoint step written once, by both ranks' shards once each (no duplicate writers)
    iter_dirs = sorted(p.name for p in (run_dir / "checkpoints").glob("iter_*"))
    writes = checkpoint_writes(run_dir)
    assert sorted(writes) == iter_dirs and set(writes.values()) == {1}, writes
    assert {"iter_0000020", "iter_0000040", f"iter_{stopped_at:07d}", "iter_0000060"} == set(iter_dirs)
    entries = {name: check_single_writers(run_dir / "checkpoints" / name) for name in iter_dirs}
    assert list((run_dir / "data").glob("*.bin")) and json.loads((run_dir / "eval" / "results.json").read_text())
    assert sorted(p.name for p in (run_dir / "jobs").glob("*.sbatch")) == [
        "evaluate.sbatch", "prepare-shards.sbatch", "prepare.sbatch", "train.sbatch"]
    batch_log = (run_dir / "logs" / "train.log").read_text()
    assert "on 2 nodes (n1 n2)" in batch_log and "restart 1 of" in batch_log
    assert (run_dir / "site.yaml").read_text().endswith("site: {}\n")  # the (default) site options, recorded
    rank_logs = sorted(p.name for p in (run_dir / "logs").glob("train-*-*.log"))
    assert len(rank_logs) == 2 and rank_logs[0].endswith("-0.log") and rank_logs[1].endswith("-1.log")
    assert not PWNED.exists()
    print(f"FIGURE slurm prepare: {array_evidence}")
    print(f"FIGURE slurm e2e over 2 nodes: ranks {ranks}, crash at step {crash_step}: attempt 1 exit "
          f"{first['exit_code']} ({first['cause']}), {steps_lost} steps lost; scancel at checkpoint {stopped_at}, "
          f"resume -> all COMPLETED, {len(steps)} steps once each; checkpoints written once each {writes}, "
          f"metadata entries {entries}; {time.monotonic() - started:.0f} s")
