"""metrics.jsonl (one JSON object per logged step) and the one-line progress log.

MFU is measured against the plan's own FLOPs accounting: achieved model FLOPs per second
(`estimate.flops_per_token` x measured tokens/s) over the peak the plan assumed for the same
devices. The plan does not store the peak directly; it follows from its estimate, because the
planner set tokens_per_s = mfu x peak x num_gpus / flops_per_token (MFU as defined by Chowdhery et
al. 2022, PaLM, appendix B), so peak_per_device = tokens_per_s x flops_per_token / (mfu x num_gpus).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

import torch


def planned_peak_flops_per_device(estimate) -> float:
    """Peak FLOP/s per device implied by the plan's estimate (see module docstring)."""
    return estimate.tokens_per_s * estimate.flops_per_token / (estimate.mfu * estimate.num_gpus)


def measured_mfu(tokens_per_s: float, estimate, num_devices: int) -> float:
    """Model FLOPs utilisation: flops_per_token x tokens/s / (num_devices x planned peak)."""
    return tokens_per_s * estimate.flops_per_token / (num_devices * planned_peak_flops_per_device(estimate))


def peak_memory_bytes() -> int:
    """Peak allocated device memory on GPU; peak resident set size of this process on CPU."""
    if torch.cuda.is_available():
        return int(torch.cuda.max_memory_allocated())
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


class MetricsLog:
    """Appends to RUN/metrics.jsonl on rank 0; a resumed run drops lines past its checkpoint."""

    def __init__(self, path: str | Path, *, enabled: bool, estimate, num_devices: int,
                 tokens_per_step: int, resume_step: int) -> None:
        self.path, self.enabled = Path(path), enabled
        self.estimate, self.num_devices, self.tokens_per_step = estimate, num_devices, tokens_per_step
        self._last_time = time.perf_counter()
        if enabled:
            self._truncate_after(resume_step)

    def _truncate_after(self, step: int) -> None:
        """Keep lines of steps <= step (a killed run may have logged steps it will redo)."""
        if not self.path.is_file():
            return
        kept = [line for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        tmp = self.path.with_suffix(".jsonl.tmp")
        tmp.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        os.replace(tmp, self.path)

    def start_step(self) -> None:
        self._last_time = time.perf_counter()
        self._step_time_s = None

    def stop_step(self) -> None:
        """End the timed part of a step (validation and checkpoints are not counted)."""
        self._step_time_s = time.perf_counter() - self._last_time

    def log(self, step: int, *, loss: float, lr: float, grad_norm: float, skipped: bool,
            extra: dict | None = None) -> dict:
        step_time_s = self._step_time_s or time.perf_counter() - self._last_time
        tokens_per_s = self.tokens_per_step / step_time_s
        record = {
            "step": step, "loss": loss, "lr": lr, "grad_norm": grad_norm,
            "step_time_s": step_time_s, "tokens_per_s": tokens_per_s,
            "mfu": measured_mfu(tokens_per_s, self.estimate, self.num_devices),
            "memory_bytes": peak_memory_bytes(), "skipped": skipped, "time": time.time(),
        }
        record.update(extra or {})
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps(record) + "\n")
        return record

    def log_event(self, step: int, **fields) -> None:
        if self.enabled:
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(json.dumps({"step": step, **fields, "time": time.time()}) + "\n")


def progress_line(record: dict, total_steps: int) -> str:
    return (f"step {record['step']}/{total_steps} loss {record['loss']:.4f} lr {record['lr']:.3e} "
            f"grad_norm {record['grad_norm']:.3f} tok/s {record['tokens_per_s']:.0f} "
            f"mfu {record['mfu']:.3f} mem {record['memory_bytes'] / 2**20:.0f}MiB")


def print_progress(line: str, enabled: bool) -> None:
    if enabled:
        print(line, file=sys.stdout, flush=True)
