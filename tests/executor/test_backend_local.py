"""The local backend with real subprocesses and real torchrun (stages played by fake_stage.py)."""

from __future__ import annotations

from pathlib import Path

from exec_helpers import new_fake_run, wait_final, wait_for

from executor.backends.local import LocalBackend, pool_width
from executor.costs import cost_report
from executor.rundir import read_state


def invocations(run_dir: str) -> list[str]:
    return Path(run_dir, "invocations.txt").read_text().split()


def test_three_stages_run_in_dependency_order_and_complete(tmp_path):
    plan, graph = new_fake_run(tmp_path)
    backend = LocalBackend()
    backend.submit(graph, plan, ["prepare", "train", "evaluate"])
    state = wait_final(backend.status, graph.run_dir)
    assert {s.stage: s.status for s in state.stages.values()} == {
        "prepare": "COMPLETED", "train": "COMPLETED", "evaluate": "COMPLETED"}
    assert invocations(graph.run_dir) == ["prepare-shards", "prepare-shards", "prepare", "train", "evaluate"]
    assert Path(graph.run_dir, "eval", "results.json").exists()
    train = state.stages["train"].attempts[-1]
    assert train.exit_code == 0 and train.started_at >= state.stages["prepare"].attempts[-1].ended_at
    log = Path(graph.run_dir, "logs", "train.log").read_text()
    assert "rank 0 of 2: resuming at step 0" in log and "rank 1 of 2: resuming at step 0" in log
    assert cost_report(plan, state).gpu_hours_so_far > 0


def _run_failing(tmp_path, job: str):
    """A fake run whose `job` exits non-zero, run to its end on the local backend."""
    plan, graph = new_fake_run(tmp_path, env={"FAKE_FAIL_STAGE": job})
    LocalBackend().submit(graph, plan, ["prepare", "train", "evaluate"])
    return graph, wait_final(LocalBackend().status, graph.run_dir)


def test_a_failing_stage_stops_the_chain_and_dependents_are_cancelled(tmp_path):
    graph, state = _run_failing(tmp_path, "train")
    assert [s.status for s in state.stages.values()] == ["COMPLETED", "FAILED", "CANCELLED"]
    assert state.stages["train"].attempts[-1].exit_code != 0
    assert "evaluate" not in invocations(graph.run_dir)


def test_cancel_from_another_process_checkpoints_and_resume_continues_without_repeating(tmp_path):
    plan, graph = new_fake_run(tmp_path, env={"FAKE_STEPS": "60", "FAKE_STEP_S": "0.1"})
    backend = LocalBackend()
    backend.submit(graph, plan, ["prepare", "train", "evaluate"])
    metrics = Path(graph.run_dir, "metrics.jsonl")
    wait_for(lambda: metrics.exists() and len(metrics.read_text().splitlines()) >= 12, 60, "12 steps")
    state = LocalBackend().cancel(graph.run_dir)  # a fresh backend object: only run.json is shared
    assert [s.status for s in state.stages.values()] == ["COMPLETED", "CANCELLED", "CANCELLED"]
    stopped_at = int(Path(graph.run_dir, "checkpoints", "latest").read_text())
    assert 12 <= stopped_at < 60
    backend.submit(graph, plan, ["train", "evaluate"])
    state = wait_final(backend.status, graph.run_dir)
    assert [s.status for s in state.stages.values()] == ["COMPLETED"] * 3
    steps = [int(line.split('"step": ')[1].split(",")[0]) for line in metrics.read_text().splitlines()]
    assert steps == list(range(1, 61))  # each step exactly once: nothing repeated, nothing lost
    assert invocations(graph.run_dir).count("prepare") == 1
    assert len(state.stages["train"].attempts) == 2


def test_a_supervisor_killed_with_sigkill_leaves_a_run_that_status_settles(tmp_path):
    import os
    import signal

    plan, graph = new_fake_run(tmp_path, env={"FAKE_STEPS": "400"})
    backend = LocalBackend()
    state = backend.submit(graph, plan, ["prepare", "train", "evaluate"])
    wait_for(lambda: read_state(graph.run_dir).stages["train"].status == "RUNNING", 60, "train running")
    train_pid = read_state(graph.run_dir).stages["train"].pid
    os.kill(state.supervisor_pid, signal.SIGKILL)
    os.killpg(train_pid, signal.SIGKILL)
    wait_for(lambda: backend.status(graph.run_dir).stages["train"].status == "FAILED", 30, "train FAILED")
    assert backend.status(graph.run_dir).stages["evaluate"].status == "CANCELLED"


def test_each_stage_writes_its_own_log(tmp_path):
    plan, graph = new_fake_run(tmp_path)
    backend = LocalBackend()
    backend.submit(graph, plan, ["prepare"])
    wait_for(lambda: backend.status(graph.run_dir).stages["prepare"].status == "COMPLETED", 60, "prepare")
    assert "=== llmplan prepare started" in Path(graph.run_dir, "logs", "prepare.log").read_text()
    assert not Path(graph.run_dir, "logs", "train.log").exists()


def test_the_prepare_array_runs_its_tasks_in_a_pool_and_the_merge_runs_after_all_of_them(tmp_path):
    plan, graph = new_fake_run(tmp_path, env={"FAKE_SHARD_S": "1.0"})
    assert graph.job("prepare-shards").resources.array_size == 2
    backend = LocalBackend()
    backend.submit(graph, plan, ["prepare"])
    state = wait_final(backend.status, graph.run_dir, 60)
    assert state.stages["prepare"].status == "COMPLETED"
    data, logs = Path(graph.run_dir, "data"), Path(graph.run_dir, "logs")
    spans = [tuple(map(int, (data / f"shard-{i}.done").read_text().split())) for i in range(2)]
    for i in range(2):  # each task its own log, as Slurm's %a
        assert f"=== llmplan prepare-shards-{i} started" in (logs / f"prepare-shards-{i}.log").read_text()
    merged_at = int((data / "prepared.txt").read_text())
    assert merged_at > max(end for _, end in spans)  # the merge ran after every shard finished
    if pool_width(2, 1) == 2:  # two CPUs or more: both tasks ran at once
        assert max(start for start, _ in spans) < min(end for _, end in spans)
    attempt = state.stages["prepare"].attempts[-1]  # one attempt: the merge, with the tasks' PIDs beside it
    assert len(state.stages["prepare"].attempts) == 1 and len(attempt.extra_job_ids) == 2
    assert attempt.job_id.startswith("pid:") and attempt.exit_code == 0


def test_a_failing_shard_task_fails_prepare_and_the_merge_never_runs(tmp_path):
    graph, state = _run_failing(tmp_path, "prepare-shards")
    assert [s.status for s in state.stages.values()] == ["FAILED", "CANCELLED", "CANCELLED"]
    assert "prepare" not in invocations(graph.run_dir) and not Path(graph.run_dir, "data", "prepared.txt").exists()


def test_the_pool_is_bounded_by_the_cpus():
    assert pool_width(1000, 1, cpus=16) == 16
    assert pool_width(3, 1, cpus=16) == 3
    assert pool_width(8, 4, cpus=16) == 4
    assert pool_width(8, 32, cpus=16) == 1  # a task larger than the machine still runs, alone
