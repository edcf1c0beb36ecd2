"""Backends that run a job graph: `local` (subprocesses) and `slurm` (sbatch)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from planner.errors import PlanInputError

if TYPE_CHECKING:
    from executor.backends.base import Backend

BACKENDS = ("local", "slurm")


def get_backend(name: str, site=None) -> Backend:
    """The backend called `name` (`local` or `slurm`); `site` (SiteOptions) is used by slurm. Imported
    on demand: `llmplan status` of a local run need not load the sbatch renderer."""
    if name == "local":
        from executor.backends.local import LocalBackend

        return LocalBackend()
    if name == "slurm":
        from executor.backends.slurm import SlurmBackend

        return SlurmBackend(site=site)
    raise PlanInputError("unknown backend", [f"backend: {name!r}; allowed: {', '.join(BACKENDS)}"])
