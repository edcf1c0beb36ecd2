"""Shared helpers of the executor tests: approved plans, fake-stage job graphs, waiting for runs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from executor.approval import approve
from executor.control import initial_state
from executor.jobs import JobGraph, compile_job_graph
from executor.rundir import FINAL, RunState, create_run_dir, read_state, write_state
from planner.io import read_plan, write_model
from planner.schema import RunPlan

HERE = Path(__file__).resolve().parent
FIXTURE = HERE.parent / "fixtures" / "tiny_plan.yaml"


def tiny_plan(**changes) -> RunPlan:
    """The tiny CPU plan, with top-level or `section.field` changes."""
    plan = read_plan(FIXTURE)
    for key, value in changes.items():
        if "__" in key:
            section, name = key.split("__")
            part = getattr(plan, section).model_copy(update={name: value})
            plan = plan.model_copy(update={section: part})
        else:
            plan = plan.model_copy(update={key: value})
    return plan


def write_approved(path: Path, plan: RunPlan | None = None, note: str = "") -> Path:
    write_model(approve(plan or tiny_plan(), "Ada Lovelace", note), path)
    return path


def fake_graph(graph: JobGraph, env: dict[str, str] | None = None) -> JobGraph:
    """The same graph with every job run by tests/executor/fake_stage.py (`python -m fake_stage STAGE
    ARGS`) instead of the executor's entrypoints; resources and launch kinds unchanged."""
    extra = (("PYTHONPATH", str(HERE)), *(env or {}).items())
    jobs = tuple(dataclasses.replace(j, env=j.env + extra, launch=dataclasses.replace(
        j.launch, module="fake_stage", args=(j.stage, *j.launch.args))) for j in graph.jobs)
    return dataclasses.replace(graph, jobs=jobs)


def new_fake_run(tmp_path: Path, backend: str = "local", env: dict[str, str] | None = None):
    """A run directory for an approved tiny plan (2 data shards), ready to submit with fake stages."""
    base = tiny_plan()
    plan_file = write_approved(tmp_path / "plan.yaml", base.model_copy(
        update={"data": base.data.model_copy(update={"num_shards": 2})}))
    plan = read_plan(plan_file)
    run_dir = str(tmp_path / "run")
    graph = fake_graph(compile_job_graph(plan, run_dir), env)
    create_run_dir(plan_file, run_dir)
    write_state(initial_state(plan, graph, backend, []))
    return plan, graph


def wait_final(status_fn, run_dir: str, timeout_s: float = 120.0) -> RunState:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = status_fn(run_dir)
        if all(s.status in FINAL for s in state.stages.values()):
            return state
        time.sleep(0.3)
    raise AssertionError(f"run not final after {timeout_s} s: {read_state(run_dir).model_dump_json(indent=1)}")


def wait_for(predicate, timeout_s: float = 60.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


ROOT = HERE.parent.parent
SLURM_SCRIPT = ROOT / "scripts" / "local-slurm.sh"


def slurm_running() -> bool:
    import subprocess

    return subprocess.run(["bash", str(SLURM_SCRIPT), "status"], capture_output=True).returncode == 0


def _slurm_cluster():
    """The local two-node Slurm cluster (scripts/local-slurm.sh start --nodes 2): started here if it is
    not running, stopped afterwards only if no slurmctld was running before (a cluster someone else
    started, e.g. scripts/test.sh, is left as it was)."""
    import os
    import subprocess

    import pytest

    ctld_pid = Path("/run/slurmctld.pid")
    was_up = ctld_pid.exists() and Path(f"/proc/{ctld_pid.read_text().strip() or 0}").exists()
    if slurm_running():
        yield
        return
    if was_up and os.geteuid() == 0:
        done = subprocess.run(["bash", str(SLURM_SCRIPT), "start", "--nodes", "2"], capture_output=True, text=True,
                              timeout=600)
        assert done.returncode == 0, f"scripts/local-slurm.sh start failed:\n{done.stdout}\n{done.stderr}"
        yield
        return
    if os.geteuid() != 0:
        pytest.skip("the local Slurm cluster needs root to start (scripts/local-slurm.sh start)")
    done = subprocess.run(["bash", str(SLURM_SCRIPT), "start", "--nodes", "2"], capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"scripts/local-slurm.sh start failed:\n{done.stdout}\n{done.stderr}"
    yield
    subprocess.run(["bash", str(SLURM_SCRIPT), "stop"], capture_output=True, timeout=300)


def cli(*args: str) -> tuple[int, str]:
    """Run `llmplan ARGS` in this process; (exit status, stdout + stderr)."""
    import contextlib
    import io

    from tui.cli import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
        code = main(list(args))
    return code, out.getvalue()


def e2e_plan(tmp_path: Path, note: str = "", nodes: int = 1) -> Path:
    """The tiny plan, shortened for the end-to-end tests (60 steps, a checkpoint every 20, 2 data
    shards), approved. `nodes=2`: DP=2 with TP=1 and one rank per node, so training spans two nodes."""
    plan = tiny_plan()
    plan = plan.model_copy(update={
        "data": plan.data.model_copy(update={"num_shards": 2}),
        "recipe": plan.recipe.model_copy(update={"train_steps": 60, "warmup_steps": 6}),
        "reliability": plan.reliability.model_copy(update={"checkpoint_interval_steps": 20}),
    })
    if nodes == 2:
        lay = plan.layout.layout.model_copy(update={"tensor_model_parallel_size": 1, "data_parallel_size": 2})
        plan = plan.model_copy(update={"layout": plan.layout.model_copy(update={"layout": lay, "gpus_per_node": 1})})
    return write_approved(tmp_path / "plan.yaml", plan, note)


def metric_steps(run_dir: str | Path) -> list[int]:
    from executor.costs import read_metrics

    return [m["step"] for m in read_metrics(Path(run_dir) / "metrics.jsonl") if "step" in m]


def latest_checkpoint_step(run_dir: str | Path) -> int:
    path = Path(run_dir) / "checkpoints" / "latest_checkpointed_iteration.txt"
    return int(path.read_text().strip()) if path.exists() else 0
