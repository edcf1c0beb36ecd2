"""`llmplan layout`: the fastest 3D-parallel layouts that fit, with memory, step time and why others lost."""

from __future__ import annotations

import json

import click

from planner.errors import PlanInputError

DEFAULT_BATCH_TOKENS = 4 * 1024 * 1024
"""4M tokens per step when --global-batch-tokens is not given (Llama 2's batch, Touvron et al. 2023)."""
GIB = 1024**3


def _entry(plan, why_lost: str | None = None) -> dict:
    """One layout in the JSON contract of ARCHITECTURE.md (Megatron's names)."""
    lay, mem = plan.layout, plan.memory
    out = lay.model_dump()
    out.update({
        "num_gpus": lay.num_gpus,
        "num_microbatches": plan.num_microbatches,
        "memory_per_gpu_bytes": mem.total_bytes,
        "memory_components": {
            "weights_bytes": mem.weights_bytes, "gradients_bytes": mem.gradients_bytes,
            "optimizer_bytes": mem.optimizer_bytes, "activations_bytes": mem.activations_bytes,
            "overhead_bytes": mem.overhead_bytes,
        },
        "memory_capacity_bytes": mem.capacity_bytes,
        "num_parameters_per_gpu": mem.num_parameters_per_gpu,
        "step_time_s": plan.step_time_s, "tokens_per_s": plan.tokens_per_s, "mfu": plan.mfu,
        "tflops_per_gpu": plan.tflops_per_gpu, "bubble_fraction": plan.bubble_fraction,
        "time_breakdown_s": plan.time_breakdown_s,
    })
    if why_lost is not None:
        out["why_lost"] = why_lost
    return out


def _resolve_model(params, model_name, seq_len, vocab_size):
    from planner.architecture import derive_shape
    from presets import find_model

    if (params is None) == (model_name is None):
        raise PlanInputError("layout needs exactly one of --params and --model")
    if model_name is not None:
        model = find_model(model_name)
        return model if seq_len is None else model.model_copy(update={"seq_length": seq_len})
    from tui.commands.planning import parse_count

    num_params = parse_count(params, "--params")
    try:
        return derive_shape(num_params, vocab_size=vocab_size, seq_length=seq_len or 4096)
    except ValueError as exc:
        raise PlanInputError(f"--params: {exc}") from None


def _global_batch_size(tokens: float, seq_length: int) -> int:
    sequences = round(tokens / seq_length)
    if sequences < 1:
        raise PlanInputError(f"--global-batch-tokens: {tokens:,.0f} is shorter than one sequence of "
                             f"{seq_length} tokens; give at least {seq_length}")
    return sequences


def _text(result, batch: int) -> str:
    head = (f"{result.model.num_params / 1e9:.3g}B parameters on {result.num_gpus} x {result.gpu.name}, "
            f"seq {result.seq_length}, global batch {batch} sequences; {result.evaluated:,} layouts evaluated")
    rows = [(result.best, "best")] + [(a.plan, a.why_lost) for a in result.alternatives]
    lines = [head, f"{'TP':>3} {'PP':>3} {'VPP':>3} {'CP':>3} {'DP':>6} {'mb':>3} {'recompute':>9} "
             f"{'mem GiB':>8} {'step s':>8} {'tokens/s':>11} {'MFU':>6}  note"]
    for plan, note in rows:
        lay = plan.layout
        lines.append(
            f"{lay.tensor_model_parallel_size:>3} {lay.pipeline_model_parallel_size:>3} "
            f"{lay.virtual_pipeline_model_parallel_size:>3} {lay.context_parallel_size:>3} "
            f"{lay.data_parallel_size:>6} {lay.micro_batch_size:>3} {lay.recompute:>9} "
            f"{plan.memory.total_bytes / GIB:>8.1f} {plan.step_time_s:>8.3g} {plan.tokens_per_s:>11,.0f} "
            f"{plan.mfu:>6.1%}  {note}")
    rejected = ", ".join(f"{k} {v:,}" for k, v in sorted(result.rejected.items(), key=lambda kv: -kv[1]))
    lines.append(f"rejected: {rejected or 'none'}")
    return "\n".join(lines)


@click.command()
@click.option("--params", help="Model parameters (70e9, 70B); a Llama-style shape is derived.")
@click.option("--model", "model_name", help="A reference model (see `llmplan presets models`).")
@click.option("--gpu", required=True, help="GPU name or alias (see `llmplan presets gpus`).")
@click.option("--gpus", "num_gpus", type=click.IntRange(min=1), required=True, help="Number of GPUs.")
@click.option("--gpus-per-node", type=click.IntRange(min=1), help="GPUs per node (default: the GPU preset's).")
@click.option("--seq-len", type=click.IntRange(min=1), help="Sequence length (default: the model's, or 4096).")
@click.option("--global-batch-tokens", type=float, default=DEFAULT_BATCH_TOKENS, show_default=True,
              help="Tokens per optimizer step.")
@click.option("--vocab-size", type=click.IntRange(min=1), default=32000, show_default=True,
              help="Vocabulary of a --params model.")
@click.option("--precision", type=click.Choice(["bf16", "fp16", "fp8", "fp32"]), default="bf16", show_default=True)
@click.option("--top", "top_k", type=click.IntRange(min=0, max=100), default=5, show_default=True,
              help="Alternatives to show after the best.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def layout(params, model_name, gpu, num_gpus, gpus_per_node, seq_len, global_batch_tokens, vocab_size,
           precision, top_k, as_json) -> None:
    """The fastest TP x PP x CP x DP layouts that fit in GPU memory, and why the others lost."""
    from planner.layout import search_layouts
    from presets import find_gpu

    gpu_spec = find_gpu(gpu, "--gpu")
    model = _resolve_model(params, model_name, seq_len, vocab_size)
    if global_batch_tokens <= 0:
        raise PlanInputError(f"--global-batch-tokens: must be positive (got {global_batch_tokens:g})")
    batch = _global_batch_size(global_batch_tokens, model.seq_length)
    result = search_layouts(model, gpu_spec, num_gpus, global_batch_size=batch, seq_length=model.seq_length,
                            gpus_per_node=gpus_per_node or gpu_spec.gpus_per_node, precision=precision,
                            top_k=top_k)
    if result.best is None:
        raise PlanInputError(result.no_fit_message())
    if as_json:
        click.echo(json.dumps({
            "model": model.model_dump(), "gpu": gpu_spec.name, "num_gpus": num_gpus,
            "gpus_per_node": gpus_per_node or gpu_spec.gpus_per_node, "seq_length": model.seq_length,
            "global_batch_size": batch, "global_batch_tokens": batch * model.seq_length,
            "precision": precision, "best": _entry(result.best),
            "alternatives": [_entry(a.plan, a.why_lost) for a in result.alternatives],
            "rejected": result.rejected, "evaluated": result.evaluated,
        }, indent=2))
        return
    click.echo(_text(result, batch))


COMMANDS: list[click.Command] = [layout]
