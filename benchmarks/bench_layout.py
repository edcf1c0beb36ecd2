"""Benchmark: the layout search for a 405B model on 16,384 H100-80GB (seq 8192, 16M-token batches).

Target (issue #3): median in-process time <= 200 ms. Prints the median and minimum of wall-clock
and CPU time over the repeats, and layouts evaluated per second. On a shared machine the CPU time
is the fairer figure: wall time includes waiting for a core.

    .venv/bin/python benchmarks/bench_layout.py [--repeats 15] [--exhaustive]

--exhaustive times SearchSpace(prune=False), the search without branch and bound (same result).
It then times a pinned layout (issue 12, target <= 50 ms): Llama 3 70B fp8 on 64 H100 at TP4 PP8
VPP5 CP1 mbs 1, the search restricted to that layout as `llmplan layout --tp 4 --pp 8 ...` runs it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.throughput import ThroughputModel
from presets import find_gpu, find_model, load_mfu_model

TARGET_S = 0.200
PINNED_TARGET_S = 0.050


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--exhaustive", action="store_true", help="no branch and bound")
    args = parser.parse_args()
    model, gpu = find_model("Llama-3-405B"), find_gpu("H100-80GB")
    run = dict(global_batch_size=2048, seq_length=8192, gpus_per_node=8,
               space=SearchSpace(prune=not args.exhaustive))
    search_layouts(model, gpu, 16384, **run)  # warm caches and imports
    wall, cpu = [], []
    for _ in range(args.repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = search_layouts(model, gpu, 16384, **run)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    best = result.best.layout
    median_wall, median_cpu = statistics.median(wall), statistics.median(cpu)
    print(f"layout search{' (exhaustive)' if args.exhaustive else ''}, {model.num_params / 1e9:.0f}B on 16,384 x {gpu.name}, {args.repeats} repeats")
    print(f"  layouts evaluated per search: {result.evaluated:,} ({result.num_fitting:,} costed and fit, "
          f"{result.rejected.get('slower_bound', 0):,} skipped by the bound), load average "
          f"{os.getloadavg()[0]:.2f}")
    print(f"  wall time: median {median_wall * 1e3:.0f} ms, min {min(wall) * 1e3:.0f} ms")
    print(f"  CPU time:  median {median_cpu * 1e3:.0f} ms, min {min(cpu) * 1e3:.0f} ms")
    print(f"  layouts evaluated per second (median wall): {result.evaluated / median_wall:,.0f}")
    print(f"  best: TP{best.tensor_model_parallel_size} PP{best.pipeline_model_parallel_size} "
          f"VPP{best.virtual_pipeline_model_parallel_size} CP{best.context_parallel_size} "
          f"DP{best.data_parallel_size} mb{best.micro_batch_size} recompute={best.recompute}, "
          f"MFU {result.best.mfu:.1%}")
    verdict = "meets" if median_wall <= TARGET_S else "MISSES"
    print(f"  target median <= {TARGET_S * 1e3:.0f} ms: {verdict} (wall), "
          f"{'meets' if median_cpu <= TARGET_S else 'MISSES'} (CPU)")
    pinned(args.repeats)


def pinned(repeats: int) -> None:
    """The search restricted to one given layout (what `llmplan layout --tp/--pp/...` evaluates)."""
    model = find_model("Llama-3-70B").model_copy(update={"seq_length": 8192})
    gpu = find_gpu("H100")
    space = SearchSpace(tensor_parallel_sizes=(4,), pipeline_parallel_sizes=(8,), virtual_stage_counts=(5,),
                        context_parallel_sizes=(1,), micro_batch_sizes=(1,))
    step_model = ThroughputModel.from_preset(load_mfu_model()).step_model  # the fitted one `llmplan layout` uses
    run = dict(global_batch_size=128, seq_length=8192, gpus_per_node=8, precision="fp8", top_k=5, space=space,
               step_model=step_model)
    search_layouts(model, gpu, 64, **run)
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        result = search_layouts(model, gpu, 64, **run)
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    median_wall, median_cpu = statistics.median(wall), statistics.median(cpu)
    print(f"pinned layout TP4 PP8 VPP5 CP1 mbs1, Llama 3 70B fp8 on 64 x {gpu.name}: "
          f"{result.best.tokens_per_s / 64:,.0f} tokens/s/GPU predicted (Megatron-Bridge measured 1,602)")
    print(f"  wall time: median {median_wall * 1e3:.1f} ms, min {min(wall) * 1e3:.1f} ms; "
          f"CPU time: median {median_cpu * 1e3:.1f} ms")
    print(f"  target median <= {PINNED_TARGET_S * 1e3:.0f} ms: "
          f"{'meets' if median_wall <= PINNED_TARGET_S else 'MISSES'} (wall), "
          f"{'meets' if median_cpu <= PINNED_TARGET_S else 'MISSES'} (CPU)")


if __name__ == "__main__":
    main()
