"""`llmplan sweep`: a table of scenarios over varied goals, with the Pareto front marked.

The planner's sweep module loads pandas inside the functions that build the frame, so importing
it here costs `llmplan estimate` nothing heavy (this module is imported only for `llmplan sweep`).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import click

from planner.errors import PlanInputError
from planner.io import read_goals
from planner.reports import sweep
from planner.units import format_count
from presets import load_catalog, load_goals_preset

SHOWN_COLUMNS = ("num_params", "num_tokens", "gpu", "num_gpus", "gpu_hours", "wallclock_days",
                 "days_with_failures", "total_cost_usd", "serving_cost_usd", "total_cost_of_ownership_usd", "co2_kg",
                 "predicted_loss", "infeasible", "pareto", "error")
"""Printed when present (`days_with_failures` only with --full, which derives the failure plan)."""


@click.command("sweep")
@click.option("--goals", "goals_path", type=click.Path(dir_okay=False), help="Base goals file (YAML/JSON).")
@click.option("--preset", default=None, help="Base goals preset (default: the `default` preset).")
@click.option("--vary", "varies", multiple=True, required=True, metavar="FIELD=VALUES",
              help="A Goals field and its values: a list (gpu=A100-80GB,H100-SXM), a geometric range "
                   "(num_gpus=64:512:x2) or an arithmetic one (pue=1.1:1.5:+0.1). Repeat for a grid.")
@click.option("-o", "--out", "out_path", type=click.Path(dir_okay=False),
              help="Write the table: .csv or .parquet.")
@click.option("--full", is_flag=True, help="Derive the full plan (layout, recipe, failures) per scenario; slower.")
@click.option("--pareto-only", is_flag=True, help="Print and write only the Pareto-optimal scenarios.")
@click.option("--sort", "sort_by", default="total_cost_usd", show_default=True, help="Column to sort by.")
def sweep_command(goals_path: str | None, preset: str | None, varies: tuple[str, ...], out_path: str | None,
                  full: bool, pareto_only: bool, sort_by: str) -> None:
    """Plan every combination of the varied goals; mark the Pareto front of cost, days and loss."""
    if out_path and Path(out_path).suffix.lower() not in (".csv", ".parquet"):
        raise PlanInputError(f"-o: {out_path!r} must end in .csv or .parquet")
    base = _base_goals(goals_path, preset)
    frame = sweep.run_sweep(base, sweep.parse_varies(varies), load_catalog(), sweep.evaluate_plan if full else None)
    if sort_by not in frame.columns:
        raise PlanInputError(f"--sort: no column {sort_by!r}", [f"columns: {', '.join(frame.columns)}"])
    frame = frame.sort_values(sort_by, kind="stable", na_position="last").reset_index(drop=True)
    if pareto_only:
        frame = frame[frame["pareto"]].reset_index(drop=True)
    click.echo(format_table(frame, [name for name, _ in sweep.parse_varies(varies)]))
    if out_path:
        write_table(frame, Path(out_path))
        click.echo(f"wrote {len(frame)} scenarios to {out_path}")


def _base_goals(goals_path: str | None, preset: str | None):
    if goals_path and preset:
        raise PlanInputError("give --goals or --preset, not both")
    if goals_path:
        return read_goals(goals_path)
    return load_goals_preset(preset or "default")


def format_table(frame, varied: list[str]) -> str:
    """The scenario table as text: varied fields first, then the headline figures."""
    varied_cols = [f"vary.{n}" if f"vary.{n}" in frame.columns else n for n in varied]
    shown = varied_cols + [c for c in SHOWN_COLUMNS if c in frame.columns and c not in varied]
    if frame["error"].isna().all():
        shown.remove("error")
    if "serving_cost_usd" in shown and not frame["serving_cost_usd"].fillna(0).astype(float).any():
        shown = [c for c in shown if c not in ("serving_cost_usd", "total_cost_of_ownership_usd")]  # no inference
    view = frame.loc[:, shown].copy()
    if "total_cost_usd_p10" in frame.columns:  # the range shown next to the figure
        spans = [("" if lo != lo else f"{format_count(lo)}-{format_count(hi)}")
                 for lo, hi in zip(frame["total_cost_usd_p10"], frame["total_cost_usd_p90"], strict=True)]
        view.insert(view.columns.get_loc("total_cost_usd") + 1, "cost_p10_p90", spans)
    view["pareto"] = view["pareto"].map({True: "*", False: ""})
    counts = lambda v: format_count(v, 4)  # noqa: E731 - 7.003B, never 7.003e+09 (planner.units)
    formatters = {c: counts for c in ("num_params", "num_tokens") if c in view.columns}
    formatters.update({c: "{:,.0f}".format for c in ("gpu_hours", "co2_kg") if c in view.columns})
    formatters.update({c: "{:,.0f}".format for c in ("total_cost_usd", "serving_cost_usd", "total_cost_of_ownership_usd")
                       if c in view.columns})
    formatters.update({c: "{:.2f}".format for c in ("wallclock_days", "days_with_failures") if c in view.columns})
    formatters.update({c: "{:.3f}".format for c in ("predicted_loss",) if c in view.columns})
    for c in varied_cols:
        if view[c].dtype.kind == "f":
            formatters.setdefault(c, counts)
    formatters.setdefault("num_gpus", "{:.0f}".format)
    safe = {c: (lambda f: (lambda v: "" if v is None or v != v else f(v)))(formatters.get(c, str))
            for c in view.columns}
    front = int(frame["pareto"].sum())
    return view.to_string(index=False, formatters=safe, na_rep="") + f"\n{len(frame)} scenarios, {front} on the Pareto front (*)"


def write_table(frame, path: Path) -> None:
    """CSV or Parquet, written to a temp file and renamed so a killed write leaves nothing half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(fd)
    try:
        if path.suffix.lower() == ".parquet":
            try:
                frame.to_parquet(tmp, index=False)
            except ImportError:
                raise PlanInputError("-o: writing Parquet needs pyarrow (pip install 'llmplan[dev]')") from None
        else:
            frame.to_csv(tmp, index=False)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)


COMMANDS: list[click.Command] = [sweep_command]
