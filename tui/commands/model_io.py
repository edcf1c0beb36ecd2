"""`llmplan export-model` and `llmplan import-model`: a run's checkpoint to and from a Hugging Face
Transformers directory (executor/hf, docs/model-export.md)."""

from __future__ import annotations

from pathlib import Path

import click

from executor.hf import need as _need
from planner.errors import PlanInputError


@click.command("export-model")
@click.argument("run_dir", type=click.Path(file_okay=False))
@click.option("--step", type=click.IntRange(min=0), default=None, help="Checkpoint step (default: the latest).")
@click.option("--format", "fmt", type=click.Choice(["hf"]), default="hf", show_default=True,
              help="Output format: a Transformers LlamaForCausalLM directory.")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="New directory to write.")
@click.option("--max-shard-size-mb", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Split model.safetensors into shards with an index above this size.")
@click.option("--dtype", type=click.Choice(["auto", "float32", "bfloat16", "float16"]), default="auto",
              show_default=True, help="Weights dtype; auto: as the checkpoint stores them (bf16 GPU runs, fp32 on CPU).")
def export_model(run_dir: str, step: int | None, fmt: str, out_dir: str, max_shard_size_mb: int, dtype: str) -> None:
    """Write RUN_DIR's checkpoint as a Hugging Face directory (config, safetensors, tokenizer, model card)."""
    del fmt  # one format so far
    _need("safetensors", "tokenizers", "torch", "megatron.core")
    if not Path(run_dir).is_dir():
        raise PlanInputError(f"RUN_DIR: {run_dir!r} is not a directory")
    from executor.hf.export import export_hf  # deferred: torch (executor.hf.convert imports it at module level)

    done = export_hf(run_dir, out_dir, step, max_shard_size_mb * 10**6, dtype)
    click.echo(f"wrote {done.out_dir} (step {done.iteration}, vocabulary {done.vocab_size}): {', '.join(done.files)}")


@click.command("import-model")
@click.argument("hf_dir", type=click.Path(file_okay=False))
@click.option("--plan", "plan_path", required=True, type=click.Path(dir_okay=False),
              help="The plan to continue pretraining with (its model must be this model's shape).")
@click.option("-o", "--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run directory: writes OUT/checkpoints, which `llmplan train PLAN --out OUT` continues from.")
@click.option("--tokens-seen", type=click.FloatRange(min=0), default=None,
              help="Tokens the model was already trained on (for the model card of later exports).")
def import_model(hf_dir: str, plan_path: str, out_dir: str, tokens_seen: float | None) -> None:
    """Convert a Transformers Llama-family directory into a checkpoint `llmplan train` resumes from."""
    _need("safetensors", "tokenizers", "torch", "megatron.core")
    if not Path(hf_dir).is_dir():
        raise PlanInputError(f"HF_DIR: {hf_dir!r} is not a directory")
    if not Path(plan_path).is_file():
        raise PlanInputError(f"--plan: no such plan file: {plan_path}")
    from executor.hf.importer import import_hf  # deferred: torch (executor.hf.convert imports it at module level)

    done = import_hf(hf_dir, plan_path, out_dir, tokens_seen)
    click.echo(f"wrote {done.checkpoint_dir} ({done.num_tensors} tensors, vocabulary padded to "
               f"{done.padded_vocab_rows} rows); continue with: llmplan train {plan_path} --data DATA --out {out_dir}")


COMMANDS: list[click.Command] = [export_model, import_model]
