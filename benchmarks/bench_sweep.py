"""Benchmark: a sweep of 1,000 scenarios in-process (target: under 2 s).

5 GPU types x 20 model sizes x 10 GPU counts, each sized and estimated by the planner's fast path
(planner.reports.sweep.evaluate_estimate), with the Pareto front of cost, days and loss marked.
Run: .venv/bin/python benchmarks/bench_sweep.py
"""

from __future__ import annotations

import os
import statistics
import time

from planner.schema import Goals
from planner.reports.sweep import parse_varies, run_sweep
from presets import load_catalog

VARIES = [
    "gpu=A100-80GB,H100-SXM,H200,MI300X,B200",
    "target_params=1e9:1.3e11:x1.29",
    "num_gpus=8:4096:x2",
]


def main(repeats: int = 3) -> None:
    varies = parse_varies(VARIES)
    base = Goals(objective="rule-of-thumb-20x")
    catalog = load_catalog()  # the preset files, read once
    run_sweep(base, parse_varies(["gpu=H100-SXM", "target_params=1e9"]), catalog)  # warm imports (pandas)
    times, cpu = [], []
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        frame = run_sweep(base, varies, catalog)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    assert len(frame) == 1000, len(frame)
    errors = int(frame["error"].notna().sum())
    print(f"scenarios: {len(frame)} (errors: {errors}, on the Pareto front: {int(frame['pareto'].sum())})")
    print(f"sweep time: median {statistics.median(times):.3f} s, best {min(times):.3f} s over {repeats} runs "
          f"(target < 2 s)")
    print(f"CPU time of this process: median {statistics.median(cpu):.3f} s (wall minus waiting for a "
          f"shared core; load average {os.getloadavg()[0]:.1f})")
    print(f"per scenario: {statistics.median(times) / len(frame) * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
