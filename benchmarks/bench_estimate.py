"""Speed of the planner's front door (targets from issue 2; a script that prints, not a timed test).

1. `llmplan estimate ... --json` wall time including interpreter start (target < 0.5 s), and the
   heavy modules it loaded (target: no torch, pandas or textual);
2. in-process plan derivation time for the default goals (target < 20 ms), split into the
   planner core (sizing, shape, estimate) and the whole derive_plan (with layout search,
   recipe, reliability and ranges).

Run: .venv/bin/python benchmarks/bench_estimate.py [--repeat N]
Timings depend on machine load; the script prints the 1-minute load average beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ARGS = ["estimate", "--model", "Llama-2-7B", "--tokens", "2T", "--seq-len", "4096", "--gpu", "A100", "--json"]
PROBE = (
    "import sys; from tui.cli import main; code = main({args!r}); "
    "heavy = [m for m in ('torch', 'pandas', 'textual', 'megatron', 'lm_eval', 'datasets') if m in sys.modules]; "
    "print('HEAVY=' + ','.join(heavy), file=sys.stderr); sys.exit(code)"
)


def cli_wall_times(repeat: int) -> tuple[list[float], list[float], str]:
    llmplan = Path(sys.executable).parent / "llmplan"
    cmd = [str(llmplan), *ARGS] if llmplan.exists() else [sys.executable, "-m", "tui.cli", *ARGS]
    walls, cpus = [], []
    for _ in range(repeat):
        before = os.times()
        start = time.perf_counter()
        subprocess.run(cmd, cwd=ROOT, check=True, capture_output=True)
        walls.append(time.perf_counter() - start)
        after = os.times()
        cpus.append((after.children_user - before.children_user) + (after.children_system - before.children_system))
    probe = subprocess.run([sys.executable, "-c", PROBE.format(args=ARGS)], cwd=ROOT, capture_output=True, text=True)
    heavy = next((line[6:] for line in probe.stderr.splitlines() if line.startswith("HEAVY=")), "?")
    return walls, cpus, heavy


def derivation_times(repeat: int) -> tuple[list[float], list[float], list[float]]:
    sys.path.insert(0, str(ROOT))
    import presets
    from planner.chain import clear_layout_cache
    from planner.derive import derive_plan, size_run
    from planner.estimate import estimate_run
    from planner.resolve import resolve

    goals, catalog = presets.load_goals_preset("default"), presets.load_catalog()  # the preset files, read once
    derive_plan(resolve(goals, catalog))  # warm caches (validators)
    core, whole, whole_cpu = [], [], []
    for _ in range(repeat):
        clear_layout_cache()  # a new goal is a new model: no layout search remembered
        start = time.perf_counter()
        resolved = resolve(goals, catalog)
        sized = size_run(goals, resolved)
        estimate_run(resolved, sized.model, sized.num_tokens)
        core.append(time.perf_counter() - start)
        clear_layout_cache()
        start, start_cpu = time.perf_counter(), time.process_time()
        derive_plan(resolve(goals, catalog))
        whole.append(time.perf_counter() - start)
        whole_cpu.append(time.process_time() - start_cpu)
    return core, whole, whole_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    load = os.getloadavg()[0]
    walls, cpus, heavy = cli_wall_times(args.repeat)
    core, whole, whole_cpu = derivation_times(args.repeat)
    result = {
        "load_average_1min": round(load, 2),
        "cpu_count": os.cpu_count(),
        "estimate_cli_wall_s_median": round(statistics.median(walls), 3),
        "estimate_cli_wall_s_min": round(min(walls), 3),
        "estimate_cli_cpu_s_median": round(statistics.median(cpus), 3),
        "estimate_cli_heavy_modules_loaded": heavy or "none",
        "derive_core_ms_median": round(1000 * statistics.median(core), 2),
        "derive_plan_ms_median": round(1000 * statistics.median(whole), 1),
        "derive_plan_cpu_ms_median": round(1000 * statistics.median(whole_cpu), 1),
        "targets": {"estimate_cli_wall_s": 0.5, "derive_plan_ms": 20},
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
