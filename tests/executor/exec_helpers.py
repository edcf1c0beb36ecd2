"""Shared helpers of the executor tests: approved plans, fake-stage job graphs, waiting for runs."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from executor.approval import approve
from executor.backends.control import initial_state
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
    """The same graph with every stage run by tests/executor/fake_stage.py instead of tui.cli."""
    extra = (("PYTHONPATH", str(HERE)), *(env or {}).items())
    jobs = tuple(dataclasses.replace(j, module="fake_stage", env=j.env + extra) for j in graph.jobs)
    return dataclasses.replace(graph, jobs=jobs)


def new_fake_run(tmp_path: Path, backend: str = "local", env: dict[str, str] | None = None):
    """A run directory for an approved tiny plan, ready to submit with fake stages."""
    plan_file = write_approved(tmp_path / "plan.yaml")
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
