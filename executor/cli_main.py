"""Run a stage's click command as a job's entrypoint (`python -m executor.prepare|evaluate`).

The same exit statuses as `llmplan` (tui.cli.main): bad input (PlanInputError, a usage error) exits
2 with the message on stderr; an internal error propagates, so the job log keeps its traceback.
"""

from __future__ import annotations

import sys

import click

from planner.errors import PlanInputError


def run_command(command: click.Command, prog_name: str, argv: list[str] | None = None, *,
                report_internal_errors: bool = False) -> int:
    """Run `command` and map errors to exit statuses: 2 for bad input, 130 when interrupted, 0 on a
    closed pipe. An internal error propagates (a job log keeps its traceback), unless
    `report_internal_errors` (the `llmplan` command line): then one line and status 1, or the
    traceback with `--debug` among the arguments."""
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
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0
    except Exception as exc:  # noqa: BLE001 - the one place internal errors are reported
        if not report_internal_errors or "--debug" in argv:
            raise
        click.echo(f"internal error: {exc.__class__.__name__}: {exc}\n"
                   f"rerun with `{prog_name} --debug ...` for the traceback", err=True)
        return 1
    return 0
