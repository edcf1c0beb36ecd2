"""`llmplan train`: the Megatron-Core training job (executor/train, docs/training.md).

Under torchrun (RANK set) this process is one rank of the job. Otherwise it starts torchrun with
one process per rank of the plan's layout and forwards SIGTERM/SIGUSR1 to the workers, so the job
checkpoints and exits 0.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from executor.train.launch import launch, torchrun_argv
from planner.errors import PlanInputError
from planner.io import read_plan


def _check_paths(plan: str, data_dir: str) -> None:
    if not Path(plan).is_file():
        raise PlanInputError(f"no such plan file: {plan}", ["PLAN: a plan YAML/JSON file"])
    if not (Path(data_dir) / "tokenizer.json").is_file():
        raise PlanInputError(f"--data {data_dir}: not a prepared data directory (no tokenizer.json)",
                             ["--data: the --out directory of `llmplan prepare`"])


@click.command("train")
@click.argument("plan", type=click.Path(dir_okay=False))
@click.option("--data", "data_dir", required=True, type=click.Path(file_okay=False),
              help="Prepared data directory (`llmplan prepare --out`).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory: checkpoints/, metrics.jsonl.")
@click.option("--resume/--no-resume", default=True, show_default=True,
              help="Continue from OUT/checkpoints/latest when it exists.")
@click.option("--max-steps", type=click.IntRange(min=1), default=None,
              help="Stop after this many optimizer steps (at most the plan's train_steps).")
def train(plan: str, data_dir: str, out_dir: str, resume: bool, max_steps: int | None) -> None:
    """Train the plan's model with Megatron-Core (run under torchrun, or it starts torchrun)."""
    _check_paths(plan, data_dir)
    if "RANK" in os.environ:
        from executor.train.loop import TrainArgs, run  # deferred: torch and megatron-core

        code = run(TrainArgs(Path(plan), Path(data_dir), Path(out_dir), resume, max_steps))
    else:
        layout = read_plan(plan).layout
        if layout is None:
            raise PlanInputError(f"{plan}: the plan has no layout", ["layout: run `llmplan plan` to derive one"])
        code = launch(torchrun_argv(layout.layout.num_gpus, Path(plan), Path(data_dir), Path(out_dir),
                                    resume=resume, max_steps=max_steps))
    if code:
        raise click.exceptions.Exit(code)


COMMANDS: list[click.Command] = [train]
