"""The local backend: the jobs of the graph as subprocesses on this machine, in dependency order.

`submit` starts a detached supervisor (`python -m executor.backends.local RUN_DIR STAGES`, its own
session) and returns at once; the supervisor runs each job in its own process group (training
under `torchrun --standalone --nproc_per_node=N`; an array job's tasks in a pool of at most
CPUs / cpus_per_task processes at a time, task i with LLMPLAN_SHARD_INDEX=i and its own log
logs/NAME-i.log, as Slurm's `%a`), records PIDs, start and end times and exit codes in run.json, and
stops at the first job that does not complete. A stage's jobs share one attempt: the prepare array's
task PIDs are its `extra_job_ids`, the merge job's PID its `job_id`. `status`, `cancel` and `resume`
work from any other process: `cancel` sends SIGTERM to the supervisor, which forwards it to the
running jobs' process groups (the trainer checkpoints and exits) and records CANCELLED.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from executor.backends.base import Backend, pid_alive, python_executable
from executor.backends.safety import check_path
from executor.backends.slurm_render import quote_argv, safe_args
from executor.jobs import SHARD_ENV, JobGraph
from executor.rundir import (
    FINAL, Attempt, RunState, locked, read_state, stage_log, update_state, utc_now, write_state,
)
from planner.io import atomic_write_text
from planner.schema import RunPlan

STOP_GRACE_S = 120.0


class LocalBackend(Backend):
    name = "local"

    def render(self, graph: JobGraph, plan: RunPlan) -> dict[str, str]:  # noqa: ARG002 - the plan is in the args
        """Every job's command line (an array's: task 0's; each task gets its LLMPLAN_SHARD_INDEX)."""
        python = check_path(python_executable(), "python")
        out = {}
        for job in graph.order():
            safe_args(job, graph.run_dir)
            tasks = f"# {job.resources.array_size} tasks, LLMPLAN_SHARD_INDEX=0..{job.resources.array_size - 1}\n"
            out[job.name] = (tasks if job.resources.array_size else "") + quote_argv(job.command(python))
        return out

    def submit(self, graph: JobGraph, plan: RunPlan, stages: list[str]) -> RunState:  # noqa: ARG002
        with locked(graph.run_dir):  # the supervisor's first update waits for this one
            state = read_state(graph.run_dir)
            for stage in stages:
                state.stages[stage].status = "PENDING"
            commands = [{"name": j.name, "stage": j.stage, "argv": j.command(python_executable()),
                         "env": dict(j.env), "unset_env": list(j.unset_env), "depends_on": list(j.depends_on),
                         "array_size": j.resources.array_size, "cpus_per_task": j.resources.cpus_per_task,
                         "last_of_stage": j is graph.stage_job(j.stage)} for j in graph.order()]
            atomic_write_text(Path(graph.run_dir) / "jobs" / "local.json", json.dumps(commands, indent=2) + "\n")
            with open(Path(graph.run_dir) / "logs" / "supervisor.log", "ab") as log:
                proc = subprocess.Popen(
                    [python_executable(), "-m", "executor.backends.local", graph.run_dir, ",".join(stages)],
                    stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True, cwd=graph.run_dir,
                )
            state.supervisor_pid = proc.pid
            write_state(state)
        return state

    def status(self, run_dir: str) -> RunState:
        state = read_state(run_dir)
        if pid_alive(state.supervisor_pid, run_dir):
            return state
        return update_state(run_dir, _settle_orphans)

    def cancel(self, run_dir: str) -> RunState:
        state = read_state(run_dir)
        if pid_alive(state.supervisor_pid, run_dir):
            os.kill(state.supervisor_pid, signal.SIGTERM)
            deadline = time.monotonic() + STOP_GRACE_S + 10
            while pid_alive(state.supervisor_pid, run_dir) and time.monotonic() < deadline:
                time.sleep(0.2)
        for stage in read_state(run_dir).stages.values():
            if stage.status == "RUNNING" and pid_alive(stage.pid, run_dir):
                _stop_group(stage.pid, lambda: pid_alive(stage.pid, run_dir))
        return update_state(run_dir, _cancel_unfinished)


def _settle_orphans(state: RunState) -> None:
    """The supervisor is gone: a stage whose process died too failed; queued stages never ran."""
    if pid_alive(state.supervisor_pid, state.run_dir):
        return
    for stage in state.stages.values():
        if stage.status == "RUNNING" and not pid_alive(stage.pid, state.run_dir):
            _finish(stage, "FAILED", None)
        elif stage.status == "PENDING":
            _finish(stage, "CANCELLED", None)
    state.supervisor_pid = None


def _cancel_unfinished(state: RunState) -> None:
    for stage in state.stages.values():
        if stage.status not in FINAL:
            _finish(stage, "CANCELLED", None)
    state.supervisor_pid = None


def _finish(stage, status: str, exit_code: int | None) -> None:
    stage.status = status
    if not stage.attempts:
        stage.attempts.append(Attempt())
    attempt = stage.attempts[-1]
    attempt.status, attempt.exit_code = status, exit_code
    attempt.ended_at = attempt.ended_at or (utc_now() if attempt.started_at else None)


def _stop_group(pid: int, alive, grace_s: float = STOP_GRACE_S) -> None:
    """SIGTERM the process group led by `pid`; SIGKILL it if still alive after `grace_s`."""
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + grace_s
    while alive() and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive():
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# ---------------------------------------------------------------- the supervisor process
def pool_width(array_size: int, cpus_per_task: int, cpus: int | None = None) -> int:
    """Tasks of an array run at once: as many as the machine's CPUs hold at `cpus_per_task` each."""
    cpus = cpus or os.cpu_count() or 1
    return max(1, min(max(1, array_size), cpus // max(1, cpus_per_task)))


class _Supervisor:
    def __init__(self, run_dir: str, stages: list[str]) -> None:
        self.run_dir, self.stages = run_dir, stages
        self.cancelled = False
        self.children: list[subprocess.Popen] = []

    def on_term(self, signum, frame) -> None:  # noqa: ARG002
        self.cancelled = True
        for child in self.children:
            if child.poll() is None:
                try:
                    os.killpg(child.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        commands = json.loads((Path(self.run_dir) / "jobs" / "local.json").read_text())
        stage_of = {job["name"]: job["stage"] for job in commands}
        done: set[str] = set()  # jobs completed by this supervisor
        for job in commands:  # in dependency order
            if job["stage"] not in self.stages:
                continue
            state = read_state(self.run_dir)
            deps_ok = all(d in done or (stage_of[d] not in self.stages and state.stages[stage_of[d]].status == "COMPLETED")
                          for d in job["depends_on"])
            if self.cancelled or not deps_ok:
                update_state(self.run_dir, lambda s, j=job: _skip(s.stages[j["stage"]]))
                continue
            if self.run_job(job) == "COMPLETED":
                done.add(job["name"])
        update_state(self.run_dir, lambda s: setattr(s, "supervisor_pid", None))
        return 0

    def start_task(self, job: dict, index: int | None) -> subprocess.Popen:
        """One process of `job` (task `index` of an array) in its own session, logging to its own file."""
        name = job["name"] if index is None or job["array_size"] <= 1 else f"{job['name']}-{index}"
        unset = set(SHARD_ENV) | set(job["unset_env"])
        env = {k: v for k, v in os.environ.items() if k not in unset}
        env.update({**job["env"], "PYTHONUNBUFFERED": "1", "LLMPLAN_STAGE": job["name"]})
        if index is not None:
            env.update({"LLMPLAN_SHARD_INDEX": str(index), "LLMPLAN_NUM_SHARDS": str(job["array_size"])})
        with open(stage_log(self.run_dir, name), "ab") as log:
            log.write(f"\n=== llmplan {name} started {utc_now().isoformat()} ===\n".encode())
            log.flush()
            child = subprocess.Popen(job["argv"], stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                     env=env, cwd=self.run_dir, start_new_session=True)
        self.children.append(child)
        update_state(self.run_dir, lambda s: _started(s.stages[job["stage"]], child.pid,
                                                       stage_log(self.run_dir, job["stage"])))
        if self.cancelled:  # SIGTERM arrived before the child existed
            self.on_term(signal.SIGTERM, None)
        return child

    def run_job(self, job: dict) -> str:
        """Run every task of `job` (one, or an array's in a pool); the job's status."""
        indices: list[int | None] = list(range(job["array_size"])) if job["array_size"] else [None]
        width = pool_width(job["array_size"], job["cpus_per_task"])
        running: list[subprocess.Popen] = []
        code = 0
        while indices or running:
            while indices and len(running) < width and not self.cancelled and code == 0:
                running.append(self.start_task(job, indices.pop(0)))
            if not running:
                break
            finished = _wait_any(running)
            running.remove(finished)
            code = code or finished.returncode
        self.children = []
        status = "CANCELLED" if self.cancelled else ("COMPLETED" if code == 0 and not indices else "FAILED")
        if status != "COMPLETED" or job["last_of_stage"]:
            update_state(self.run_dir, lambda s: _finish(s.stages[job["stage"]], status, code))
        if status != "COMPLETED":
            self.cancelled = self.cancelled or status == "FAILED"
        return status


def _wait_any(procs: list[subprocess.Popen]) -> subprocess.Popen:
    """The first of `procs` to exit (polled: the pool is a few processes, each lasting minutes)."""
    while True:
        for proc in procs:
            if proc.poll() is not None:
                return proc
        time.sleep(0.05)


def _started(stage, pid: int, log: Path) -> None:
    """A process of the stage started: the stage's first opens its attempt; later ones (the next
    array task, the merge job) keep that attempt and move the previous PID to `extra_job_ids`."""
    attempt = stage.attempts[-1] if stage.attempts else None
    if stage.status == "RUNNING" and attempt is not None and attempt.status == "RUNNING":
        attempt.extra_job_ids.append(attempt.job_id)
        attempt.job_id = f"pid:{pid}"
    else:
        stage.attempts.append(Attempt(job_id=f"pid:{pid}", started_at=utc_now(), status="RUNNING"))
    stage.status, stage.pid, stage.log = "RUNNING", pid, str(log)


def _skip(stage) -> None:
    """A job that will not run: its stage is CANCELLED unless an earlier job already ended it."""
    if stage.status not in FINAL:
        _finish(stage, "CANCELLED", None)


def main(argv: list[str]) -> int:
    run_dir, stages = argv[0], [s for s in argv[1].split(",") if s]
    return _Supervisor(run_dir, stages).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
