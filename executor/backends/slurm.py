"""The Slurm backend: sbatch scripts in RUN_DIR/jobs/, submitted with `sbatch --parsable`.

State comes from `scontrol show job -o` (which also covers finished jobs for MinJobAge seconds), with
`sacct` as the fallback where accounting exists. Cancelling uses `scancel`; the trainer gets SIGTERM,
checkpoints and exits within Slurm's KillWait. The scripts themselves are rendered by the pure
functions in `executor.backends.slurm_render`.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

from executor.backends.base import Backend, python_executable
from executor.backends.slurm_render import render_sbatch, render_sbatch_bundle, sbatch_argv
from executor.jobs import Job, JobGraph, SiteOptions
from executor.rundir import FINAL, Attempt, RunState, locked, read_state, update_state, write_state
from planner.io import atomic_write_text
from planner.schema import RunPlan

__all__ = ["SlurmBackend", "SlurmError", "parse_scontrol", "render_sbatch_bundle", "restart_report", "slurm_status"]

CANCEL_WAIT_S = 150.0
_STATE_MAP = {
    "PENDING": "PENDING", "CONFIGURING": "PENDING", "REQUEUED": "PENDING", "REQUEUE_HOLD": "PENDING",
    "REQUEUE_FED": "PENDING", "RESV_DEL_HOLD": "PENDING", "SUSPENDED": "RUNNING", "PREEMPTED": "PENDING",
    "RUNNING": "RUNNING", "COMPLETING": "RUNNING", "STAGE_OUT": "RUNNING", "SIGNALING": "RUNNING",
    "RESIZING": "RUNNING", "COMPLETED": "COMPLETED", "CANCELLED": "CANCELLED", "FAILED": "FAILED",
    "TIMEOUT": "FAILED", "NODE_FAIL": "FAILED", "OUT_OF_MEMORY": "FAILED", "BOOT_FAIL": "FAILED",
    "DEADLINE": "FAILED", "SPECIAL_EXIT": "FAILED",
}


class SlurmError(RuntimeError):
    """A Slurm command failed; the message carries the command and its stderr."""


def run_cmd(argv: list[str], timeout_s: float = 60.0) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, check=False)
    except FileNotFoundError:
        raise SlurmError(f"{argv[0]} not found: is this a Slurm login node? (scripts/local-slurm.sh start "
                         "runs a one-node cluster for tests)") from None
    if done.returncode != 0:
        raise SlurmError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def parse_scontrol(text: str) -> list[dict[str, str]]:
    """`scontrol show job -o` output: one record (key=value words) per line."""
    return [dict(re.findall(r"(\w+)=(\S*)", line)) for line in text.splitlines() if "JobId=" in line]


def _time(value: str | None) -> datetime | None:
    if not value or value in ("Unknown", "None", "N/A"):
        return None
    return datetime.fromisoformat(value).astimezone(UTC)


def slurm_status(records: list[dict[str, str]]) -> tuple[str, datetime | None, datetime | None, int | None]:
    """(status, started, ended, exit code) of a job from its records (several for an array)."""
    states = [_STATE_MAP.get(r.get("JobState", ""), "PENDING") for r in records] or ["PENDING"]
    if "RUNNING" in states:
        status = "RUNNING"
    elif "PENDING" in states:
        status = "PENDING"
    else:
        status = next((s for s in ("FAILED", "CANCELLED") if s in states), "COMPLETED")
    begun = [r for r in records if _STATE_MAP.get(r.get("JobState", "")) in ("RUNNING", *FINAL)]
    starts = [t for t in (_time(r.get("StartTime")) for r in begun) if t]
    ends = [t for t in (_time(r.get("EndTime")) for r in begun) if t] if status in FINAL else []
    codes = [int(r["ExitCode"].split(":")[0]) for r in records if r.get("ExitCode", "").split(":")[0].isdigit()]
    return status, min(starts, default=None), max(ends, default=None), max(codes, default=None) if status in FINAL else None


def query_job(job_id: str) -> list[dict[str, str]] | None:
    """Records from scontrol, or from sacct when scontrol has forgotten the job; None if neither knows."""
    try:
        return parse_scontrol(run_cmd(["scontrol", "show", "job", "-o", job_id]))
    except SlurmError as err:
        if "Invalid job id" not in str(err):
            raise
    try:
        out = run_cmd(["sacct", "-n", "-X", "-P", "-j", job_id, "-o", "State,Start,End,ExitCode"])
    except SlurmError:
        return None
    rows = [line.split("|") for line in out.splitlines() if line.count("|") == 3]
    return [{"JobState": s.split()[0], "StartTime": a, "EndTime": b, "ExitCode": c} for s, a, b, c in rows] or None


def _note_requeue(stage, attempt: Attempt, record: dict[str, str]) -> Attempt:
    """A requeued job keeps its id but starts over: close the run we saw (it ended when the job was
    requeued, which Slurm records as its new SubmitTime) and open a new attempt, so the GPU-hours
    of every run are counted."""
    restarts = int(record["Restarts"]) if record.get("Restarts", "").isdigit() else 0
    if restarts <= attempt.restarts:
        return attempt
    if attempt.started_at:
        attempt.ended_at = _time(record.get("SubmitTime")) or attempt.started_at
        attempt.status = "CANCELLED"
    fresh = Attempt(job_id=attempt.job_id, extra_job_ids=attempt.extra_job_ids, restarts=restarts)
    if attempt.started_at:
        stage.attempts.append(fresh)
        return fresh
    attempt.restarts = restarts
    return attempt


class SlurmBackend(Backend):
    """Each job of the graph is one sbatch script (an array job for an array), submitted in dependency
    order with `--dependency=afterok:<ids of the jobs it depends on>`. A stage's earlier jobs (the
    prepare array) are recorded as `extra_job_ids` of the attempt of the stage's last job."""

    name = "slurm"

    def __init__(self, python: str | None = None, site: SiteOptions | None = None) -> None:
        self.python = python or python_executable()
        self.site = site or SiteOptions()

    def render(self, graph: JobGraph, plan: RunPlan) -> dict[str, str]:
        """Every job's sbatch script (job ids are known only at submission: `1` stands for each)."""
        return {job.name: render_sbatch(job, graph, plan, self.python, ["1"] * len(job.depends_on), self.site)
                for job in graph.order()}

    def submit(self, graph: JobGraph, plan: RunPlan, stages: list[str]) -> RunState:
        with locked(graph.run_dir):
            state = read_state(graph.run_dir)
            ids: dict[str, str] = {}  # job name -> Slurm id, submitted now
            extra: dict[str, list[str]] = {}  # stage -> ids of its earlier jobs
            for job in graph.order():
                if job.stage not in stages:
                    continue
                ids[job.name] = self._sbatch(job, graph, plan, self._after(job, graph, state, ids))
                if job is not graph.stage_job(job.stage):
                    extra.setdefault(job.stage, []).append(ids[job.name])
                    continue
                stage = state.stages[job.stage]
                stage.status, stage.log = "PENDING", f"{graph.run_dir}/logs/{job.name}.log"
                stage.attempts.append(Attempt(job_id=ids[job.name], status="PENDING",
                                              extra_job_ids=extra.get(job.stage, [])))
                write_state(state)
        return state

    @staticmethod
    def _after(job: Job, graph: JobGraph, state: RunState, ids: dict[str, str]) -> list[str]:
        """Slurm ids `job` must follow: those submitted now, else an unfinished earlier submission's."""
        after = []
        for dep in job.depends_on:
            if dep in ids:
                after.append(ids[dep])
                continue
            dep_state = state.stages[graph.job(dep).stage]
            if dep_state.status != "COMPLETED" and dep_state.current:
                after.append(dep_state.current.job_id)
        return after

    def _sbatch(self, job: Job, graph: JobGraph, plan: RunPlan, after: list[str]) -> str:
        script = Path(graph.run_dir) / "jobs" / f"{job.name}.sbatch"
        atomic_write_text(script, render_sbatch(job, graph, plan, self.python, after, self.site))
        return run_cmd(sbatch_argv(str(script), graph.run_dir)).strip().split(";")[0]

    def status(self, run_dir: str) -> RunState:
        def refresh(state: RunState) -> None:
            for stage in state.stages.values():
                attempt = stage.current
                if attempt is None or not attempt.job_id or (stage.status in FINAL and attempt.ended_at):
                    continue
                records = query_job(attempt.job_id)
                if not records:
                    continue
                attempt = _note_requeue(stage, attempt, records[0])
                status, started, ended, code = slurm_status(records)
                stage.status = attempt.status = status
                attempt.started_at = started or attempt.started_at
                attempt.ended_at, attempt.exit_code = ended, code

        return update_state(run_dir, refresh)

    def cancel(self, run_dir: str) -> RunState:
        state = self.status(run_dir)
        ids = [i for s in state.stages.values() if s.status not in FINAL and s.current
               for i in (*s.current.extra_job_ids, s.current.job_id)]
        if ids:
            run_cmd(["scancel", *ids])
            deadline = time.monotonic() + CANCEL_WAIT_S
            while time.monotonic() < deadline:
                state = self.status(run_dir)
                if all(s.status in FINAL for s in state.stages.values() if s.current):
                    break
                time.sleep(0.5)

        def settle(state: RunState) -> None:
            for stage in state.stages.values():
                if stage.status not in FINAL:
                    stage.status = "CANCELLED"

        return update_state(run_dir, settle)


def read_attempts(run_dir: str | Path) -> list[dict]:
    """The training job's step attempts (RUN/logs/train-attempts.jsonl, one line per srun step)."""
    path = Path(run_dir) / "logs" / "train-attempts.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by a node failure
    return out


def restart_report(run_dir: str | Path) -> list[str]:
    """One line per training attempt: job, exit code, cause, and the steps lost to a crash (steps
    logged past the checkpoint the next attempt resumed from)."""
    rows = read_attempts(run_dir)
    lines = []
    for i, row in enumerate(rows):
        if row.get("exit_code") == 0 and not row.get("requeue"):
            what = "completed"
        elif row.get("requeue"):
            what = f"checkpointed and requeued at step {row.get('last_step', 0)}"
        else:
            lost = max(0, int(row.get("last_step", 0)) - int(row.get("checkpoint_step", 0)))
            cause = row.get("cause") or "a rank exited non-zero"
            what = (f"FAILED exit {row.get('exit_code')} ({cause}); reached step {row.get('last_step', 0)}, "
                    f"checkpoint at {row.get('checkpoint_step', 0)}: {lost} steps lost")
        lines.append(f"  train attempt {i + 1} (job {row.get('job_id', '?')}, {row.get('started', '?')} -> "
                     f"{row.get('ended', '?')}): {what}")
    return lines
