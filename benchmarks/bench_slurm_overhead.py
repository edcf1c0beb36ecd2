"""Benchmark: the Slurm backend's overhead on the local one-node cluster, per stage.

Submits the three stages of the tiny plan through `SlurmBackend.submit` (real sbatch scripts, real
dependencies) with the stage commands played by tests/executor/fake_stage.py (a few tenths of a
second of work each), so what is measured is Slurm and the launch path, not the work:

- submit_s: wall time of `SlurmBackend.submit` (renders and `sbatch --parsable`s every job);
- per stage, wait_s: from the moment it became eligible (submission for the first job, the end of
  the job it depends on for the others) to RUNNING, polled every 0.1 s with `squeue`;
- per stage, run_s: RUNNING to finished (for train this includes srun + torchrun start-up).

Usage: scripts/local-slurm.sh start; .venv/bin/python benchmarks/bench_slurm_overhead.py [--repeats N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "executor"))
from exec_helpers import new_fake_run  # noqa: E402

from executor.backends.slurm import SlurmBackend  # noqa: E402
from executor.rundir import read_state  # noqa: E402

ORDER = ("prepare-shards", "prepare", "train", "evaluate")


def job_ids(run_dir: str) -> dict[str, str]:
    state = read_state(run_dir)
    ids = {name: s.attempts[-1].job_id for name, s in state.stages.items()}
    ids["prepare-shards"] = state.stages["prepare"].attempts[-1].extra_job_ids[0]
    return ids


def poll(ids: dict[str, str], timeout_s: float = 300.0) -> dict[str, tuple[float, float]]:
    """(first seen RUNNING, first seen finished) per job, on the monotonic clock."""
    seen: dict[str, list[float | None]] = {k: [None, None] for k in ids}
    by_id = {v: k for k, v in ids.items()}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(v[1] is None for v in seen.values()):
        out = subprocess.run(["squeue", "-h", "-t", "all", "-j", ",".join(ids.values()), "-o", "%i %T"],
                             capture_output=True, text=True).stdout
        now = time.monotonic()
        states: dict[str, set[str]] = {}
        for line in out.splitlines():
            job, state = line.split()
            states.setdefault(by_id.get(job.split("_")[0], ""), set()).add(state)
        for name, found in states.items():
            if name not in seen:
                continue
            if found & {"RUNNING", "COMPLETING"} and seen[name][0] is None:
                seen[name][0] = now
            if found <= {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT"} and seen[name][1] is None:
                seen[name][0] = seen[name][0] or now
                seen[name][1] = now
        time.sleep(0.1)
    return {k: (v[0], v[1]) for k, v in seen.items()}


def one_run(tmp: Path) -> dict[str, float]:
    plan, graph = new_fake_run(tmp, "slurm", env={"FAKE_STEPS": "3", "FAKE_STEP_S": "0.1"})
    t0 = time.monotonic()
    SlurmBackend().submit(graph, plan, graph.stages())
    submitted = time.monotonic()
    times = poll(job_ids(graph.run_dir))
    out = {"submit_s": submitted - t0}
    eligible = submitted
    for name in ORDER:
        start, end = times[name]
        out[f"{name}.wait_s"], out[f"{name}.run_s"] = start - eligible, end - start
        eligible = end
    out["total_s"] = times["evaluate"][1] - t0
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory(prefix="llmplan-bench-") as tmp:
            rows.append(one_run(Path(tmp)))
        print(f"run {i + 1}: " + ", ".join(f"{k}={v:.2f}" for k, v in rows[-1].items()), flush=True)
    print(f"\nSlurm backend overhead, median of {len(rows)} runs (seconds):")
    for key in rows[0]:
        values = [r[key] for r in rows]
        print(f"  {key:<22} {statistics.median(values):7.2f}   (min {min(values):.2f}, max {max(values):.2f})")


if __name__ == "__main__":
    main()
