"""The full CPU ladder of issue 17 (Must show 2): 4 sizes x 2 ratios of micro models plus one larger
held-out rung, trained through `llmplan ladder run --backend local` (torchrun, 2 CPU ranks), fitted with
`llmplan ladder fit`, and the fit's prediction for the held-out rung compared with its measured loss.

Corpus: the reStructuredText sources of the Python 3.11 documentation from Debian's `python3.11-doc`
package (/usr/share/doc/python3.11/html/_sources, 497 files, 12 MB; `apt-get install python3.11-doc`),
read as a text directory with the quality filters off (they are tuned for web text and drop most of a
code-heavy manual). At vocab 1024 that is several million tokens, so no rung repeats its data more
than about 3 times; the bundled pydoc text (~14k tokens after filters) is far too small.

Default ladder (target 20M parameters, `ladder plan --rungs 4 --ratios 0.5,2 --span-decades 0.6
--budget-fraction 0.05 --holdout`): 1.5M, 2.3M, 3.7M and 6.0M parameters at 0.5 and 2 tokens per
parameter, and a held-out 9.5M rung at 1; about 43M tokens in all. Only 0.6 decades of size: below
~1M parameters the 1024-token vocabulary's embeddings are most of the model.

    apt-get install -y python3.11-doc
    OMP_NUM_THREADS=1 python benchmarks/bench_ladder.py --work /tmp/ladder-bench [--ratios 0.5,2] [--sizes 4]

It takes hours on 2 shared cores (tens of millions of tokens); re-running resumes (finished rungs skip).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CORPUS = Path("/usr/share/doc/python3.11/html/_sources")


def goals(target_params: float) -> dict:
    off = {"gopher_quality": False, "gopher_repetition": False, "c4": False, "fineweb": False}
    return {
        "schema_version": 1, "name": "ladder-bench-target", "objective": "fixed-size",
        "target_params": target_params, "target_tokens": 20 * target_params, "seq_len": 256, "vocab_size": 1024,
        "gpu": "CPU", "num_gpus": 2, "gpus_per_node": 2, "price_per_gpu_hour_usd": 0.05,
        "data": {"sources": [{"path": str(CORPUS), "format": "txtdir"}], "filters": off,
                 "tokenizer": {"vocab_size": 1024, "sample_docs": 10000}},
    }


def cli(*args: str, cwd: Path) -> str:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, env=env, text=True,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    print(done.stdout, flush=True)
    if done.returncode != 0:
        sys.exit(f"llmplan {' '.join(args)} exited {done.returncode}")
    return done.stdout


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--work", type=Path, default=Path("/tmp/ladder-bench"))
    p.add_argument("--target-params", type=float, default=20e6)
    p.add_argument("--sizes", type=int, default=4)
    p.add_argument("--ratios", default="0.5,2")
    p.add_argument("--span-decades", type=float, default=0.6)
    p.add_argument("--budget-fraction", type=float, default=0.05)
    p.add_argument("--bootstrap", type=int, default=200)
    a = p.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS} is missing: apt-get install -y python3.11-doc")
    a.work.mkdir(parents=True, exist_ok=True)
    goals_path, target, ladder = a.work / "goals.yaml", a.work / "target.yaml", a.work / "ladder.yaml"
    goals_path.write_text(yaml.safe_dump(goals(a.target_params), sort_keys=False))
    if not ladder.exists():
        cli("plan", "--goals", str(goals_path), "-o", str(target), cwd=a.work)
        cli("ladder", "plan", str(target), "--rungs", str(a.sizes), "--ratios", a.ratios, "--span-decades",
            str(a.span_decades), "--budget-fraction", str(a.budget_fraction), "--holdout", "-o", str(ladder), cwd=a.work)
        cli("ladder", "approve", str(ladder), "--by", "bench_ladder", cwd=a.work)
    start = time.perf_counter()
    cli("ladder", "run", str(ladder), "--run-dir", str(a.work / "run"), cwd=a.work)
    print(f"ladder run: {time.perf_counter() - start:,.0f} s in this invocation")
    stats = json.loads((a.work / "run" / "data" / "stats.json").read_text())
    print(f"corpus: {stats.get('tokens_out', stats.get('num_tokens', '?'))} tokens after preparation ({CORPUS})")
    out = cli("ladder", "fit", str(a.work / "run"), "--bootstrap", str(a.bootstrap), cwd=a.work)
    for line in out.splitlines():
        if line.startswith("holdout "):
            measured, predicted = map(float, re.search(r"measured ([0-9.]+), predicted ([0-9.]+)", line).groups())
            err = predicted / measured - 1
            print(f"RESULT held-out rung: measured {measured:.4f}, predicted {predicted:.4f}, error {err:+.2%} "
                  f"({'within' if abs(err) <= 0.05 else 'NOT within'} 5%)")


if __name__ == "__main__":
    main()
