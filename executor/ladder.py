"""Run a LadderPlan on this machine: one shared prepare, then every rung as a training job.

    RUN_DIR/
      ladder.yaml                 the approved ladder, byte for byte
      ladder.json                 state: per rung status, attempts, exit code, val_loss, seconds (atomic writes)
      data/                       prepared once (`llmplan prepare` on the first rung's plan), then `.ladder-prepared`
      rungs/<name>/plan.yaml      the rung's RunPlan (planner.ladder.rung_plan)
      rungs/<name>/metrics.jsonl  the trainer's metrics (val_loss at each evaluation and the last step)
      rungs/<name>/result.json    the rung's final validation loss: its completion marker
      rungs/<name>/time.json      wall seconds of its torchrun attempts so far (result.json: against the plan's)
      logs/prepare.log, logs/<rung>.log

Each rung runs the existing trainer entrypoint (`python -m executor.train` under `torchrun
--standalone`, executor.train.launch). A re-run skips rungs that have result.json and resumes an
unfinished rung from its own checkpoint, so a killed rung is the only one trained again. The Slurm
backend (executor.ladder_slurm) submits the same prepare and the same per-rung entrypoint
(`train_rung` + `record_result`) as one prepare job and one array job over the rungs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from executor.approval import ExecutionRefused
from executor.jobs import SiteOptions, is_cpu_plan, train_resources
from executor.train.launch import _forward_stop, torchrun_argv
from planner.errors import PlanInputError
from planner.io import atomic_write_text, canonical_sha256, read_model, write_model
from planner.ladder import rung_plan
from planner.schema.ladder import LadderPlan
from planner.schema.scaling_law import FitPoint
from presets import load_catalog

PREPARED = ".ladder-prepared"


def check_ladder_approved(ladder: LadderPlan, allow_unapproved: bool = False) -> None:
    """The same gate as `llmplan execute`: an approval of exactly this content, or an explicit override."""
    if allow_unapproved:
        return
    if ladder.approval is None:
        raise ExecutionRefused(f"ladder '{ladder.name}' is not approved", [
            "approval: missing; run `llmplan ladder approve LADDER --by NAME` (or pass --allow-unapproved)"])
    if canonical_sha256(ladder) != ladder.approval.plan_sha256:
        raise ExecutionRefused(f"ladder '{ladder.name}' was edited after {ladder.approval.approved_by} approved it", [
            "approval.plan_sha256: does not match the content; review the changes and approve it again"])


def load_state(run_dir: Path) -> dict:
    """ladder.json: per rung status, attempts, exit code, val_loss (and the Slurm submissions)."""
    path = run_dir / "ladder.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"rungs": {}}


def save_state(run_dir: Path, state: dict) -> None:
    atomic_write_text(run_dir / "ladder.json", json.dumps(state, indent=2) + "\n")


def setup_run_dir(ladder_path: str | Path, run_dir: str | Path) -> LadderPlan:
    """Copy the ladder into RUN_DIR (or check it is the one already there) and write every rung's plan."""
    run_dir, src = Path(run_dir), Path(ladder_path)
    text = src.read_text(encoding="utf-8")
    ladder = read_model(LadderPlan, src)
    target = run_dir / "ladder.yaml"
    if target.exists() and target.read_text(encoding="utf-8") != text:
        raise PlanInputError(f"{run_dir} holds a different ladder", [
            f"{target}: differs from {src}; use a new --run-dir, or the ladder file that started this run"])
    for sub in ("data", "rungs", "logs"):
        (run_dir / sub).mkdir(parents=True, exist_ok=True)
    if not target.exists():
        atomic_write_text(target, text)
    for rung in ladder.rungs:
        path = run_dir / "rungs" / rung.name / "plan.yaml"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_model(rung_plan(ladder, rung, load_catalog()), path)
    return ladder


def final_val_loss(rung_dir: Path, train_steps: int) -> tuple[int, float] | None:
    """(step, val_loss) of the last evaluation in metrics.jsonl when it is at train_steps, else None."""
    path = rung_dir / "metrics.jsonl"
    if not path.exists():
        return None
    last = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill
        if row.get("val_loss") is not None:
            last = (int(row["step"]), float(row["val_loss"]))
    return last if last is not None and last[0] >= train_steps else None


def _prepare(run_dir: Path, first_plan: Path, python: str, log: Callable[[str], None]) -> None:
    if (run_dir / "data" / PREPARED).exists():
        return
    log("prepare: shared data for every rung")
    argv = [python, "-m", "executor.prepare", str(first_plan), "--out", str(run_dir / "data")]
    with open(run_dir / "logs" / "prepare.log", "ab") as out:
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "OMP_NUM_THREADS": "1"},
                              cwd=run_dir).returncode
    if code != 0:
        raise PlanInputError(f"ladder prepare failed (exit {code})", [f"see {run_dir / 'logs' / 'prepare.log'}"])
    atomic_write_text(run_dir / "data" / PREPARED, "done\n")


def prepare_data(run_dir: Path, ladder: LadderPlan, python: str, log: Callable[[str], None]) -> None:
    """The shared prepare (on the first rung's plan), once: skipped when data/.ladder-prepared exists."""
    _prepare(run_dir, run_dir / "rungs" / ladder.rungs[0].name / "plan.yaml", python, log)


def record_result(run_dir: Path, rung, code: int) -> tuple[int, float] | None:
    """After a rung's torchrun exited with `code`: its (step, val_loss) written to result.json (the
    completion marker, with the wall seconds of all its attempts against the ladder plan's) when it
    reached its last step, else None."""
    final = final_val_loss(run_dir / "rungs" / rung.name, rung.train_steps) if code == 0 else None
    if final is not None:
        result = {"name": rung.name, "role": rung.role, "num_params": rung.num_params,
                  "num_tokens": rung.num_tokens, "step": final[0], "val_loss": final[1],
                  "train_seconds": round(train_seconds(run_dir / "rungs" / rung.name), 1),
                  "planned_seconds": round(rung.wallclock_days * 86400.0, 1)}
        atomic_write_text(run_dir / "rungs" / rung.name / "result.json", json.dumps(result, indent=2) + "\n")
    return final


def open_run(ladder_path: str | Path, run_dir: str | Path, only: list[str] | None,
             allow_unapproved: bool) -> tuple[Path, LadderPlan]:
    """The approval gate, the run directory (setup_run_dir) and a check of the `--rung` names."""
    run_dir = Path(run_dir).resolve()
    check_ladder_approved(read_model(LadderPlan, ladder_path), allow_unapproved)
    ladder = setup_run_dir(ladder_path, run_dir)
    unknown = sorted(set(only or []) - {r.name for r in ladder.rungs})
    if unknown:
        raise PlanInputError("unknown rung names", [
            f"--rung: {unknown}; the ladder has {[r.name for r in ladder.rungs]}"])
    return run_dir, ladder


def train_rung(run_dir: Path, name: str, on_start: Callable[[int], None], log: Callable[[str], None]) -> int:
    """Train (or resume) one rung under torchrun --standalone with its plan's ranks; torchrun's exit code."""
    from planner.io import read_plan

    rung_dir = run_dir / "rungs" / name
    plan = read_plan(rung_dir / "plan.yaml")
    procs = train_resources(plan, SiteOptions()).procs_per_node
    argv = torchrun_argv(procs, rung_dir / "plan.yaml", run_dir / "data", rung_dir, resume=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1"} if is_cpu_plan(plan) else dict(os.environ)
    log(f"rung {name}: {plan.model.num_params:,} parameters, {plan.recipe.train_steps} steps on {procs} ranks")
    start = time.monotonic()
    try:
        with open(run_dir / "logs" / f"{name}.log", "ab") as out:
            return _launch(argv, env, out, on_start)
    finally:
        _add_seconds(rung_dir, time.monotonic() - start)


def train_seconds(rung_dir: Path) -> float:
    """Wall seconds of every torchrun attempt at this rung so far (time.json; 0 before the first)."""
    path = rung_dir / "time.json"
    return float(json.loads(path.read_text())["seconds"]) if path.exists() else 0.0


def _add_seconds(rung_dir: Path, seconds: float) -> None:
    atomic_write_text(rung_dir / "time.json", json.dumps({"seconds": train_seconds(rung_dir) + seconds}) + "\n")


def _launch(argv: list[str], env: dict, out, on_start: Callable[[int], None]) -> int:
    """torchrun in its own session (its pid is its process group), output to the rung's log; SIGTERM,
    SIGUSR1 and SIGINT reach the ranks as SIGUSR1 (checkpoint and exit), as executor.train.launch does."""
    agent = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    on_start(agent.pid)
    previous = {sig: signal.signal(sig, lambda *_: _forward_stop(agent))
                for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT)}
    try:
        return agent.wait()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def _alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"torch.distributed.run" in cmdline


def run_ladder(ladder_path: str | Path, run_dir: str | Path, *, backend: str = "local", only: list[str] | None = None,
               allow_unapproved: bool = False, python: str | None = None,
               log: Callable[[str], None] = print) -> dict:
    """Prepare once, then train every unfinished rung in order; returns the state (ladder.json)."""
    import sys

    if backend != "local":
        raise PlanInputError(f"--backend {backend}: run_ladder trains on this machine", [
            "backend: the Slurm array is executor.ladder_slurm.submit_ladder (`llmplan ladder run --backend slurm`)"])
    run_dir, ladder = open_run(ladder_path, run_dir, only, allow_unapproved)
    prepare_data(run_dir, ladder, python or sys.executable, log)
    state = load_state(run_dir)
    for rung in ladder.rungs:
        if only and rung.name not in only:
            continue
        rung_dir = run_dir / "rungs" / rung.name
        if (rung_dir / "result.json").exists():
            log(f"rung {rung.name}: done (result.json), skipped")
            continue
        entry = state["rungs"].setdefault(rung.name, {"attempts": 0})
        if _alive(entry.get("pid")):
            raise PlanInputError(f"rung {rung.name} is still running (torchrun pid {entry['pid']})", [
                f"wait for it, or stop it (`kill -TERM -{entry['pid']}` checkpoints and exits), then run again"])
        entry.update(status="RUNNING", attempts=entry["attempts"] + 1, exit_code=None)

        def started(pid: int, entry=entry) -> None:
            entry["pid"] = pid
            save_state(run_dir, state)

        code = train_rung(run_dir, rung.name, started, log)
        final = record_result(run_dir, rung, code)
        if final is None:
            entry.update(status="FAILED" if code != 0 else "INTERRUPTED", exit_code=code)
            save_state(run_dir, state)
            raise PlanInputError(f"rung {rung.name} did not finish (exit {code})", [
                f"see {run_dir / 'logs' / (rung.name + '.log')}; `llmplan ladder run` again resumes it"])
        entry.update(completed_entry(rung_dir))
        save_state(run_dir, state)
        log(f"rung {rung.name}: val_loss {final[1]:.4f} at step {final[0]}")
    return state


def completed_entry(rung_dir: Path) -> dict:
    """A finished rung's ladder.json fields, from its result.json: status, val_loss and its seconds."""
    result = json.loads((rung_dir / "result.json").read_text())
    return {"status": "COMPLETED", "exit_code": 0, "val_loss": result["val_loss"],
            **{k: result[k] for k in ("train_seconds", "planned_seconds") if k in result}}


def ladder_points(run_dir: str | Path) -> tuple[list[FitPoint], list[FitPoint]]:
    """(fit points, holdout points) from the finished rungs' result.json files."""
    fit, holdout = [], []
    for path in sorted(Path(run_dir, "rungs").glob("*/result.json")):
        r = json.loads(path.read_text(encoding="utf-8"))
        point = FitPoint(name=r["name"], num_params=r["num_params"], num_tokens=r["num_tokens"], loss=r["val_loss"])
        (holdout if r.get("role") == "holdout" else fit).append(point)
    return fit, holdout


__all__ = ["check_ladder_approved", "final_val_loss", "ladder_points", "load_state", "open_run", "prepare_data",
           "record_result", "run_ladder", "save_state", "setup_run_dir", "train_rung"]
