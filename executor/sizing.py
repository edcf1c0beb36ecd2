"""Resources of the prepare and evaluate jobs sized from the plan (pure functions).

Every constant here is an assumption or a measurement of this repository's own code, stated where
it is defined; each function returns its numbers and the sentence the dry run prints about them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from planner.compute.precision import get_precision
from planner.schema import RunPlan

GIB = 1024**3

# -- data preparation ------------------------------------------------------------------------------
# Tokens one CPU filters per hour in an array task (`llmplan prepare --stage filter` on one shard).
# Measured here (2026-12-04, one process, OMP_NUM_THREADS=1): 6.06 MB of text (the Python 3.11 library
# docs, HTML stripped, 2,915 documents) through the filter stage in 5.4 CPU-s after imports, 1.12 MB
# per CPU-s; at 4 bytes per token (a >= 32k BPE vocabulary on English; the 4,096-entry tokenizer
# trained on the same text gives 2.9) that is 1.0e9 tokens per CPU-hour. 91 % of those documents
# were dropped by the quality filters before their MinHash signature, which a cleaner corpus computes
# for most documents, so the assumed rate is half the measurement.
PREPARE_TOKENS_PER_CPU_HOUR = 5e8
# One shard is filtered by one process (executor.prepare.pipeline.Pipeline.filter starts a process
# pool only for several shards), so an array task asks for one CPU: more would sit idle.
PREPARE_CPUS_PER_SHARD = 1
PREPARE_TIME_SHARE = 0.5  # a task's planned work fills at most half its time limit (slow nodes, I/O)
MAX_ARRAY_SIZE = 1000  # Slurm's default MaxArraySize is 1001 (task ids 0..1000)


def _hours(h: float) -> str:
    return f"{h:.3g} h" if h >= 0.1 else f"{h * 3600:.2g} s"


@dataclass(frozen=True)
class PrepareSize:
    shards: int
    time_limit_s: int
    explain: str
    fits: bool = True  # False: even MAX_ARRAY_SIZE tasks at the partition's maximum time do not fit


def prepare_size(unique_tokens: float, num_shards: int, prepare_time_s: int, max_time_s: int,
                 site_shards: int = 0) -> PrepareSize:
    """Array tasks and their time limit: enough one-CPU tasks that each task's share of the tokens
    takes at most PREPARE_TIME_SHARE of the prepare time limit at PREPARE_TOKENS_PER_CPU_HOUR, at
    least `num_shards` (data.num_shards); past MAX_ARRAY_SIZE tasks the time limit grows instead, up to
    the partition's maximum `max_time_s`."""
    rate = f"{PREPARE_TOKENS_PER_CPU_HOUR:.2g} tokens/CPU-h (measured filter rate, halved)"
    if site_shards:
        hours = unique_tokens / site_shards / PREPARE_TOKENS_PER_CPU_HOUR
        return PrepareSize(site_shards, prepare_time_s,
                           f"{site_shards} tasks from the site profile; ~{_hours(hours)} each at {rate}",
                           hours * 3600 <= prepare_time_s)
    per_task = PREPARE_TOKENS_PER_CPU_HOUR * prepare_time_s / 3600 * PREPARE_TIME_SHARE
    need = math.ceil(unique_tokens / per_task)
    head = (f"{unique_tokens:.3g} unique tokens at {rate}, {PREPARE_CPUS_PER_SHARD} CPU per task "
            f"(one process filters one shard)")
    if need <= MAX_ARRAY_SIZE:
        shards = max(num_shards, need)
        hours = unique_tokens / shards / PREPARE_TOKENS_PER_CPU_HOUR
        return PrepareSize(shards, prepare_time_s,
                           f"{head}: {need} tasks fill half of {prepare_time_s / 3600:.3g} h, at least "
                           f"data.num_shards {num_shards} -> {shards} tasks of ~{_hours(hours)}")
    hours = unique_tokens / MAX_ARRAY_SIZE / PREPARE_TOKENS_PER_CPU_HOUR
    wanted = math.ceil(hours * 3600 / PREPARE_TIME_SHARE)
    limit = min(max_time_s, max(prepare_time_s, wanted))
    text = (f"{head}: {need} tasks would be needed at {prepare_time_s / 3600:.3g} h, over Slurm's "
            f"MaxArraySize; {MAX_ARRAY_SIZE} tasks of ~{_hours(hours)} with a {limit / 3600:.3g} h limit")
    if hours * 3600 > max_time_s:
        return PrepareSize(MAX_ARRAY_SIZE, limit, text + f" DO NOT FIT the partition's {max_time_s / 3600:.3g} h "
                           "maximum: raise site max_time_s or prepare the sources in several runs", False)
    return PrepareSize(MAX_ARRAY_SIZE, limit, text)


# -- evaluation ------------------------------------------------------------------------------------
# The native evaluator builds the model in fp32 (executor.train.checkpoint.load_for_inference) and
# reads the checkpoint's model tensors, stored in the training precision's weight dtype, beside it.
EVAL_PRECISION = "fp32"
GPU_HEADROOM = 0.8  # weights + logits within 80 % of a GPU: CUDA context, allocator, activations
LOGIT_BYTES = 4  # the scorer computes log-softmax in at least fp32 (executor.evaluate.scoring)


@dataclass(frozen=True)
class EvalSize:
    gpus: int
    mem_gib: int
    explain: str


def evaluate_size(plan: RunPlan, gpu_memory_bytes: float | None, gpus_per_node: int,
                  precision: str = EVAL_PRECISION) -> EvalSize:
    """GPUs and host memory of the evaluation job.

    Host memory: params x (bytes in `precision` + bytes of the stored checkpoint) x 1.2 + 4 GiB, at
    least 8 GiB. GPUs (none when `gpu_memory_bytes` is None, a CPU plan): the fewest whose memory x
    GPU_HEADROOM holds the weights in `precision` plus one scoring batch's logits (batch_size x
    seq_length x vocab_size x 4 B), one when the model fits one GPU; at most one node's GPUs."""
    params = plan.model.num_params
    eval_b = get_precision(precision).weight_bytes
    ckpt_b = get_precision(plan.recipe.precision).weight_bytes
    mem = max(8, math.ceil(params * (eval_b + ckpt_b) * 1.2 / GIB) + 4)
    why_mem = (f"--mem={mem}G: {params:.3g} params x ({eval_b:g} B {precision} + {ckpt_b:g} B "
               f"{plan.recipe.precision} checkpoint) x 1.2 + 4 GiB")
    if gpu_memory_bytes is None:
        return EvalSize(0, mem, why_mem + "; no GPU (CPU plan)")
    weights = params * eval_b
    logits = plan.evaluation.batch_size * plan.model.seq_length * plan.model.vocab_size * LOGIT_BYTES
    usable = gpu_memory_bytes * GPU_HEADROOM
    gpus = max(1, math.ceil((weights + logits) / usable))
    why_gpu = (f"{gpus} GPU{'s' if gpus > 1 else ''}: {precision} weights {weights / GIB:.3g} GiB + logits {logits / GIB:.3g} GiB "
               f"vs {GPU_HEADROOM:.0%} of {gpu_memory_bytes / GIB:.3g} GiB per GPU")
    if gpus > gpus_per_node:
        why_gpu += f"; capped at one node's {gpus_per_node} GPUs: DOES NOT FIT"
        gpus = gpus_per_node
    return EvalSize(gpus, mem, f"{why_mem}; {why_gpu}")
