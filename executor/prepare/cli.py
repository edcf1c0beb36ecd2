"""`llmplan prepare` and `python -m executor.prepare`: raw text to Megatron indexed datasets (docs/data.md).

The command lives beside the pipeline so that jobs run it without the UI package; tui.commands.data
registers the same command with `llmplan`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import click

from executor.prepare import Pipeline
from planner.errors import PlanInputError
from planner.io import read_plan
from planner.schema.data import DataSource, DataSpec, TokenizerSpec


def _source_name(path: str, taken: set[str]) -> str:
    stem = Path(path.rstrip("/")).name.split(".")[0] or "input"
    base = re.sub(r"[^A-Za-z0-9._-]", "_", stem)[:56] or "input"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _spec_from_args(plan: str | None, inputs: tuple[str, ...], text_field: str, vocab_size: int | None):
    if plan and inputs:
        raise PlanInputError("give a plan file or --input paths, not both",
                             ["PLAN / --input: the plan's data.sources, or the paths given"])
    if plan:
        spec = read_plan(plan).data
    elif inputs:
        taken: set[str] = set()
        sources = [DataSource(name=_source_name(p, taken), path=p, text_field=text_field) for p in inputs]
        spec = DataSpec(sources=sources, tokenizer=TokenizerSpec(vocab_size=vocab_size or 32_000))
    else:
        raise PlanInputError("nothing to prepare", ["PLAN / --input: a plan file or one or more --input paths"])
    if vocab_size and plan:
        spec = spec.model_copy(update={"tokenizer": spec.tokenizer.model_copy(update={"vocab_size": vocab_size})})
    return spec


def _shard_args(shard_index: int | None, num_shards: int | None) -> tuple[int | None, int | None]:
    """--shard-index, else LLMPLAN_SHARD_INDEX, else SLURM_ARRAY_TASK_ID (inside a Slurm array task);
    --num-shards, else LLMPLAN_NUM_SHARDS, else SLURM_ARRAY_TASK_COUNT when the index came from the env."""
    if shard_index is None:
        for index_var, count_var in (("LLMPLAN_SHARD_INDEX", "LLMPLAN_NUM_SHARDS"),
                                     ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT")):
            if os.environ.get(index_var, "").isdigit():
                shard_index = int(os.environ[index_var])
                if num_shards is None and os.environ.get(count_var, "").isdigit():
                    num_shards = int(os.environ[count_var])
                break
    if shard_index is not None and num_shards is not None and not 0 <= shard_index < num_shards:
        raise PlanInputError(f"--shard-index {shard_index} is out of range",
                             [f"--shard-index: 0 to {num_shards - 1} for --num-shards {num_shards}"])
    return shard_index, num_shards


@click.command("prepare")
@click.argument("plan", required=False, type=click.Path(dir_okay=False))
@click.option("--input", "inputs", multiple=True, help="A file, directory, glob or hub dataset (repeatable).")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False), help="Output data directory.")
@click.option("--workers", type=click.IntRange(min=1), default=None, help="Processes (default: the plan's num_workers).")
@click.option("--num-shards", type=click.IntRange(min=1), default=None, help="Work units (default: the plan's num_shards).")
@click.option("--shard-index", type=click.IntRange(min=0), default=None,
              help="Run one shard only (default: LLMPLAN_SHARD_INDEX, else SLURM_ARRAY_TASK_ID in an array task).")
@click.option("--stage", type=click.Choice(["all", "filter", "dedup", "tokenizer", "tokenize", "merge"]),
              default=None, help="One stage only (default: all; with --shard-index: filter).")
@click.option("--text-field", default="text", show_default=True, help="Field holding the text (with --input).")
@click.option("--vocab-size", type=click.IntRange(min=256), default=None, help="BPE vocabulary size to train.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def prepare_cmd(plan, inputs, out_dir, workers, num_shards, shard_index, stage, text_field, vocab_size, quiet):
    """Prepare training data: filter, deduplicate, redact PII, tokenize, write Megatron .bin/.idx.

    Writes OUT/<source>_text_document.bin/.idx (training), OUT/<source>_val_text_document.bin/.idx
    (validation), OUT/tokenizer.json, OUT/stats.json and OUT/manifest.json. A re-run skips
    finished shards. In a Slurm array, each task runs `--stage filter` for its shard; then one
    `llmplan prepare ... --num-shards N` finishes the rest.
    """
    spec = _spec_from_args(plan, inputs, text_field, vocab_size)
    shard_index, num_shards = _shard_args(shard_index, num_shards)
    if num_shards is not None:
        spec = spec.model_copy(update={"num_shards": num_shards})
    if shard_index is not None and shard_index >= spec.num_shards:
        raise PlanInputError(f"--shard-index {shard_index} is out of range",
                             [f"--shard-index: 0 to {spec.num_shards - 1} (num_shards {spec.num_shards})"])
    stage = stage or ("filter" if shard_index is not None else "all")
    if shard_index is not None and stage not in ("filter", "tokenize"):
        raise PlanInputError(f"--stage {stage} runs over all shards",
                             ["--shard-index: only with --stage filter or --stage tokenize"])
    pipeline = Pipeline(spec, out_dir, workers, quiet)
    stats = pipeline.run(stage, None if shard_index is None else [shard_index])
    if stats is None:
        where = "all shards" if shard_index is None else f"shard {shard_index}"
        click.echo(f"stage {stage} done for {where} in {out_dir}")
        return
    click.echo(f"prepared {stats['docs_out']} of {stats['docs_in']} documents, "
               f"{sum(stats['tokens_out'].values())} tokens (vocab {stats['vocab_size']}) in {out_dir}")
    click.echo(f"  dropped by filters: {stats['docs_in'] - stats['docs_after_filters']}, "
               f"exact duplicates: {stats['exact_duplicates']}, near duplicates: {stats['near_duplicates']}, "
               f"PII redactions: {sum(stats['pii_redactions'].values())}")
    click.echo("  files: " + ", ".join(stats["outputs"]) + ", tokenizer.json, stats.json, manifest.json")


COMMANDS: list[click.Command] = [prepare_cmd]
