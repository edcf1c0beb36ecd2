"""The one small interface every backend implements: render, submit, status, cancel.

A backend runs a job graph (executor.jobs) and knows nothing of plans beyond what it is given: the
orchestration (executor.control) compiles the graph, gates on approval and budget, makes the run
directory and then hands the graph and the plan to a backend.
"""

from __future__ import annotations

import os
import sys
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

from executor.jobs import JobGraph
from executor.rundir import RunState
from planner.schema import RunPlan


class Backend(ABC):
    name: ClassVar[str]

    @abstractmethod
    def render(self, graph: JobGraph, plan: RunPlan) -> dict[str, str]:
        """Every job's script or command line, by job name, validating every value (the dry run)."""

    @abstractmethod
    def submit(self, graph: JobGraph, plan: RunPlan, stages: list[str]) -> RunState:
        """Start the jobs of `stages` (in dependency order); record ids in run.json."""

    @abstractmethod
    def status(self, run_dir: str) -> RunState:
        """Poll the scheduler or processes, update run.json and return it."""

    @abstractmethod
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
    return os.path.abspath(sys.executable)
