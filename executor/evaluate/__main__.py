"""The evaluation job's entrypoint: `python -m executor.evaluate RUN_DIR [...]` (same options as
`llmplan evaluate`)."""

from __future__ import annotations

import sys

from executor.cli_main import run_command
from executor.evaluate.cli import evaluate_command

if __name__ == "__main__":
    sys.exit(run_command(evaluate_command, "python -m executor.evaluate"))
