"""The prepare job's entrypoint: `python -m executor.prepare PLAN --out DIR ...` (same options as
`llmplan prepare`; a Slurm array task takes its shard from SLURM_ARRAY_TASK_ID)."""

from __future__ import annotations

import sys

from executor.cli_main import run_command
from executor.prepare.cli import prepare_cmd

if __name__ == "__main__":
    sys.exit(run_command(prepare_cmd, "python -m executor.prepare"))
