"""The training job: plan -> parallel state, model, optimizer, scheduler, data -> steps, checkpoints.

Launched once per rank by `torchrun` (see executor/train/__main__.py and `llmplan train`).
"""

from __future__ import annotations

import os
import signal
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.distributed as dist

from executor.train import checkpoint, cpu_compat, data
from executor.train.cpu_compat import sync_save_strategy
from executor.train.engine import CpuEngine, MegatronEngine
from executor.train.metrics import MetricsLog, print_progress, progress_line
from executor.train.model import build_model
from planner.errors import PlanInputError
from planner.io import read_plan


@dataclass
class TrainArgs:
    plan_path: Path
    data_dir: Path
    out_dir: Path
    resume: bool = True
    max_steps: int | None = None


class StopSignal:
    """SIGTERM / SIGUSR1 set a flag; the ranks agree on it in each step's statistics all-reduce."""

    def __init__(self) -> None:
        self.received = 0
        for sig in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(sig, self._handle)

    def _handle(self, signum, frame) -> None:  # noqa: ARG002 - signal handler signature
        self.received = signum


def init_parallel(plan) -> bool:
    """Process group (nccl on GPU, gloo on CPU), Megatron parallel state and seeds; -> on_gpu."""
    # deferred: megatron-core takes seconds to import
    from megatron.core import parallel_state
    from megatron.core.tensor_parallel.random import model_parallel_cuda_manual_seed

    lay = plan.layout.layout
    on_gpu = torch.cuda.is_available()
    if on_gpu:
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    else:
        cpu_compat.install_cpu_shim()
        cpu_compat.refuse_unsupported_on_cpu(lay)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if on_gpu else "gloo")
    world = dist.get_world_size()
    if world != lay.num_gpus:
        raise PlanInputError(f"layout.layout: the layout needs {lay.num_gpus} processes "
                             f"(TP x PP x CP x DP), torchrun started {world}")
    parallel_state.initialize_model_parallel(
        tensor_model_parallel_size=lay.tensor_model_parallel_size,
        pipeline_model_parallel_size=lay.pipeline_model_parallel_size,
        virtual_pipeline_model_parallel_size=(lay.virtual_pipeline_model_parallel_size
                                              if lay.virtual_pipeline_model_parallel_size > 1 else None),
        context_parallel_size=lay.context_parallel_size,
    )
    torch.manual_seed(plan.recipe.seed)
    model_parallel_cuda_manual_seed(plan.recipe.seed)
    return on_gpu


def build_engine(plan, vocab_size: int, on_gpu: bool):
    vpp = plan.layout.layout.virtual_pipeline_model_parallel_size
    if not on_gpu:
        return CpuEngine(plan, build_model(plan, vocab_size, on_gpu=False))
    stages = [None] if vpp == 1 else list(range(vpp))
    return MegatronEngine(plan, [build_model(plan, vocab_size, on_gpu=True, vp_stage=s) for s in stages])


def build_scheduler(plan, optimizer):
    # deferred: megatron-core takes seconds to import
    from megatron.core.optimizer_param_scheduler import OptimizerParamScheduler

    r = plan.recipe
    wsd = r.lr_decay_style == "wsd"
    return OptimizerParamScheduler(
        optimizer, init_lr=0.0, max_lr=r.lr, min_lr=r.min_lr, lr_warmup_steps=r.warmup_steps,
        lr_decay_steps=r.train_steps, lr_decay_style=r.lr_decay_style,
        start_wd=r.weight_decay, end_wd=r.weight_decay, wd_incr_steps=r.train_steps,
        wd_incr_style="constant",
        # WSD: the plan's final decay phase (planner.training.recipe: 10% of steps, Hu et al. 2024, MiniCPM, Sec 4)
        wsd_decay_steps=max(r.lr_wsd_decay_steps or 1, 1) if wsd else None,
        lr_wsd_decay_style="linear" if wsd else None,
    )


def micro_batches(dataset, step: int, plan, *, train: bool = True) -> list[dict]:
    from megatron.core import parallel_state  # deferred: megatron-core takes seconds to import

    lay = plan.layout.layout
    dp, dp_rank = parallel_state.get_data_parallel_world_size(), parallel_state.get_data_parallel_rank()
    return [data.collate(dataset, data.microbatch_indices(
        step, m, global_batch=lay.global_batch_size, micro_batch=lay.micro_batch_size,
        dp_size=dp, dp_rank=dp_rank)) for m in range(lay.num_microbatches)]


def train_one_step(engine, scheduler, train, step: int, plan, stop: StopSignal) -> tuple:
    """Optimizer step `step` (0-based) on its global batch.

    -> (loss, lr used, grad norm, applied, stop): stop is True on every rank when any rank got a
    stop signal before this step's statistics were reduced.
    """
    loss, grad_norm, ok, stop_any = engine.train_step(micro_batches(train, step, plan), bool(stop.received))
    lr = engine.optimizer.param_groups[0]["lr"]
    scheduler.step(1)
    return loss, lr, grad_norm, ok, stop_any


def validate(engine, valid, plan) -> float | None:
    """Mean loss over the first eval_iters global batches of the validation split (fixed set)."""
    if valid is None:
        return None
    losses = [engine.eval_loss(micro_batches(valid, i, plan)) for i in range(plan.recipe.eval_iters)]
    return sum(losses) / len(losses)


def run(args: TrainArgs) -> int:
    """Train to plan.recipe.train_steps (or --max-steps); returns the process exit code."""
    plan = read_plan(args.plan_path)
    if plan.layout is None:
        raise PlanInputError(f"{args.plan_path}: the plan has no layout", ["layout: derive one with `llmplan plan`"])
    if plan.recipe.batch_size_rampup:
        raise PlanInputError(
            f"{args.plan_path}: recipe.batch_size_rampup is true; llmplan's training loop keeps the global batch "
            "fixed", ["goals.training.batch_rampup: set it to false for `llmplan train`, or run Megatron-LM's "
                      "pretrain_gpt.py with `llmplan export PLAN --format megatron-args` (--rampup-batch-size)"])
    stop = StopSignal()  # before anything slow, so an early signal is not fatal
    on_gpu = init_parallel(plan)
    rank0 = dist.get_rank() == 0
    tokenizer = data.read_tokenizer_meta(args.data_dir, plan.data.tokenizer.eod_token)
    engine = build_engine(plan, tokenizer.vocab_size, on_gpu)
    scheduler = build_scheduler(plan, engine.optimizer)
    ckpt_root = args.out_dir / "checkpoints"
    if rank0:
        ckpt_root.mkdir(parents=True, exist_ok=True)
        checkpoint.write_meta(ckpt_root, args.plan_path, tokenizer)
    dist.barrier()
    train, valid = data.build_datasets(plan, args.data_dir, tokenizer, args.out_dir / "data_cache",
                                       build_on_rank=lambda: True)
    step = 0
    if args.resume and checkpoint.latest_iteration(ckpt_root) is not None:
        step = checkpoint.load(ckpt_root, engine.modules, engine.optimizer, scheduler)["iteration"]
        print_progress(f"resumed from step {step}", rank0)
    strategy = None if on_gpu else sync_save_strategy()
    return _loop(args, plan, engine, scheduler, (train, valid), step, (strategy, ckpt_root, stop))


def _save(ckpt_root, step, engine, scheduler, plan, strategy) -> None:
    consumed = step * plan.layout.layout.global_batch_size
    target = checkpoint.save(ckpt_root, step, engine.modules, engine.optimizer, scheduler,
                             consumed_samples=consumed, strategy=strategy)
    # once per save, by rank 0 after every rank has written (tests count these lines per step)
    print_progress(f"checkpoint {target.name} written by {dist.get_world_size()} ranks", dist.get_rank() == 0)


def _loop(args, plan, engine, scheduler, datasets, step, saving) -> int:
    train, valid = datasets
    strategy, ckpt_root, stop = saving
    r, lay = plan.recipe, plan.layout.layout
    last = min(r.train_steps, args.max_steps or r.train_steps)
    rank0 = dist.get_rank() == 0
    log = MetricsLog(args.out_dir / "metrics.jsonl", enabled=rank0, estimate=plan.estimate,
                     num_devices=dist.get_world_size(), resume_step=step,
                     tokens_per_step=lay.global_batch_size * plan.model.seq_length)
    interval = plan.reliability.checkpoint_interval_steps if plan.reliability else r.eval_interval_steps
    while step < last:
        log.start_step()
        loss, lr, grad_norm, ok, stop_now = train_one_step(engine, scheduler, train, step, plan, stop)
        step += 1
        log.stop_step()
        extra = {}
        if step % r.eval_interval_steps == 0 or step == last:
            extra["val_loss"] = validate(engine, valid, plan)
        record = log.log(step, loss=loss, lr=lr, grad_norm=grad_norm, skipped=not ok, extra=extra)
        print_progress(progress_line(record, last), rank0)
        if stop_now:
            _save(ckpt_root, step, engine, scheduler, plan, strategy)
            print_progress(f"signal {stop.received or 'peer'}: checkpoint at step {step}, exiting", rank0)
            return 0
        if step % interval == 0 or step == last:
            _save(ckpt_root, step, engine, scheduler, plan, strategy)
    dist.barrier()
    return 0
