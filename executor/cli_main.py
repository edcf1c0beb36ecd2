"""Run a stage's click command as a job's entrypoint (`python -m executor.prepare|evaluate`).

The same exit statuses as `llmplan` (tui.cli.main): bad input (PlanInputError, a usage error) exits
2 with the message on stderr; an internal error propagates, so the job log keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from planner.errors import PlanInputError


def run_command(command: click.Command, prog_name: str, argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        command.main(args=argv, prog_name=prog_name, standalone_mode=False)
    except PlanInputError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as exc:
        exc.show()
        return 2 if isinstance(exc, click.UsageError | click.BadParameter) else exc.exit_code
    return 0
