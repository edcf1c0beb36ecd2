"""Start the training job under torchrun from a plain process (`llmplan train` outside torchrun).

torchrun's agent turns a SIGTERM it receives into an error exit (and SIGKILLs workers that take
longer than its grace period), so a job that should checkpoint and exit 0 on SIGTERM must not let
the agent see the signal. The launcher runs torchrun in its own session and, on SIGTERM or SIGUSR1,
sends SIGUSR1 to the worker processes only: they finish the step, checkpoint, and exit 0, and
torchrun then exits 0 too. Under Slurm the same applies with `srun ... llmplan train`.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path


def torchrun_argv(nproc: int, plan: Path, data: Path, out: Path, *, resume: bool = True,
                  max_steps: int | None = None) -> list[str]:
    """The torchrun command line of a single-node run (pure)."""
    argv = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "executor.train", str(plan), "--data", str(data), "--out", str(out),
            "--resume" if resume else "--no-resume"]
    return argv + ([] if max_steps is None else ["--max-steps", str(max_steps)])


def _descendants(pid: int) -> list[int]:
    """Child processes of `pid`, recursively (Linux /proc)."""
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            children = (task / "children").read_text().split()
        except OSError:
            continue
        for child in map(int, children):
            out += [child, *_descendants(child)]
    return out


def _forward_stop(agent: subprocess.Popen) -> None:
    workers = _descendants(agent.pid)
    if not workers:
        agent.send_signal(signal.SIGTERM)
    for pid in workers:
        try:
            os.kill(pid, signal.SIGUSR1)
        except ProcessLookupError:
            pass


def launch(argv: list[str], env: dict | None = None) -> int:
    """Run torchrun; forward SIGTERM/SIGUSR1 to its workers as SIGUSR1; return its exit code."""
    agent = subprocess.Popen(argv, env=env, start_new_session=True)
    previous = {}

    def handler(signum, frame) -> None:  # noqa: ARG001 - signal handler signature
        _forward_stop(agent)

    for sig in (signal.SIGTERM, signal.SIGUSR1, signal.SIGINT):
        previous[sig] = signal.signal(sig, handler)
    try:
        return agent.wait()
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)
