"""`llmplan approve | execute | runs | status | logs | cancel | resume` (see docs/execution.md)."""

from __future__ import annotations

import time
from pathlib import Path

import click

from executor import control
from executor.approval import approve as approve_plan
from executor.backends import BACKENDS
from executor.backends.site import site_to_yaml
from executor.backends.slurm import restart_report
from executor.costs import cost_report
from executor.rundir import FINAL, read_state
from executor.rundir import list_runs as find_runs
from planner.errors import PlanInputError
from planner.io import read_plan, write_model
from planner.model.data_sources import approval_note
from tui.cli_numbers import SECONDS

RUNS_ROOT_HELP = "directory holding run directories (default: ./runs)"


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--by", "approved_by", required=True, help="Name of the person approving the plan.")
@click.option("--note", default="", help="Free-text note kept in the approval block.")
@click.option("--allow-demo-data", is_flag=True,
              help="Approve a plan that draws more tokens from the demo corpus builtin:pydoc than it holds.")
def approve(plan_file: str, approved_by: str, note: str, allow_demo_data: bool) -> None:
    """Approve PLAN_FILE: stamp it with approver, UTC time and the sha256 of its content."""
    plan = read_plan(plan_file)
    try:
        note = approval_note(plan, note, allow_demo_data)
    except PlanInputError as exc:
        raise PlanInputError(exc.headline, exc.lines, plan_file) from None
    plan = approve_plan(plan, approved_by, note)
    write_model(plan, plan_file)
    click.echo(f"approved {plan_file} by {plan.approval.approved_by} at "
               f"{plan.approval.approved_at.isoformat()} (sha256 {plan.approval.plan_sha256[:16]}...)")


@click.command()
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True)
@click.option("--run-dir", default=None, help="Run directory (default: RUNS_ROOT/<plan name>-<UTC time>).")
@click.option("--runs-root", default=None, help="directory holding run directories (default: the site's run_root, "
              "else ./runs)")
@click.option("--site", "site_file", type=click.Path(dir_okay=False), default=None,
              help="Site profile YAML (partition, account, QoS, python/venv, container, env; docs/execution.md); "
                   "default: the site: section of ~/.config/llmplan/site.yaml.")
@click.option("--dry-run", is_flag=True, help="Validate and print the jobs; create and submit nothing.")
@click.option("--override-approval", is_flag=True, help="Run an unapproved or edited plan (recorded in run.json).")
@click.option("--override-budget", is_flag=True, help="Run a plan over the goals' budget (recorded in run.json).")
@click.option("--wait", "wait_s", type=SECONDS, default=None, help="Wait up to this many seconds for the run to end.")
def execute(plan_file, backend, run_dir, runs_root, site_file, dry_run, override_approval, override_budget,
            wait_s) -> None:
    """Run an approved plan: prepare -> train -> evaluate, locally or on Slurm."""
    overrides = tuple(k for k, on in (("approval", override_approval), ("budget", override_budget)) if on)
    result = control.execute(plan_file, backend, run_dir, runs_root, dry_run, overrides, site_file)
    if isinstance(result, control.DryRun):
        click.echo(f"# dry run: nothing created; run directory would be {result.run_dir}")
        click.echo(f"# site profile: {result.site_source or 'none (defaults)'}")
        for line in site_to_yaml(result.site).splitlines():
            click.echo(f"#   {line}")
        for job in result.graph.order():
            if job.explain:
                click.echo(f"# {job.name} resources: {job.explain}")
        for stage, text in result.scripts.items():
            click.echo(f"# ---- {stage}\n{text.rstrip()}")
        return
    if result.overrides:
        click.echo(f"overrides used (recorded in run.json): {', '.join(result.overrides)}")
    click.echo(f"run {result.run_dir} submitted on {backend}")
    _print_stages(result)
    if wait_s is not None:
        _wait(result.run_dir, wait_s)


@click.command("runs")
@click.option("--runs-root", default="runs", help=RUNS_ROOT_HELP)
def list_runs(runs_root: str) -> None:
    """List runs, newest first."""
    runs = find_runs(runs_root)
    if not runs:
        click.echo(f"no runs under {runs_root}")
    for run in runs:
        stages = " ".join(f"{s.stage}={s.status}" for s in run.stages.values())
        click.echo(f"{run.name:<40} {run.backend:<6} {run.status:<10} {stages}")


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print run.json after refreshing it.")
def status(run_dir: str, as_json: bool) -> None:
    """Refresh and show a run: stages, job ids, times, cost so far and forecast against the plan."""
    state = control.status(run_dir)
    if as_json:
        click.echo(state.model_dump_json(indent=2))
        return
    click.echo(f"run {state.run_dir} ({state.backend}): {state.status}")
    _print_stages(state)
    if state.backend == "slurm":
        for line in restart_report(run_dir):
            click.echo(line)
    click.echo(cost_report(read_plan(Path(run_dir) / "plan.yaml"), state).summary())


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--stage", type=click.Choice(["prepare", "train", "evaluate", "supervisor"]), default=None)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new lines until the stage ends.")
def logs(run_dir: str, stage: str | None, follow: bool) -> None:
    """Print a stage's log (default: the latest stage that started)."""
    state = read_state(run_dir)
    if stage is None:
        started = [s.stage for s in state.stages.values() if s.attempts and s.attempts[-1].started_at]
        stage = started[-1] if started else "prepare"
    paths = sorted(Path(run_dir, "logs").glob(f"{stage}*.log"))
    offsets = {p: 0 for p in paths}
    while True:
        for path in sorted(Path(run_dir, "logs").glob(f"{stage}*.log")):
            with open(path, "rb") as fh:
                fh.seek(offsets.get(path, 0))
                chunk = fh.read()
                offsets[path] = fh.tell()
            click.echo(chunk.decode(errors="replace"), nl=False)
        if not follow or stage == "supervisor":
            return
        current = control.status(run_dir).stages.get(stage)
        if current is None or current.status in FINAL:
            return
        time.sleep(1.0)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
def cancel(run_dir: str) -> None:
    """Cancel a run's unfinished stages (training checkpoints before it stops)."""
    state = control.cancel(run_dir)
    click.echo(f"run {state.run_dir}: {state.status}")
    _print_stages(state)


@click.command()
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--wait", "wait_s", type=SECONDS, default=None, help="Wait up to this many seconds for the run to end.")
def resume(run_dir: str, wait_s: float | None) -> None:
    """Re-submit the stages that did not complete; training resumes from its latest checkpoint."""
    state, todo = control.resume(run_dir)
    click.echo(f"resubmitted: {', '.join(todo)}" if todo else "nothing to resume: every stage completed")
    _print_stages(state)
    if wait_s is not None and todo:
        _wait(state.run_dir, wait_s)


def _print_stages(state) -> None:
    for stage in state.stages.values():
        attempt = stage.current
        job = attempt.job_id if attempt else "-"
        start = attempt.started_at.isoformat() if attempt and attempt.started_at else "-"
        end = attempt.ended_at.isoformat() if attempt and attempt.ended_at else "-"
        click.echo(f"  {stage.stage:<9} {stage.status:<10} job {job:<12} attempts {len(stage.attempts)} "
                   f"started {start} ended {end}")


def _wait(run_dir: str, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        state = control.status(run_dir)
        if all(s.status in FINAL for s in state.stages.values()):
            click.echo(f"run {state.run_dir}: {state.status}")
            _print_stages(state)
            if state.status != "COMPLETED":
                raise click.exceptions.Exit(1)
            return
        time.sleep(1.0)
    raise click.ClickException(f"run {run_dir} still active after {wait_s:g} s")


COMMANDS: list[click.Command] = [approve, execute, list_runs, status, logs, cancel, resume]
