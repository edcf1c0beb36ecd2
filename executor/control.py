"""What `llmplan execute | status | cancel | resume` do, independent of the command line.

`execute` gates on approval and budget (executor.approval), validates the site profile, compiles the
job graph (executor.jobs), has the backend render every script (validating every value) before it
creates anything, makes the run directory, writes run.json and site.yaml (the site options used;
`resume` reads them back) and hands the graph and the plan to the backend to submit all three
stages. `resume` re-checks the run's own plan.yaml, then re-submits only the stages that did not
complete; the trainer picks up its latest checkpoint by itself, and a completed stage never reruns.
This is orchestration, not a backend: it lives beside the graph, and backends know nothing of it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from executor.approval import check_executable
from executor.backends import get_backend
from executor.backends.safety import check_path
from executor.backends.site import read_site, site_from_run_dir, site_to_yaml
from executor.jobs import JobGraph, SiteOptions, compile_job_graph, is_cpu_plan
from executor.rundir import (
    FINAL, RunState, StageState, create_run_dir, read_state, utc_now, write_state,
)
from planner.errors import PlanInputError
from planner.io import atomic_write_text, canonical_sha256, read_plan
from planner.schema import RunPlan


@dataclass(frozen=True)
class DryRun:
    run_dir: str
    graph: JobGraph
    scripts: dict[str, str]  # job name -> sbatch script or local command line
    site: SiteOptions = SiteOptions()
    site_source: str = ""  # the file the site options came from ('' for the defaults)


def default_run_dir(plan: RunPlan, runs_root: str | Path) -> str:
    return str(Path(runs_root).absolute() / f"{plan.name}-{utc_now().strftime('%Y%m%d-%H%M%S')}")


def render_all(graph: JobGraph, plan: RunPlan, backend: str, site: SiteOptions | None = None) -> dict[str, str]:
    """Every job's script (slurm) or command line (local), by job name; validates every value."""
    return get_backend(backend, site).render(graph, plan)


def initial_state(plan: RunPlan, graph: JobGraph, backend: str, overrides: list[str]) -> RunState:
    """run.json of a new run: one entry per stage, holding the devices of the stage's last job."""
    cpu = is_cpu_plan(plan)
    stages = {}
    for stage in graph.stages():
        res = graph.stage_job(stage).resources
        devices = res.num_nodes * res.procs_per_node if cpu else res.num_gpus
        stages[stage] = StageState(stage=stage, num_devices=devices, depends_on=graph.stage_depends_on(stage))
    return RunState(
        name=Path(graph.run_dir).name, plan_name=plan.name, plan_sha256=canonical_sha256(plan),
        backend=backend, run_dir=graph.run_dir, created_at=utc_now(),
        approved_by=plan.approval.approved_by if plan.approval else "", overrides=overrides, stages=stages,
    )


def execute(plan_file: str, backend: str, run_dir: str | None = None, runs_root: str | None = None,
            dry_run: bool = False, overrides: tuple[str, ...] = (), site_file: str | None = None) -> RunState | DryRun:
    """`site_file`: a site profile (`--site`); without it, the user config's `site:` section if any."""
    plan = read_plan(plan_file)
    site, site_source = read_site(site_file)
    used = check_executable(plan, overrides, str(plan_file))
    if run_dir and ".." in Path(run_dir).parts:
        check_path("/..", "--run-dir")  # the same message as any other unsafe path
    root = runs_root or site.run_root or "runs"
    target = check_path(os.path.abspath(run_dir) if run_dir else default_run_dir(plan, root), "--run-dir")
    graph = compile_job_graph(plan, target, site)
    scripts = render_all(graph, plan, backend, site)
    if dry_run:
        return DryRun(target, graph, scripts, site, site_source)
    create_run_dir(plan_file, target)
    atomic_write_text(Path(target) / "site.yaml", f"# from {site_source or 'defaults'}\n" + site_to_yaml(site))
    write_state(initial_state(plan, graph, backend, used))
    return get_backend(backend, site).submit(graph, plan, graph.stages())


def status(run_dir: str) -> RunState:
    return get_backend(read_state(run_dir).backend).status(str(Path(run_dir).absolute()))


def cancel(run_dir: str) -> RunState:
    return get_backend(read_state(run_dir).backend).cancel(str(Path(run_dir).absolute()))


def resume(run_dir: str) -> tuple[RunState, list[str]]:
    """Re-submit the stages that did not complete; returns the new state and those stages."""
    run_dir = str(Path(run_dir).absolute())
    state = status(run_dir)
    busy = [s.stage for s in state.stages.values() if s.status not in FINAL]
    if busy:
        raise PlanInputError("run is still active",
                             [f"stages {', '.join(busy)} are pending or running; `llmplan cancel {run_dir}` first"])
    plan = read_plan(Path(run_dir) / "plan.yaml")
    check_executable(plan, state.overrides, f"{run_dir}/plan.yaml")
    site = site_from_run_dir(run_dir)
    graph = compile_job_graph(plan, run_dir, site)
    todo = [s for s in graph.stages() if state.stages[s].status != "COMPLETED"]
    if not todo:
        return state, []
    return get_backend(state.backend, site).submit(graph, plan, todo), todo
