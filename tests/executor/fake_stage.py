"""A stand-in for the `llmplan` stages in backend tests: real processes, tiny work, real signals.

`python -m fake_stage prepare PLAN --out DATA ...` writes DATA/prepared.txt (the merge job) or, as a
task of the prepare array (LLMPLAN_SHARD_INDEX set), DATA/shard-I.done holding its start and end times
in ns after FAKE_SHARD_S seconds (default 0.3), logged as `prepare-shards`; `train PLAN --data DATA
--out RUN` (under torchrun) counts steps with a checkpoint every 5, appends metrics.jsonl, resumes
from RUN/checkpoints/latest and on SIGTERM checkpoints and exits 0, like the real trainer;
`evaluate RUN` writes RUN/eval/results.json. Every invocation is appended to RUN/invocations.txt.
Knobs: FAKE_STEPS (default 30), FAKE_STEP_S (default 0.1), FAKE_FAIL_STAGE (exit 3 in that stage).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path


def _log_invocation(run: Path, stage: str) -> None:
    if os.environ.get("RANK", "0") == "0":
        with open(run / "invocations.txt", "a") as fh:
            fh.write(f"{stage}\n")


def train(run: Path) -> int:
    stop = {"now": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(now=True))
    signal.signal(signal.SIGUSR1, lambda *_: stop.update(now=True))
    rank = int(os.environ.get("RANK", "0"))
    latest = run / "checkpoints" / "latest"
    step = int(latest.read_text()) if latest.exists() else 0
    print(f"rank {rank} of {os.environ.get('WORLD_SIZE')}: resuming at step {step}", flush=True)
    total = int(os.environ.get("FAKE_STEPS", "30"))
    while step < total:
        if stop["now"]:
            break
        time.sleep(float(os.environ.get("FAKE_STEP_S", "0.1")))
        step += 1
        if rank == 0:
            with open(run / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps({"step": step, "loss": 10.0 / step, "tokens_per_s": 1000.0}) + "\n")
            if step % 5 == 0:
                latest.write_text(str(step))
    if rank == 0:
        latest.write_text(str(step))
    print(f"rank {rank}: stopped at step {step}", flush=True)
    return 0


def main(argv: list[str]) -> int:
    stage = argv[0]
    run = Path(argv[argv.index("--out") + 1]) if stage != "evaluate" else Path(argv[1])
    run = run.parent if stage == "prepare" else run
    shard = os.environ.get("LLMPLAN_SHARD_INDEX") if stage == "prepare" else None
    _log_invocation(run, "prepare-shards" if shard is not None else stage)
    if os.environ.get("FAKE_FAIL_STAGE") in (stage, "prepare-shards" if shard is not None else ""):
        print(f"{stage}: failing on purpose", flush=True)
        return 3
    if shard is not None:
        started = time.time_ns()
        time.sleep(float(os.environ.get("FAKE_SHARD_S", "0.3")))
        (run / "data" / f"shard-{shard}.done").write_text(f"{started} {time.time_ns()}\n")
    elif stage == "prepare":
        (run / "data" / "prepared.txt").write_text(f"{time.time_ns()}\n")
    elif stage == "train":
        return train(run)
    elif stage == "evaluate":
        (run / "eval" / "results.json").write_text(json.dumps({"arc_easy": {"acc": 0.25}}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
