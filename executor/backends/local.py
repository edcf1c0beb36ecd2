"""The local backend: the stages as subprocesses on this machine, in dependency order.

`submit` starts a detached supervisor (`python -m executor.backends.local RUN_DIR STAGES`, its own
session) and returns at once; the supervisor runs each stage in its own process group (training
under `torchrun --standalone --nproc_per_node=N`), records PIDs, start and end times and exit codes
in run.json, and stops at the first stage that does not complete. `status`, `cancel` and `resume`
work from any other process: `cancel` sends SIGTERM to the supervisor, which forwards it to the
running stage's process group (the trainer checkpoints and exits) and records CANCELLED.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from executor.backends.base import pid_alive, python_executable
from executor.jobs import JobGraph
from planner.io import atomic_write_text
from executor.rundir import (
    FINAL, Attempt, RunState, locked, read_state, stage_log, update_state, utc_now, write_state,
)

STOP_GRACE_S = 120.0


class LocalBackend:
    name = "local"

    def submit(self, graph: JobGraph, stages: list[str]) -> RunState:
        with locked(graph.run_dir):  # the supervisor's first update waits for this one
            state = read_state(graph.run_dir)
            for stage in stages:
                state.stages[stage].status = "PENDING"
            commands = [{"stage": j.stage, "argv": j.command(python_executable()), "env": dict(j.env),
                         "depends_on": list(j.depends_on)} for j in graph.order()]
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
class _Supervisor:
    def __init__(self, run_dir: str, stages: list[str]) -> None:
        self.run_dir, self.stages = run_dir, stages
        self.cancelled = False
        self.child: subprocess.Popen | None = None

    def on_term(self, signum, frame) -> None:  # noqa: ARG002
        self.cancelled = True
        if self.child is not None and self.child.poll() is None:
            try:
                os.killpg(self.child.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    def run(self) -> int:
        signal.signal(signal.SIGTERM, self.on_term)
        signal.signal(signal.SIGINT, self.on_term)
        commands = json.loads((Path(self.run_dir) / "jobs" / "local.json").read_text())
        for job in commands:  # in dependency order
            if job["stage"] not in self.stages:
                continue
            state = read_state(self.run_dir)
            deps_ok = all(state.stages[d].status == "COMPLETED" for d in job["depends_on"])
            if self.cancelled or not deps_ok:
                update_state(self.run_dir, lambda s, j=job: _finish(s.stages[j["stage"]], "CANCELLED", None))
                continue
            self.run_stage(job)
        update_state(self.run_dir, lambda s: setattr(s, "supervisor_pid", None))
        return 0

    def run_stage(self, job: dict) -> None:
        name = job["stage"]
        log_path = stage_log(self.run_dir, name)
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("SLURM_ARRAY_") and k not in ("LLMPLAN_SHARD_INDEX", "LLMPLAN_NUM_SHARDS")}
        env.update({**job["env"], "PYTHONUNBUFFERED": "1", "LLMPLAN_STAGE": name})
        with open(log_path, "ab") as log:
            log.write(f"\n=== llmplan {name} started {utc_now().isoformat()} ===\n".encode())
            log.flush()
            self.child = subprocess.Popen(
                job["argv"], stdin=subprocess.DEVNULL, stdout=log,
                stderr=subprocess.STDOUT, env=env, cwd=self.run_dir, start_new_session=True,
            )

        def started(state: RunState) -> None:
            stage = state.stages[name]
            stage.status, stage.pid, stage.log = "RUNNING", self.child.pid, str(log_path)
            stage.attempts.append(Attempt(job_id=f"pid:{self.child.pid}", started_at=utc_now(), status="RUNNING"))

        update_state(self.run_dir, started)
        if self.cancelled:  # SIGTERM arrived before the child existed
            self.on_term(signal.SIGTERM, None)
        code = self.child.wait()
        status = "CANCELLED" if self.cancelled else ("COMPLETED" if code == 0 else "FAILED")
        update_state(self.run_dir, lambda s: _finish(s.stages[name], status, code))
        if status != "COMPLETED":
            self.cancelled = self.cancelled or status == "FAILED"


def main(argv: list[str]) -> int:
    run_dir, stages = argv[0], [s for s in argv[1].split(",") if s]
    return _Supervisor(run_dir, stages).run()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
