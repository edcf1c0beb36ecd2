"""The run directory (ARCHITECTURE.md) and its state file, `run.json`.

```
RUN_DIR/plan.yaml      the approved plan, byte for byte
RUN_DIR/run.json       stages, backend job ids / PIDs, status, timestamps (written atomically)
RUN_DIR/data/ checkpoints/ metrics.jsonl eval/ logs/ jobs/
```
Every change to `run.json` is a read-modify-write under an exclusive `flock` on `RUN_DIR/.run.lock`,
written through `planner.io.atomic_write_text`, so a supervisor, `status` and `cancel` running in
different processes never lose each other's updates and a crash never leaves a half-written file.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from planner.errors import PlanInputError
from planner.io import atomic_write_text

Status = Literal["PENDING", "RUNNING", "COMPLETED", "FAILED", "CANCELLED"]
FINAL = ("COMPLETED", "FAILED", "CANCELLED")
SUBDIRS = ("data", "checkpoints", "eval", "logs", "jobs")


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


class Attempt(BaseModel):
    """One submission of a stage: its job id or PID and how long it held its devices."""

    model_config = ConfigDict(extra="forbid")
    job_id: str = ""
    extra_job_ids: list[str] = Field(default_factory=list, description="e.g. prepare's shard array job")
    restarts: int = Field(0, description="Slurm requeues of this job id seen so far")
    started_at: datetime | None = None
    ended_at: datetime | None = None
    status: Status = "PENDING"
    exit_code: int | None = None


class StageState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    stage: str
    status: Status = "PENDING"
    num_devices: int = Field(0, description="GPUs (or CPU processes for a CPU plan) the stage holds")
    depends_on: list[str] = Field(default_factory=list)
    pid: int | None = Field(None, description="local backend: the stage's process (group leader)")
    log: str = ""
    attempts: list[Attempt] = Field(default_factory=list)

    @property
    def current(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


class RunState(BaseModel):
    model_config = ConfigDict(extra="forbid")
    run_json_version: int = 1
    name: str
    plan_name: str
    plan_sha256: str
    backend: Literal["local", "slurm"]
    run_dir: str
    created_at: datetime
    approved_by: str = ""
    overrides: list[str] = Field(default_factory=list)
    supervisor_pid: int | None = None
    stages: dict[str, StageState] = Field(default_factory=dict)

    @property
    def status(self) -> str:
        states = [s.status for s in self.stages.values()]
        for status in ("FAILED", "CANCELLED", "RUNNING"):
            if status in states:
                return status
        if states and all(s == "COMPLETED" for s in states):
            return "COMPLETED"
        return "PENDING"


def state_path(run_dir: str | Path) -> Path:
    return Path(run_dir) / "run.json"


def read_state(run_dir: str | Path) -> RunState:
    path = state_path(run_dir)
    try:
        return RunState.model_validate_json(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PlanInputError(f"not a run directory (no run.json): {run_dir}") from None
    except ValueError as exc:
        raise PlanInputError(f"unreadable run.json in {run_dir}: {exc.__class__.__name__}") from None


def write_state(state: RunState) -> None:
    text = json.dumps(state.model_dump(mode="json"), indent=2) + "\n"
    atomic_write_text(state_path(state.run_dir), text)


@contextlib.contextmanager
def locked(run_dir: str | Path) -> Iterator[None]:
    with open(Path(run_dir) / ".run.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def update_state(run_dir: str | Path, change: Callable[[RunState], None]) -> RunState:
    """Apply `change` to the current state under the lock and write it back atomically."""
    with locked(run_dir):
        state = read_state(run_dir)
        change(state)
        write_state(state)
        return state


def create_run_dir(plan_file: str | Path, run_dir: str | Path) -> Path:
    """Make the run directory and copy the plan into it byte for byte."""
    run = Path(run_dir)
    if state_path(run).exists():
        raise PlanInputError(f"run directory already holds a run: {run} (use `llmplan resume {run}`)")
    for sub in SUBDIRS:
        (run / sub).mkdir(parents=True, exist_ok=True)
    shutil.copyfile(plan_file, run / "plan.yaml")
    return run


def list_runs(root: str | Path) -> list[RunState]:
    """Runs under `root` (each a directory holding run.json), newest first."""
    root = Path(root)
    if not root.is_dir():
        return []
    runs = []
    for path in sorted(root.glob("*/run.json")):
        with contextlib.suppress(PlanInputError):
            runs.append(read_state(path.parent))
    return sorted(runs, key=lambda r: r.created_at, reverse=True)


def stage_log(run_dir: str | Path, stage: str) -> Path:
    return Path(run_dir) / "logs" / f"{stage}.log"
