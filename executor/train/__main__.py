"""Entrypoint run by torchrun on every rank: `python -m executor.train PLAN --data DIR --out DIR`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from executor.train.loop import TrainArgs, run
from planner.errors import PlanInputError


def parse_args(argv: list[str] | None = None):
    p = argparse.ArgumentParser(prog="python -m executor.train")
    p.add_argument("plan", type=Path)
    p.add_argument("--data", type=Path, required=True, help="prepared data directory")
    p.add_argument("--out", type=Path, required=True, help="run directory (checkpoints, metrics.jsonl)")
    p.add_argument("--resume", action=argparse.BooleanOptionalAction, default=True,
                   help="continue from OUT/checkpoints/latest when it exists (default)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this step (<= train_steps)")
    a = p.parse_args(argv)
    return TrainArgs(a.plan, a.data, a.out, a.resume, a.max_steps)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse_args(argv))
    except PlanInputError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
