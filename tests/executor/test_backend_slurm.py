"""The Slurm backend on a real one-node cluster (scripts/local-slurm.sh), stages played by
fake_stage.py so each test takes seconds: dependencies, failure propagation, cancel, and the
requeue path (USR1 before the time limit -> checkpoint -> requeue -> the job finishes the rest)."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from exec_helpers import _slurm_cluster, metric_steps, new_fake_run, wait_final, wait_for

from executor.backends.slurm import SlurmBackend, parse_scontrol, query_job, slurm_status

pytestmark = pytest.mark.slurm
slurm_cluster = pytest.fixture(scope="session")(_slurm_cluster)
STAGES = ["prepare", "train", "evaluate"]


def scontrol(job_id: str) -> dict[str, str]:
    return query_job(job_id)[0]


def train_logs(run_dir: str) -> str:
    """The batch shell's log and the per-node step logs (srun --output=logs/train-%N-%t.log)."""
    return "".join(p.read_text() for p in sorted(Path(run_dir, "logs").glob("train*.log")))


def test_scontrol_records_parse_into_a_stage_status():
    line = ("JobId=7 JobName=t UserId=root(0) JobState=COMPLETED Reason=None ExitCode=0:0 "
            "StartTime=2026-11-27T10:00:00 EndTime=2026-11-27T10:05:00")
    status, start, end, code = slurm_status(parse_scontrol(line))
    assert status == "COMPLETED" and code == 0 and (end - start).total_seconds() == 300
    pending = parse_scontrol("JobId=8 JobState=PENDING StartTime=2026-11-28T10:00:00 EndTime=Unknown")
    assert slurm_status(pending) == ("PENDING", None, None, None)  # an estimated start is no start


def test_three_stages_run_as_dependent_sbatch_jobs_and_complete(tmp_path, slurm_cluster):
    plan, graph = new_fake_run(tmp_path, "slurm")
    backend = SlurmBackend()
    state = backend.submit(graph, plan, STAGES)
    ids = [s.attempts[-1].job_id for s in state.stages.values()]
    assert scontrol(ids[2])["JobState"] == "PENDING"
    state = wait_final(backend.status, graph.run_dir, 240)
    assert [s.status for s in state.stages.values()] == ["COMPLETED"] * 3
    starts = [s.attempts[-1].started_at for s in state.stages.values()]
    ends = [s.attempts[-1].ended_at for s in state.stages.values()]
    assert starts[1] >= ends[0] and starts[2] >= ends[1]
    invoked = Path(graph.run_dir, "invocations.txt").read_text().split()
    assert (invoked.count("prepare-shards"), invoked.count("prepare")) == (2, 1)  # 2 array tasks, then the merge
    assert len(state.stages["prepare"].attempts[-1].extra_job_ids) == 1  # the array job, beside the merge
    assert "rank 1 of 2" in train_logs(graph.run_dir)  # srun -> torchrun, 2 ranks


def test_a_failed_stage_cancels_its_dependents_through_kill_on_invalid_dep(tmp_path, slurm_cluster):
    plan, graph = new_fake_run(tmp_path, "slurm", env={"FAKE_FAIL_STAGE": "train"})
    backend = SlurmBackend()
    backend.submit(graph, plan, STAGES)
    state = wait_final(backend.status, graph.run_dir, 240)
    assert [s.status for s in state.stages.values()] == ["COMPLETED", "FAILED", "CANCELLED"]
    assert state.stages["train"].attempts[-1].exit_code != 0
    from executor.backends.slurm import read_attempts  # the crash restarts are bounded: 1 run + max_restarts (2)
    assert [a["exit_code"] != 0 for a in read_attempts(graph.run_dir)] == [True] * (1 + graph.job("train").max_restarts)


def test_usr1_before_the_time_limit_checkpoints_requeues_and_the_job_finishes(tmp_path, slurm_cluster):
    plan, graph = new_fake_run(tmp_path, "slurm", env={"FAKE_STEPS": "80", "FAKE_STEP_S": "0.1"})
    backend = SlurmBackend()
    state = backend.submit(graph, plan, STAGES)
    train_id = state.stages["train"].attempts[-1].job_id
    wait_for(lambda: max(metric_steps(graph.run_dir), default=0) >= 10, 240, "10 training steps")
    assert backend.status(graph.run_dir).stages["train"].status == "RUNNING"
    subprocess.run(["scancel", "--signal=USR1", "--batch", train_id], check=True)  # what --signal=B:USR1 does
    wait_for(lambda: scontrol(train_id).get("Restarts") == "1" and scontrol(train_id)["JobState"] == "PENDING",
             120, "the train job requeued")
    stopped_at = max(metric_steps(graph.run_dir))
    assert stopped_at < 80
    # Slurm holds a requeued job ~2 min; skip the hold once the first run's batch step is gone
    # (released earlier, slurmctld kills it: "Job credential revoked")
    time.sleep(5)
    subprocess.run(["scontrol", "update", f"jobid={train_id}", "StartTime=now"], check=True)
    state = wait_final(backend.status, graph.run_dir, 240)
    assert [s.status for s in state.stages.values()] == ["COMPLETED"] * 3
    assert metric_steps(graph.run_dir) == list(range(1, 81))  # resumed at the checkpoint: no step twice
    first, second = state.stages["train"].attempts  # both runs of the requeued job are counted
    assert first.job_id == second.job_id == train_id and second.restarts == 1
    assert first.started_at <= first.ended_at <= second.started_at
    assert "resuming at step " + str(stopped_at) in train_logs(graph.run_dir)


def test_cancel_stops_every_unfinished_stage(tmp_path, slurm_cluster):
    plan, graph = new_fake_run(tmp_path, "slurm", env={"FAKE_STEPS": "3000"})
    backend = SlurmBackend()
    backend.submit(graph, plan, STAGES)
    wait_for(lambda: max(metric_steps(graph.run_dir), default=0) >= 5, 240, "5 training steps")
    state = backend.cancel(graph.run_dir)
    assert [s.status for s in state.stages.values()] == ["COMPLETED", "CANCELLED", "CANCELLED"]
    assert 0 < int(Path(graph.run_dir, "checkpoints", "latest").read_text()) < 3000  # checkpointed on SIGTERM


def test_the_32_node_site_bundle_scaled_to_the_local_cluster_submits_and_every_job_starts(tmp_path, slurm_cluster):
    """The golden 32-node H100 bundle with its site profile, with what only the real cluster has
    replaced: GPU requests stripped, 32 -> 2 nodes, CPUs/memory to the local nodes', the site's
    partition/account/QoS/constraint/reservation and Pyxis container flags and `module load` lines
    removed, 1000 shard tasks -> 4, the run root -> tmp and the venv's python -> a stub that prints
    where it ran. Everything else (dependencies, srun per node, the restart loop) runs as rendered."""
    import re

    from test_slurm_render import GOLDEN

    text = (GOLDEN / "bundle_h100_32n_site.sh").read_text()
    run_dir, venv = tmp_path / "run", tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    stub = venv / "bin" / "python"
    stub.write_text('#!/bin/bash\necho "stub python on $SLURMD_NODENAME task ${SLURM_PROCID:-0}: $*"\n')
    stub.chmod(0o755)
    local = text.replace("/lustre/proj-llm/runs/h100-32n", str(run_dir)).replace("/lustre/proj-llm/venvs/llmplan", str(venv))
    local = re.sub(r"#SBATCH --(gpus-per-node|partition|account|qos|constraint|reservation)=\S+\n", "", local)
    local = re.sub(r"module load \S+\n", "", local)
    local = re.sub(r"'--container-image=\S+' --container-mounts=\S+ ", "", local)
    local = local.replace("#SBATCH --nodes=32", "#SBATCH --nodes=2").replace("--array=0-999", "--array=0-3")
    local = re.sub(r"#SBATCH --cpus-per-task=\d+", "#SBATCH --cpus-per-task=1", local)
    local = re.sub(r"#SBATCH --mem=\d+G", "#SBATCH --mem=1G", local)
    assert "--gpus" not in local and "/lustre" not in local and "--container" not in local
    done = subprocess.run(["bash", "-c", local], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    ids = dict(line.split(": ") for line in done.stdout.splitlines())
    assert list(ids) == ["prepare-shards", "prepare", "train", "evaluate"]

    def finished() -> bool:
        return all(slurm_status(query_job(i))[0] in ("COMPLETED", "FAILED", "CANCELLED") for i in ids.values())

    wait_for(finished, 240, "every job of the bundle to end")
    for stage, job_id in ids.items():
        records = query_job(job_id)
        assert slurm_status(records)[0] == "COMPLETED", (stage, records)
        assert all(r.get("StartTime") not in (None, "Unknown") for r in records)
    assert query_job(ids["train"])[0]["NodeList"] == "n[1-2]"
    logs = {p.name: p.read_text() for p in (run_dir / "logs").glob("*.log")}
    assert sum(name.startswith("prepare-shards-") for name in logs) == 4
    rank_logs = "".join(v for k, v in logs.items() if k.startswith("train-"))
    assert "task 0: -m torch.distributed.run --nnodes=2 --nproc_per_node=8" in rank_logs and "task 1:" in rank_logs


def test_status_lines_name_each_training_attempt_its_cause_and_the_steps_lost(tmp_path):
    from executor.backends.slurm import restart_report

    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "train-attempts.jsonl").write_text(
        '{"job_id": "9", "attempt": 1, "exit_code": 137, "started": "a", "ended": "b", "last_step": 27, '
        '"checkpoint_step": 20, "requeue": 0, "cause": "srun: error: n2: task 1: Killed"}\n'
        '{"job_id": "9", "attempt": 2, "exit_code": 0, "started": "c", "ended": "d", "last_step": 44, '
        '"checkpoint_step": 44, "requeue": 1, "cause": ""}\n{"job_id": "9", "attem\n'  # a line cut by a node failure
        '{"job_id": "12", "attempt": 1, "exit_code": 0, "started": "e", "ended": "f", "last_step": 60, '
        '"checkpoint_step": 60, "requeue": 0, "cause": ""}\n')
    lines = restart_report(tmp_path)
    assert len(lines) == 3
    assert "FAILED exit 137 (srun: error: n2: task 1: Killed); reached step 27, checkpoint at 20: 7 steps lost" in lines[0]
    assert "checkpointed and requeued at step 44" in lines[1] and lines[2].endswith("completed")
    assert restart_report(tmp_path / "none") == []
