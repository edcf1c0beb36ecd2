"""`llmplan layout`: the fastest 3D-parallel layouts that fit, with memory, step time and why others lost."""

from __future__ import annotations

import json

import click

import presets
from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.layout_advice import no_fit_message
from planner.compute.parallel import pinned_violations
from planner.compute.throughput import ThroughputModel
from planner.cost.uncertainty import step_residuals_of, step_time_range
from planner.errors import PlanInputError
from planner.model.architecture import derive_shape
from planner.training.recipe import batch_sequences
from tui.cli_numbers import parse_count

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
    if (params is None) == (model_name is None):
        raise PlanInputError("layout needs exactly one of --params and --model")
    if model_name is not None:
        model = presets.find_model(model_name)
        return model if seq_len is None else model.model_copy(update={"seq_length": seq_len})
    num_params = parse_count(params, "--params")
    try:
        return derive_shape(num_params, vocab_size=vocab_size, seq_length=seq_len or 4096)
    except ValueError as exc:
        raise PlanInputError(f"--params: {exc}") from None


def _global_batch_size(tokens_text, sequences: int | None, seq_length: int) -> tuple[int, str]:
    """(sequences per step, how they were chosen): --global-batch-size as given, else the batch in
    tokens as people write it (4M, 4e6, 4194304) turned into a count data parallelism can divide
    (planner.training.recipe.batch_sequences)."""
    if sequences is not None:
        return sequences, f"{sequences:,} sequences = {_tokens_text(sequences * seq_length)} tokens (--global-batch-size)"
    tokens = parse_count(tokens_text, "--global-batch-tokens")
    if tokens <= 0:
        raise PlanInputError(f"--global-batch-tokens: must be positive (got {tokens_text})")
    try:
        count = batch_sequences(tokens, seq_length)
    except ValueError as exc:
        raise PlanInputError(f"--global-batch-tokens: {exc}; give at least {seq_length}") from None
    return count, (f"{count:,} sequences = {_tokens_text(count * seq_length)} tokens (--global-batch-tokens "
                   f"{tokens_text}: the count near {tokens / seq_length:,.4g} with the largest power-of-two factor)")


def _tokens_text(tokens: float) -> str:
    for unit, scale in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if tokens >= scale:
            return f"{tokens / scale:.3g}{unit}"
    return f"{tokens:.0f}"


def _text(result, batch_note: str) -> str:
    head = (f"{result.model.num_params / 1e9:.3g}B parameters on {result.num_gpus} x {result.gpu.name}, "
            f"seq {result.seq_length}; global batch {batch_note}; {result.evaluated:,} layouts evaluated")
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
@click.option("--global-batch-tokens", default="4M", show_default=True,
              help="Tokens per optimizer step as papers write them (4M, 4e6, 4194304): made a whole number of "
                   "sequences that data parallelism can divide.")
@click.option("--global-batch-size", type=click.IntRange(min=1), help="Sequences per step (overrides the tokens).")
@click.option("--vocab-size", type=click.IntRange(min=1), default=32000, show_default=True,
              help="Vocabulary of a --params model.")
@click.option("--precision", type=click.Choice(["bf16", "fp16", "fp8", "fp32"]), default="bf16", show_default=True)
@click.option("--tp", type=click.IntRange(min=1), help="Pin the tensor-parallel size (else searched).")
@click.option("--pp", type=click.IntRange(min=1), help="Pin the pipeline-parallel size.")
@click.option("--vpp", type=click.IntRange(min=1), help="Pin the virtual pipeline stages per rank.")
@click.option("--cp", type=click.IntRange(min=1), help="Pin the context-parallel size.")
@click.option("--mbs", type=click.IntRange(min=1), help="Pin the micro-batch size.")
@click.option("--recompute", type=click.Choice(["none", "selective", "full"]), help="Pin activation recomputation.")
@click.option("--top", "top_k", type=click.IntRange(min=0, max=100), default=5, show_default=True,
              help="Alternatives to show after the best.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def layout(params, model_name, gpu, num_gpus, gpus_per_node, seq_len, global_batch_tokens, global_batch_size,
           vocab_size, precision, tp, pp, vpp, cp, mbs, recompute, top_k, as_json) -> None:
    """The fastest TP x PP x CP x DP layouts that fit in GPU memory, and why the others lost.

    With --tp/--pp/--vpp/--cp/--mbs/--recompute it evaluates the layout a user already runs: the
    pinned sizes are kept, the others searched; a pinned size that breaks a rule exits 2 naming it."""
    gpu_spec = presets.find_gpu(gpu, "--gpu")
    model = _resolve_model(params, model_name, seq_len, vocab_size)
    batch, batch_note = _global_batch_size(global_batch_tokens, global_batch_size, model.seq_length)
    gpn = gpus_per_node or gpu_spec.gpus_per_node
    problems = [v.message for v in pinned_violations(model, num_gpus, gpn, batch, tp=tp, pp=pp, cp=cp, vpp=vpp, mbs=mbs)]
    if problems:
        raise PlanInputError("the pinned layout breaks Megatron's rules", problems)
    space = SearchSpace(
        tensor_parallel_sizes=(tp,) if tp else None, pipeline_parallel_sizes=(pp,) if pp else None,
        virtual_stage_counts=(vpp,) if vpp else None, context_parallel_sizes=(cp,) if cp else None,
        micro_batch_sizes=(mbs,) if mbs else SearchSpace.micro_batch_sizes,
        recompute_modes=(recompute,) if recompute else SearchSpace.recompute_modes,
        max_context_parallel=max(SearchSpace.max_context_parallel, cp or 1),
        max_virtual_stages=max(SearchSpace.max_virtual_stages, vpp or 1))
    step_model = ThroughputModel.from_preset(presets.load_mfu_model()).step_model
    result = search_layouts(model, gpu_spec, num_gpus, global_batch_size=batch, seq_length=model.seq_length,
                            gpus_per_node=gpn, precision=precision, top_k=top_k, space=space, step_model=step_model)
    if result.best is None:
        pinned = ", ".join(f"--{k} {v}" for k, v in (("tp", tp), ("pp", pp), ("vpp", vpp), ("cp", cp), ("mbs", mbs),
                                                      ("recompute", recompute)) if v is not None)
        raise PlanInputError((f"with {pinned}: " if pinned else "") + no_fit_message(result))
    span = step_time_range(result.best.step_time_s, step_residuals_of(presets.load_catalog()))
    if as_json:
        best = _entry(result.best)
        best["step_time_s_p10_p90"] = [span.p10, span.p90]
        tokens = result.best.layout.global_batch_size * model.seq_length
        best["tokens_per_s_p10_p90"] = [tokens / span.p90, tokens / span.p10]
        click.echo(json.dumps({
            "model": model.model_dump(), "gpu": gpu_spec.name, "num_gpus": num_gpus,
            "gpus_per_node": gpn, "seq_length": model.seq_length,
            "global_batch_size": batch, "global_batch_tokens": batch * model.seq_length, "global_batch": batch_note,
            "precision": precision, "best": best,
            "alternatives": [_entry(a.plan, a.why_lost) for a in result.alternatives],
            "rejected": result.rejected, "evaluated": result.evaluated,
        }, indent=2))
        return
    click.echo(_text(result, batch_note))
    click.echo(f"best step time p10-p90: {span.p10:.3g}-{span.p90:.3g} s (the step-time model's out-of-sample "
               "error on published benchmarks, `llmplan calibrate --cv`)")


COMMANDS: list[click.Command] = [layout]
