"""The one small interface every backend implements: submit, status, cancel."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from executor.jobs import JobGraph
from executor.rundir import RunState


class Backend(Protocol):
    name: str

    def submit(self, graph: JobGraph, stages: list[str]) -> RunState:
        """Start `stages` of the graph (in dependency order); record ids in run.json."""

    def status(self, run_dir: str) -> RunState:
        """Poll the scheduler or processes, update run.json and return it."""

    def cancel(self, run_dir: str) -> RunState:
        """Stop every unfinished stage; training checkpoints on the way out."""


def pid_alive(pid: int | None, must_contain: str = "") -> bool:
    """A live, non-zombie process whose command line contains `must_contain` (guards PID reuse)."""
    if not pid:
        return False
    proc = Path(f"/proc/{pid}")
    try:
        status = (proc / "status").read_text()
        cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return False
    if any(line.startswith("State:") and "Z" in line.split()[1] for line in status.splitlines()):
        return False
    return must_contain in cmdline


def python_executable() -> str:
    """The interpreter the stages run under (the one running llmplan)."""
    import sys

    return os.path.abspath(sys.executable)
