"""`llmplan ladder plan | approve | run | fit`: fit your own loss law on small runs (docs/ladder.md)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from executor.backends import BACKENDS
from planner.errors import PlanInputError


def _ratios(text: str) -> tuple[float, ...]:
    try:
        return tuple(float(x) for x in text.split(",") if x.strip())
    except ValueError:
        raise PlanInputError(f"--ratios: {text!r} is not a list of numbers; write e.g. 10,20,40") from None


@click.group()
def ladder() -> None:
    """Scaling-law ladder: plan small runs below a target plan, run them, fit L(N, D) on their losses."""


@ladder.command("plan")
@click.argument("plan_file", type=click.Path(dir_okay=False))
@click.option("--rungs", "num_sizes", type=int, default=5, show_default=True, help="Model sizes (each at every ratio).")
@click.option("--ratios", default="10,20,40", show_default=True, help="Tokens per parameter of every size.")
@click.option("--span-decades", type=float, default=1.75, show_default=True, help="log10(largest/smallest size).")
@click.option("--budget-fraction", type=float, default=0.02, show_default=True,
              help="Cap on the ladder's model FLOPs as a fraction of the target's.")
@click.option("--holdout/--no-holdout", default=False, help="Add one larger rung, not fitted, to check the law.")
@click.option("--pins", "pins_preset", help="Apply a goals preset's pins (presets/pins.yaml) to every rung, e.g. tiny-cpu.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json", "markdown"]), default="yaml", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write the ladder here (.yaml or .json).")
def plan_cmd(plan_file, num_sizes, ratios, span_decades, budget_fraction, holdout, pins_preset, fmt, output) -> None:
    """Derive a LadderPlan for PLAN_FILE: rungs, shapes, layouts, GPU-hours, dollars and days."""
    from planner.io import read_plan, to_json, to_yaml, write_model
    from planner.ladder import plan_ladder
    from planner.reports.ladder_report import ladder_markdown, ladder_text

    pins = None
    if pins_preset:
        import presets

        pins = presets.load_pins(pins_preset)
        if not pins:
            raise PlanInputError(f"--pins: {pins_preset!r} has no pins in presets/pins.yaml")
    from presets import load_catalog

    result = plan_ladder(read_plan(plan_file), load_catalog(), num_sizes=num_sizes, ratios=_ratios(ratios), span_decades=span_decades,
                         budget_fraction=budget_fraction, holdout=holdout, pins=pins)
    if output:
        write_model(result, output)
        click.echo(ladder_text(result) + f"written to {output}")
        return
    render = {"yaml": to_yaml, "json": to_json, "markdown": ladder_markdown}[fmt]
    click.echo(render(result), nl=False)


@ladder.command("approve")
@click.argument("ladder_file", type=click.Path(dir_okay=False))
@click.option("--by", "approved_by", required=True, help="Who approves the ladder's cost.")
@click.option("--note", default="")
def approve_cmd(ladder_file, approved_by, note) -> None:
    """Stamp LADDER_FILE with an approval of its current content (what `ladder run` checks)."""
    from datetime import UTC, datetime

    from planner.io import canonical_sha256, read_model, write_model
    from planner.schema import Approval
    from planner.schema.ladder import LadderPlan

    if not approved_by.strip():
        raise PlanInputError("approval needs a name", ["--by: empty; give the approver's name"])
    lad = read_model(LadderPlan, ladder_file)
    stamp = Approval(approved_by=approved_by.strip(), approved_at=datetime.now(UTC).replace(microsecond=0),
                     plan_sha256=canonical_sha256(lad), note=note)
    write_model(lad.model_copy(update={"approval": stamp}), ladder_file)
    click.echo(f"approved ladder '{lad.name}' ({len(lad.rungs)} rungs, ${lad.totals.cost_usd:,.0f}) by {approved_by}")


@ladder.command("run")
@click.argument("ladder_file", type=click.Path(dir_okay=False))
@click.option("--backend", type=click.Choice(BACKENDS), default="local", show_default=True)
@click.option("--run-dir", type=click.Path(file_okay=False), help="Default: runs/<ladder name>.")
@click.option("--rung", "only", multiple=True, help="Run only these rungs (repeatable).")
@click.option("--allow-unapproved", is_flag=True, help="Run a ladder nobody approved (recorded nowhere else).")
@click.option("--site", "site_file", type=click.Path(dir_okay=False), default=None,
              help="Slurm: site profile YAML (partition, account, python/venv, ...; docs/execution.md).")
@click.option("--wait", is_flag=True, help="Slurm: poll until the array ends, then print every rung's status.")
def run_cmd(ladder_file, backend, run_dir, only, allow_unapproved, site_file, wait) -> None:
    """Prepare once, then train every unfinished rung; run it again to resume (finished rungs are skipped).
    With --backend slurm: a prepare job and one array job (task i = rung i), returning after submission."""
    from planner.io import read_model
    from planner.schema.ladder import LadderPlan

    run_dir = run_dir or str(Path("runs") / read_model(LadderPlan, ladder_file).name)
    if backend == "slurm":
        from executor.backends.site import read_site
        from executor.ladder_slurm import check_finished, status_lines, submit_ladder, wait_ladder

        submit_ladder(ladder_file, run_dir, only=list(only), allow_unapproved=allow_unapproved,
                      site=read_site(site_file)[0], log=click.echo)
        if not wait:
            click.echo(f"submitted; `llmplan ladder status {run_dir}` shows the rungs (or pass --wait)")
            return
        state = wait_ladder(run_dir)
        for line in status_lines(state):
            click.echo(line)
        check_finished(run_dir, state)
        return
    from executor.ladder import run_ladder

    state = run_ladder(ladder_file, run_dir, backend=backend, only=list(only), allow_unapproved=allow_unapproved,
                       log=click.echo)
    done = sum(1 for e in state["rungs"].values() if e.get("status") == "COMPLETED")
    click.echo(f"ladder run in {run_dir}: {done} rungs completed in this directory's state")


@ladder.command("status")
@click.argument("run_dir", type=click.Path(exists=True, file_okay=False))
def status_cmd(run_dir) -> None:
    """Every rung's status in RUN_DIR (Slurm rungs refreshed from `scontrol show job`)."""
    from executor.ladder_slurm import refresh, status_lines

    for line in status_lines(refresh(run_dir)):
        click.echo(line)


@ladder.command("fit")
@click.argument("source", type=click.Path(exists=True))
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write fit.json here (default: SOURCE/fit.json).")
@click.option("--bootstrap", "num_bootstrap", type=click.IntRange(0, 10000), default=200, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--target", "target_plan", type=click.Path(dir_okay=False), help="A plan whose loss to predict.")
def fit_cmd(source, output, num_bootstrap, seed, target_plan) -> None:
    """Fit L(N, D) = E + A/N^alpha + B/D^beta to a ladder run directory (or a CSV of num_params,num_tokens,loss)."""
    try:
        from planner.model.scaling_fit import Target, fit_ladder
    except ImportError:
        raise PlanInputError("ladder fit needs numpy and scipy: pip install 'llmplan[fit]'") from None
    from planner.io import atomic_write_text, read_plan
    from planner.reports.ladder_report import fit_text

    src = Path(source)
    if src.is_dir():
        from executor.ladder import ladder_points

        points, holdout = ladder_points(src)
    else:
        from planner.io import read_fit_points_csv

        points, holdout = read_fit_points_csv(src)
    if not points:
        raise PlanInputError(f"{source}: no finished rungs (rungs/*/result.json) or points to fit")
    targets = [Target(p.name or "holdout", p.num_params, p.num_tokens) for p in holdout]
    if target_plan:
        tp = read_plan(target_plan)
        targets.append(Target(tp.name, tp.model.num_params, tp.tokens.num_tokens))
    fit = fit_ladder(points, num_bootstrap=num_bootstrap, seed=seed, targets=targets, source=str(src.resolve()))
    out = Path(output) if output else (src / "fit.json" if src.is_dir() else src.with_suffix(".fit.json"))
    atomic_write_text(out, json.dumps(fit.model_dump(mode="json"), indent=2) + "\n")
    click.echo(fit_text(fit), nl=False)
    for h in holdout:
        ex = next(e for e in fit.extrapolations if e.name == (h.name or "holdout"))
        if ex.predicted_loss is not None:
            pred, iv = ex.predicted_loss, ex.interval
            inside = "" if iv is None else (f"; p10-p90 [{iv.p10:.4f}, {iv.p90:.4f}] "
                                            f"{'holds' if iv.p10 <= h.loss <= iv.p90 else 'misses'} it")
            click.echo(f"holdout {h.name}: measured {h.loss:.4f}, predicted {pred:.4f} ({pred / h.loss - 1:+.2%}){inside}")
    click.echo(f"written to {out}")


COMMANDS: list[click.Command] = [ladder]
