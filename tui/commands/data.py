"""`llmplan prepare`: raw text to Megatron indexed datasets (executor/prepare, docs/data.md).

The command is defined in executor.prepare.cli so that jobs run it as `python -m executor.prepare`.
"""

from __future__ import annotations

import click

from executor.prepare.cli import prepare_cmd

COMMANDS: list[click.Command] = [prepare_cmd]
