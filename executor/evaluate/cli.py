"""`llmplan evaluate RUN_DIR`: lm-eval tasks and held-out perplexity on a run's latest checkpoint
(docs/evaluation.md); also `python -m executor.evaluate RUN_DIR`, the evaluation job's command, which
needs no UI package. tui.commands.evaluate registers the same command with `llmplan`."""

from __future__ import annotations

import os
from pathlib import Path

import click

from executor.hf import need
from planner.errors import PlanInputError
from planner.io import read_plan, validate_as
from planner.schema.evaluation import EvalSpec


def _task_list(values: tuple[str, ...]) -> list[str]:
    """`--tasks a,b --tasks c` -> [a, b, c]."""
    return [t.strip() for v in values for t in v.split(",") if t.strip()]


def eval_spec(run_dir: Path, tasks: tuple[str, ...], overrides: dict):
    """The plan's evaluation section (RUN_DIR/plan.yaml, else defaults) with the flags applied."""
    plan_path = run_dir / "plan.yaml"
    spec = read_plan(plan_path).evaluation if plan_path.is_file() else EvalSpec()
    data = spec.model_dump(mode="json")
    data.update({k: v for k, v in overrides.items() if v is not None})
    if tasks:
        data["tasks"] = _task_list(tasks)
    if not data["tasks"]:
        raise PlanInputError("no tasks to evaluate", ["--tasks: one or more lm-eval task names"])
    return validate_as(EvalSpec, data, "evaluation (plan and flags)")


@click.command("evaluate")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--tasks", "tasks", multiple=True, help="lm-eval task names, comma-separated or repeated "
              "(default: the plan's evaluation.tasks).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most N items per task.")
@click.option("--num-fewshot", type=click.IntRange(0, 25), default=None, help="Few-shot examples per item.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Sequences per forward pass.")
@click.option("--task-dir", type=click.Path(file_okay=False), default=None,
              help="Directory of your own lm-eval task YAMLs (local data_files).")
@click.option("--online/--offline", "online", default=None,
              help="Use lm-eval's hub tasks (online) or only local task files (offline, the plan's default).")
@click.option("--backend", type=click.Choice(["native", "hf"]), default="native", show_default=True,
              help="native: llmplan's adapter on the checkpoint (RUN_DIR/eval/); hf: lm-eval's own `hf` model "
              "on the run's Transformers export (RUN_DIR/hf/, results in RUN_DIR/eval-hf/; needs llmplan[hf]).")
def evaluate_command(run_dir: str, tasks: tuple[str, ...], limit: int | None, num_fewshot: int | None,
                     batch_size: int | None, task_dir: str | None, online: bool | None, backend: str) -> None:
    """Score RUN_DIR's latest checkpoint on lm-eval tasks; write RUN_DIR/eval/.

    Offline (the default) runs the bundled task samples, llmplan's `facts` task and your --task-dir
    files with the hub switched off; a task that needs the hub is refused before anything runs.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise PlanInputError(f"RUN_DIR: {run_dir!r} is not a directory")
    overrides = {"limit": limit, "num_fewshot": num_fewshot, "batch_size": batch_size, "task_dir": task_dir,
                 "offline": None if online is None else not online}
    spec = eval_spec(path, tasks, overrides)
    if spec.offline:
        os.environ["HF_DATASETS_OFFLINE"] = "1"  # before datasets is imported: it reads them once
        os.environ["HF_HUB_OFFLINE"] = "1"
    # deferred: runner imports torch; the CLI imports this module at start-up
    from executor.evaluate.runner import evaluate_run

    if backend == "hf":
        need("transformers", "safetensors", "accelerate")
    results = evaluate_run(path, spec, backend=backend)
    eval_dir = path / ("eval-hf" if backend == "hf" else "eval")
    click.echo((eval_dir / "summary.md").read_text(encoding="utf-8"), nl=False)
    click.echo(f"\nwrote {eval_dir / 'results.json'} ({len(results['results'])} tasks)")


COMMANDS: list[click.Command] = [evaluate_command]
