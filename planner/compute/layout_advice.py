"""What to change when no layout fits: by how much memory is short, and what would fit instead
(more GPUs, a larger GPU, a shorter sequence). Each suggestion is checked by re-running the search
on the changed input with the most memory-frugal options (full recompute, micro-batch 1,
distributed optimizer)."""

from __future__ import annotations

from planner.compute.layout import LayoutSearchResult, SearchSpace, search_layouts, usable_bytes
from planner.compute.parallel import REASONS

GIB = 1024**3
FRUGAL = SearchSpace(micro_batch_sizes=(1,), recompute_modes=("full",), distributed_optimizer=(True,),
                     max_virtual_stages=1)


def _fits(result: LayoutSearchResult, *, num_gpus: int, seq_length: int, global_batch_size: int) -> bool:
    ctx = result.context
    space = SearchSpace(**{**FRUGAL.__dict__, "headroom_fraction": ctx["space"].headroom_fraction})
    trial = search_layouts(result.model, result.gpu, num_gpus, global_batch_size=global_batch_size,
                           seq_length=seq_length, gpus_per_node=ctx["gpus_per_node"],
                           precision=ctx["precision"], top_k=0, cluster=ctx["cluster"], space=space)
    return trial.best is not None


def _more_gpus(result: LayoutSearchResult) -> str | None:
    for factor in (2, 4, 8, 16, 32, 64):
        n = result.num_gpus * factor
        batch = max(result.global_batch_size, n)
        if _fits(result, num_gpus=n, seq_length=result.seq_length, global_batch_size=batch):
            extra = "" if batch == result.global_batch_size else f" (global batch {batch} sequences)"
            return f"{n} GPUs ({factor}x){extra}"
    return None


def _shorter_sequence(result: LayoutSearchResult) -> str | None:
    s, batch = result.seq_length, result.global_batch_size
    while s > 256:
        s //= 2
        batch *= 2
        if _fits(result, num_gpus=result.num_gpus, seq_length=s, global_batch_size=batch):
            return f"seq_length {s} (global batch {batch} sequences, same tokens per step)"
    return None


def no_fit_message(result: LayoutSearchResult) -> str:
    """One paragraph: why nothing fits, the shortfall in GiB, and checked alternatives."""
    gpu, n = result.gpu, result.num_gpus
    head = (f"no layout of a {result.model.num_params / 1e9:.3g}B-parameter model fits on {n} x "
            f"{gpu.name} at seq_length {result.seq_length} and global batch {result.global_batch_size}")
    if result.best is not None:
        return ""
    if result.min_memory_bytes == 0:
        top = sorted(result.rejected.items(), key=lambda kv: -kv[1])[:3]
        why = "; ".join(f"{REASONS[k]} ({v} layouts)" for k, v in top)
        return f"{head}: no layout passes the divisibility rules: {why}"
    usable = usable_bytes(gpu, result.context["space"])
    short = result.min_memory_bytes - usable
    need = result.min_memory_bytes / (1 - result.context["space"].headroom_fraction)
    lines = [
        f"{head}: the leanest valid layout needs {result.min_memory_bytes / GIB:.1f} GiB per GPU, "
        f"{short / GIB:.1f} GiB more than the {usable / GIB:.1f} GiB usable "
        f"({gpu.memory_bytes / GIB:.0f} GiB less {result.context['space'].headroom_fraction:.0%} headroom).",
        f"  - a larger GPU: at least {need / GIB:.0f} GiB of memory",
    ]
    more = _more_gpus(result)
    lines.append(f"  - more GPUs: {more}" if more else "  - more GPUs: none up to 64x fits")
    shorter = _shorter_sequence(result)
    if shorter:
        lines.append(f"  - a shorter sequence: {shorter}")
    return "\n".join(lines)
