"""Step time of the training entrypoint against a bare megatron-core loop, same model and data.

    python benchmarks/bench_train.py [--plan tests/fixtures/tiny_plan.yaml] [--data DIR] [--steps 30]

Starts `torchrun` with the plan's number of ranks (TP=2 for the tiny plan, on CPU with gloo). In
each rank, two copies of the same model are built: one through the entrypoint's own code
(`init_parallel`, `build_engine`, `build_scheduler`, `train_one_step`, the metrics line and the
per-step signal check, exactly what `executor.train.loop._loop` does per step) and one as a
bare megatron-core loop (`GPTModel` with the same `TransformerConfig`, the same micro-batches
from the same `GPTDataset`, forward/backward and `torch.optim.AdamW.step()`, nothing else).
Steps alternate between the two (ABBA order) so machine load hits both alike; the figures are the
ratio of the median step times (target <= 1.05), the median of the per-step paired ratios and the
ratio of the fastest steps (the least disturbed by other processes on a shared machine).
Without --data, the tiny plan's data is prepared into a cache.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _bare_model(plan, vocab_size: int):
    import torch
    from megatron.core.models.gpt.gpt_model import GPTModel

    from megatron.core import parallel_state

    from executor.train.model import layer_spec, model_vocab_size, transformer_config

    config = transformer_config(plan, on_gpu=torch.cuda.is_available())
    tp = parallel_state.get_tensor_model_parallel_world_size()
    model = GPTModel(config=config, transformer_layer_spec=layer_spec(plan),
                     vocab_size=model_vocab_size(plan, vocab_size, tp),
                     max_sequence_length=plan.model.seq_length, position_embedding_type="rope",
                     share_embeddings_and_output_weights=plan.model.tied_embeddings)
    r = plan.recipe
    return model, torch.optim.AdamW(model.parameters(), lr=r.lr, betas=(r.adam_beta1, r.adam_beta2),
                                    eps=r.adam_eps, weight_decay=r.weight_decay)


def _bare_step(model, opt, batches, mask) -> None:
    opt.zero_grad(set_to_none=True)
    for b in batches:
        out = model(b["tokens"], b["position_ids"], mask, labels=b["labels"])
        mask_f = b["loss_mask"].reshape(-1).float()
        ((out.float().reshape(-1) * mask_f).sum() / mask_f.sum() / len(batches)).backward()
    opt.step()


def worker(plan_path: Path, data_dir: Path, steps: int, out_dir: Path) -> None:
    import torch.distributed as dist

    from executor.train import data
    from executor.train.engine import causal_mask
    from executor.train.loop import (StopSignal, build_engine, build_scheduler, init_parallel,
                                     micro_batches, train_one_step)
    from executor.train.metrics import MetricsLog
    from planner.io import read_plan

    plan = read_plan(plan_path)
    stop = StopSignal()
    on_gpu = init_parallel(plan)
    tok = data.read_tokenizer_meta(data_dir, plan.data.tokenizer.eod_token)
    engine = build_engine(plan, tok.vocab_size, on_gpu)
    scheduler = build_scheduler(plan, engine.optimizer)
    train, _ = data.build_datasets(plan, data_dir, tok, out_dir / "cache", build_on_rank=lambda: True)
    log = MetricsLog(out_dir / "metrics.jsonl", enabled=dist.get_rank() == 0, estimate=plan.estimate,
                     num_devices=dist.get_world_size(), tokens_per_step=1, resume_step=0)
    model, opt = _bare_model(plan, tok.vocab_size)
    mask = causal_mask(plan.model.seq_length, "cpu") if not on_gpu else None
    entry_s, bare_s = [], []

    def entry_step(step: int) -> None:
        log.start_step()
        loss, lr, norm, ok, _ = train_one_step(engine, scheduler, train, step, plan, stop)
        log.stop_step()
        log.log(step + 1, loss=loss, lr=lr, grad_norm=norm, skipped=not ok)

    def bare_step(step: int) -> None:
        _bare_step(model, opt, micro_batches(train, step, plan), mask)

    for step in range(steps):
        # ABBA order: each kind runs first on alternate steps, so order effects cancel
        pair = ((entry_step, entry_s), (bare_step, bare_s))
        for fn, times in (pair if step % 2 == 0 else pair[::-1]):
            dist.barrier()
            t0 = time.perf_counter()
            fn(step)
            dist.barrier()
            times.append(time.perf_counter() - t0)
    if dist.get_rank() == 0:
        warm = max(steps // 5, 2)
        e, b = entry_s[warm:], bare_s[warm:]
        paired = statistics.median(x / y for x, y in zip(e, b))
        print(f"entrypoint step {statistics.median(e) * 1000:.1f} ms (min {min(e) * 1000:.1f}), bare megatron-core "
              f"loop {statistics.median(b) * 1000:.1f} ms (min {min(b) * 1000:.1f}); ratio of medians "
              f"{statistics.median(e) / statistics.median(b):.3f}, median paired ratio {paired:.3f}, ratio of minima "
              f"{min(e) / min(b):.3f} (steps {warm + 1}-{steps}, {dist.get_world_size()} ranks)", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--plan", type=Path, default=ROOT / "tests" / "fixtures" / "tiny_plan.yaml")
    p.add_argument("--data", type=Path, default=None)
    p.add_argument("--steps", type=int, default=30)
    p.add_argument("--out", type=Path, default=Path("/tmp/llmplan-bench-train"))
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker:
        worker(a.plan, a.data, a.steps, a.out)
        return 0
    from planner.io import read_plan

    data_dir = a.data or a.out / "data"
    if a.data is None and not (data_dir / "manifest.json").is_file():
        subprocess.run([sys.executable, "-m", "tui.cli", "prepare", str(a.plan), "--out", str(data_dir)],
                       cwd=ROOT, check=True)
    nproc = read_plan(a.plan).layout.layout.num_gpus
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"), PYTHONWARNINGS="ignore")
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            str(Path(__file__).resolve()), "--worker", "--plan", str(a.plan), "--data", str(data_dir),
            "--steps", str(a.steps), "--out", str(a.out)]
    return subprocess.run(argv, cwd=ROOT, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
