"""The `llmplan` command line.

Each area's commands live in `tui/commands/<area>.py` as a `COMMANDS` list of click commands, so
modules stay small and heavy libraries (pandas, textual, torch) are imported inside the command
that needs them: `llmplan estimate` must answer in well under half a second.

Exit status: 0 success, 2 bad input (one message naming the field, the value and what is
allowed), 1 an unexpected internal error (short message; `--debug` shows the traceback).
"""

from __future__ import annotations

import importlib
import sys

import click

from planner.errors import PlanInputError

COMMAND_MODULES = (
    "tui.commands.planning",
    "tui.commands.layout",
    "tui.commands.report",
    "tui.commands.data",
    "tui.commands.train",
    "tui.commands.evaluate",
    "tui.commands.runs",
    "tui.commands.wizard",
)


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks for internal errors.")
@click.version_option(package_name="llmplan")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Plan and run the pretraining of a large language model.

    With no command, opens the planning wizard on the default goals.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    if ctx.invoked_subcommand is None:
        wizard = cli.get_command(ctx, "wizard")
        if wizard is None:
            click.echo(ctx.get_help())
            return
        ctx.invoke(wizard)


def _register() -> None:
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        for command in getattr(module, "COMMANDS", []):
            cli.add_command(command)


_register()


def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes; returns the status instead of raising."""
    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv
    try:
        cli.main(args=argv, prog_name="llmplan", standalone_mode=False)
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
        if debug:
            raise
        click.echo(f"internal error: {exc.__class__.__name__}: {exc}\n"
                   "rerun with `llmplan --debug ...` for the traceback", err=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
