"""Backends that run a job graph: `local` (subprocesses) and `slurm` (sbatch)."""

from __future__ import annotations

from executor.backends.base import Backend
from executor.backends.local import LocalBackend
from executor.backends.slurm import SlurmBackend
from planner.errors import PlanInputError

BACKENDS = ("local", "slurm")


def get_backend(name: str, site=None) -> Backend:
    """The backend called `name` (`local` or `slurm`); `site` (SiteOptions) is used by slurm."""
    if name == "local":
        return LocalBackend()
    if name == "slurm":
        return SlurmBackend(site=site)
    raise PlanInputError("unknown backend", [f"backend: {name!r}; allowed: {', '.join(BACKENDS)}"])
