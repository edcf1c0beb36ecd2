"""`llmplan` commands for this area (see tui/cli.py)."""

from __future__ import annotations

import click

COMMANDS: list[click.Command] = []
