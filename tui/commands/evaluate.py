"""`llmplan evaluate RUN_DIR`: lm-eval tasks and held-out perplexity on a run's latest checkpoint
(executor/evaluate, docs/evaluation.md).

The command is defined in executor.evaluate.cli so that jobs run it as `python -m executor.evaluate`.
"""

from __future__ import annotations

import click

from executor.evaluate.cli import evaluate_command

COMMANDS: list[click.Command] = [evaluate_command]
