"""`llmplan ladder run --backend slurm`: one prepare job, then ONE Slurm array job over the rungs.

    RUN_DIR/jobs/prepare.sbatch  `python -m executor.ladder_slurm prepare RUN_DIR`: the local backend's
                                 shared prepare (executor.ladder.prepare_data), writes data/.ladder-prepared
    RUN_DIR/jobs/rungs.sbatch    `--array=<task ids>`, afterok on the prepare job; task i trains rung i:
                                 `python -m executor.ladder_slurm rung RUN_DIR` reads SLURM_ARRAY_TASK_ID and
                                 runs the local backend's rung entrypoint (executor.ladder.train_rung:
                                 torchrun --standalone with the rung plan's ranks, resuming its checkpoint;
                                 then record_result writes result.json)
    RUN_DIR/logs/rungs-%a.log    each task's own output (logs/<rung>.log holds its torchrun's)
    RUN_DIR/rungs/<rung>/task.json   the task's Slurm id, host and torchrun pid (written by the task)
    RUN_DIR/ladder.json          `slurm`: every submission (prepare job id, array job id, --array);
                                 per rung: its task's job id (ARRAY_TASK), attempts, status from scontrol
                                 (read, changed and written under RUN_DIR/.run.lock)

The scripts are rendered by executor.backends.slurm_render (the same headers, validation and shell
quoting as the main run's jobs); the array line becomes the task ids still to run. Submission returns
at once (`--wait`, or `llmplan ladder status RUN_DIR`, polls `scontrol show job`; the local cluster
has no accounting). Running it again submits an array of only the rungs without result.json (each
resumes from its own checkpoint), skips the prepare when data/.ladder-prepared exists, and leaves out
a rung whose task is still PENDING or RUNNING (never two tasks on one rung directory). Every rung must fit on one node
(torchrun --standalone), as on the local backend.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from executor.backends.base import python_executable
from executor.backends.slurm import query_job, run_cmd, slurm_status
from executor.backends.slurm_render import array_spec, render_sbatch, sbatch_argv
from executor.jobs import GPU_ENV, Job, JobGraph, ProcessLaunch, Resources, SiteOptions, is_cpu_plan, train_resources
from executor.ladder import (
    PREPARED, completed_entry, load_state, open_run, prepare_data, record_result, save_state, train_rung,
)
from executor.rundir import locked
from planner.errors import PlanInputError
from planner.io import atomic_write_text, read_model, read_plan
from planner.schema import RunPlan
from planner.schema.ladder import LadderPlan
from planner.units import format_duration_days

MODULE = "executor.ladder_slurm"
DONE = ("COMPLETED", "FAILED", "CANCELLED")
POLL_S = 3.0


def task_ids(spec: str) -> list[int]:
    """The task ids of an `ArrayTaskId` value of scontrol: "1", "0-2", "0,2", "1-3%2" (a throttle)."""
    out: list[int] = []
    for part in spec.split("%")[0].split(","):
        if part:
            first, _, last = part.partition("-")
            out += range(int(first), int(last or first) + 1)
    return out


def ladder_jobs(ladder: LadderPlan, plans: list[RunPlan], run_dir: str, site: SiteOptions) -> tuple[Job, Job]:
    """The prepare job and the array job over every rung (array_size = number of rungs; the task ids
    submitted are chosen at submission). The array asks for the largest rung's CPUs, memory and time."""
    first = plans[0]
    workers = first.data.num_workers
    prepare = Job(name="prepare", launch=ProcessLaunch(MODULE, ("prepare", run_dir)),
                  resources=Resources(1, 0, 1, workers, max(4, 2 * workers), site.prepare_time_s),
                  env=(("OMP_NUM_THREADS", "1"),),
                  explain=f"the shared prepare on the first rung's plan, data.num_workers {workers} CPUs")
    res = [train_resources(plan, site) for plan in plans]
    multi = [f"{r.name}: {x.num_nodes} nodes" for r, x in zip(ladder.rungs, res, strict=True) if x.num_nodes > 1]
    if multi:
        raise PlanInputError("a ladder rung does not fit on one node", [
            *multi, "rungs: each array task runs torchrun --standalone on one node; plan smaller rungs"])
    mem = 0 if any(x.mem_gib == 0 for x in res) else max(x.mem_gib for x in res)
    rungs = Job(name="rungs", launch=ProcessLaunch(MODULE, ("rung", run_dir)),
                resources=Resources(1, max(x.gpus_per_node for x in res), 1, max(x.cpus_per_task for x in res), mem,
                                    max(x.time_limit_s for x in res), array_size=len(ladder.rungs)),
                depends_on=(prepare.name,), env=(("OMP_NUM_THREADS", "1"),) if is_cpu_plan(first) else GPU_ENV,
                explain=f"array of {len(ladder.rungs)} tasks, task i = rung i, each sized for the largest rung")
    return prepare, rungs


def _sbatch(job: Job, graph: JobGraph, plan: RunPlan, python: str, site: SiteOptions, after: list[str],
            tasks: list[int] | None = None) -> str:
    """Render the job into RUN_DIR/jobs/ (an array of only the task ids `tasks`) and submit it; its id."""
    if tasks is not None:
        job = replace(job, resources=replace(job.resources, array_tasks=tuple(tasks)))
    text = render_sbatch(job, graph, plan, python, after, site)
    script = Path(graph.run_dir) / "jobs" / f"{job.name}.sbatch"
    script.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(script, text)
    return run_cmd(sbatch_argv(str(script), graph.run_dir)).strip().split(";")[0]


def submit_ladder(ladder_path: str | Path, run_dir: str | Path, *, only: list[str] | None = None,
                  allow_unapproved: bool = False, python: str | None = None, site: SiteOptions | None = None,
                  log: Callable[[str], None] = print) -> dict:
    """Submit the prepare job (unless done) and one array job of the unfinished rungs; returns ladder.json."""
    site = site or SiteOptions()
    python = python or python_executable()
    run_dir, ladder = open_run(ladder_path, run_dir, only, allow_unapproved)
    with locked(run_dir):  # a `--wait` or `ladder status` refreshing ladder.json meanwhile loses nothing
        return _submit(run_dir, ladder, only, python, site, log)


def _submit(run_dir: Path, ladder: LadderPlan, only: list[str] | None, python: str, site: SiteOptions,
            log: Callable[[str], None]) -> dict:
    state = _refresh(run_dir)
    todo = []
    for i, rung in enumerate(ladder.rungs):
        if only and rung.name not in only:
            continue
        if (run_dir / "rungs" / rung.name / "result.json").exists():
            log(f"rung {rung.name}: done (result.json), skipped")
            continue
        entry = state["rungs"].get(rung.name, {})
        if entry.get("status") in ("PENDING", "RUNNING") and entry.get("backend") == "slurm":
            log(f"rung {rung.name}: still {entry['status']} (Slurm job {entry['job_id']}), not submitted again")
            continue
        todo.append(i)
    if not todo:
        log("nothing to submit: every rung has result.json or a live task")
        return state
    plans = [read_plan(run_dir / "rungs" / r.name / "plan.yaml") for r in ladder.rungs]
    prepare, rungs = ladder_jobs(ladder, plans, str(run_dir), site)
    graph = JobGraph(ladder.name, str(run_dir), str(run_dir / "ladder.yaml"), (prepare, rungs))
    submission = {"submitted_at": datetime.now(UTC).isoformat(timespec="seconds"), "array": array_spec(todo)}
    after = []
    if (run_dir / "data" / PREPARED).exists():
        log(f"prepare: data/{PREPARED} exists, skipped")
    else:
        after = [_sbatch(prepare, graph, plans[0], python, site, [])]
        submission["prepare_job_id"] = after[0]
        log(f"prepare: Slurm job {after[0]}")
    array_id = _sbatch(rungs, graph, plans[0], python, site, after, todo)
    submission["array_job_id"] = array_id
    state.setdefault("slurm", []).append(submission)
    for i in todo:
        entry = state["rungs"].setdefault(ladder.rungs[i].name, {"attempts": 0})
        entry.update(backend="slurm", status="PENDING", attempts=entry.get("attempts", 0) + 1, exit_code=None,
                     job_id=f"{array_id}_{i}", array_job_id=array_id, task=i)
    save_state(run_dir, state)
    log(f"rungs: array job {array_id}, --array={submission['array']} "
        f"({', '.join(ladder.rungs[i].name for i in todo)}){' afterok:' + after[0] if after else ''}")
    return state


def refresh(run_dir: str | Path) -> dict:
    """ladder.json with every Slurm rung's status brought up to date: COMPLETED once result.json exists,
    else its array task's state from `scontrol show job` (FAILED once Slurm has forgotten it)."""
    with locked(run_dir):
        return _refresh(Path(run_dir))


def _refresh(run_dir: Path) -> dict:
    state = load_state(run_dir)
    records: dict[str, list[dict[str, str]]] = {}
    for name, entry in state["rungs"].items():
        if entry.get("backend") != "slurm":
            continue
        result = run_dir / "rungs" / name / "result.json"
        if result.exists():
            entry.update(completed_entry(result.parent))
            continue
        if entry.get("status") in DONE:
            continue
        array = entry["array_job_id"]
        if array not in records:
            records[array] = query_job(array) or []
        mine = [r for r in records[array] if entry["task"] in task_ids(r.get("ArrayTaskId", ""))]
        if not records[array]:
            entry.update(status="FAILED", note="Slurm no longer knows the job and the rung has no result.json")
        elif mine:
            entry["status"], _, _, entry["exit_code"] = slurm_status(mine)
    if any(e.get("backend") == "slurm" for e in state["rungs"].values()):  # a local run's file is left alone
        save_state(run_dir, state)
    return state


def wait_ladder(run_dir: str | Path, poll_s: float = POLL_S) -> dict:
    """Poll until every Slurm rung is COMPLETED, FAILED or CANCELLED; ladder.json."""
    while True:
        state = refresh(run_dir)
        if all(e.get("status") in DONE for e in state["rungs"].values() if e.get("backend") == "slurm"):
            return state
        time.sleep(poll_s)


def status_lines(state: dict) -> list[str]:
    """One line per rung: status, Slurm task, attempts, final validation loss, wall time against the plan's;
    then the ladder's total time against its plan over the finished rungs."""
    lines, spent, planned = [], 0.0, 0.0
    for name, e in state["rungs"].items():
        loss = f", val_loss {e['val_loss']:.4f}" if e.get("val_loss") is not None else ""
        job = f" (Slurm job {e['job_id']})" if e.get("job_id") else ""
        code = f", exit {e['exit_code']}" if e.get("exit_code") not in (None, 0) else ""
        took = ""
        if e.get("train_seconds") is not None and e.get("planned_seconds"):
            spent, planned = spent + e["train_seconds"], planned + e["planned_seconds"]
            took = (f", {_took(e['train_seconds'])} against {_took(e['planned_seconds'])} "
                    f"planned ({e['train_seconds'] / e['planned_seconds']:.2f}x)")
        lines.append(f"rung {name}: {e.get('status', '?')}{job}, attempt {e.get('attempts', 0)}{code}{loss}{took}")
    if planned:
        lines.append(f"finished rungs: {_took(spent)} of training against {_took(planned)} "
                     f"planned ({spent / planned:.2f}x)")
    return lines


def _took(seconds: float) -> str:
    return format_duration_days(seconds / 86400.0)


def check_finished(run_dir: str | Path, state: dict) -> None:
    """PlanInputError naming every rung that did not complete (what the local backend raises)."""
    bad = [f"{n}: {e.get('status')}; see {Path(run_dir) / 'logs' / (n + '.log')} and logs/rungs-{e.get('task')}.log"
           for n, e in state["rungs"].items() if e.get("status") != "COMPLETED"]
    if bad:
        raise PlanInputError(f"{len(bad)} rung(s) did not finish", [
            *bad, "`llmplan ladder run --backend slurm` again resubmits only those rungs (from their checkpoints)"])


def run_task(run_dir: Path, index: int) -> int:
    """One array task: train rung `index` as the local backend does; 0 once its result.json is written."""
    ladder = read_model(LadderPlan, run_dir / "ladder.yaml")
    if not 0 <= index < len(ladder.rungs):
        print(f"SLURM_ARRAY_TASK_ID {index}: the ladder has rungs 0..{len(ladder.rungs) - 1}", file=sys.stderr)
        return 2
    rung = ladder.rungs[index]
    rung_dir = run_dir / "rungs" / rung.name
    if (rung_dir / "result.json").exists():
        print(f"rung {rung.name}: done (result.json), skipped")
        return 0
    job = f"{os.environ.get('SLURM_ARRAY_JOB_ID', '')}_{index}"

    def started(pid: int) -> None:
        atomic_write_text(rung_dir / "task.json", json.dumps(
            {"job_id": job, "host": socket.gethostname(), "torchrun_pid": pid}) + "\n")

    code = train_rung(run_dir, rung.name, started, print)
    final = record_result(run_dir, rung, code)
    if final is None:
        print(f"rung {rung.name} did not finish (exit {code}); see logs/{rung.name}.log", file=sys.stderr)
        return code or 1
    print(f"rung {rung.name}: val_loss {final[1]:.4f} at step {final[0]}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """`prepare RUN_DIR` (the prepare job) or `rung RUN_DIR` (an array task, SLURM_ARRAY_TASK_ID)."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] not in ("prepare", "rung"):
        print("usage: python -m executor.ladder_slurm prepare|rung RUN_DIR", file=sys.stderr)
        return 2
    run_dir = Path(args[1]).resolve()
    if args[0] == "rung":
        return run_task(run_dir, int(os.environ["SLURM_ARRAY_TASK_ID"]))
    try:
        prepare_data(run_dir, read_model(LadderPlan, run_dir / "ladder.yaml"), sys.executable, print)
    except PlanInputError as err:
        print(f"{err}", file=sys.stderr)
        return 1
    return 0


__all__ = ["check_finished", "ladder_jobs", "refresh", "run_task", "status_lines", "submit_ladder",
           "task_ids", "wait_ladder"]

if __name__ == "__main__":
    sys.exit(main())
