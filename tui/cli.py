"""The `llmplan` command line.

Each area's commands live in `tui/commands/<area>.py` as a `COMMANDS` list of click commands, so
modules stay small and heavy libraries (pandas, textual, torch) are imported inside the command
that needs them: `llmplan estimate` must answer in well under half a second.

Exit status: 0 success, 2 bad input (one message naming the field, the value and what is
allowed), 1 an unexpected internal error (short message; `--debug` shows the traceback).
"""

from __future__ import annotations

import importlib
import os
import sys

# pydantic looks for plugins (entry points of every installed distribution, ~20 ms with the
# training extras) before it builds its first model; llmplan uses none. `PYDANTIC_DISABLE_PLUGINS=`
# (set, empty) turns them back on.
os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")

import click  # noqa: E402

from executor.cli_main import run_command  # noqa: E402

COMMAND_MODULES: dict[str, tuple[str, ...]] = {
    "tui.commands.planning": ("plan", "estimate", "validate", "show", "export", "schema", "presets", "calibrate"),
    "tui.commands.layout": ("layout",),
    "tui.commands.report": ("sweep",),
    "tui.commands.data": ("prepare",),
    "tui.commands.train": ("train",),
    "tui.commands.evaluate": ("evaluate",),
    "tui.commands.model_io": ("export-model", "import-model"),
    "tui.commands.runs": ("approve", "execute", "runs", "status", "logs", "cancel", "resume"),
    "tui.commands.wizard": ("wizard",),
    "tui.commands.ladder": ("ladder",),
}
"""Module -> the names of the commands in its COMMANDS list (a test checks they agree). Only the
module of the command being run is imported."""


class LazyGroup(click.Group):
    """Imports a command's module when the command is asked for, not at start."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for names in COMMAND_MODULES.values() for name in names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = next((m for m, names in COMMAND_MODULES.items() if cmd_name in names), None)
        if module is None:
            return None
        commands = {c.name: c for c in importlib.import_module(module).COMMANDS}
        return commands[cmd_name]


@click.group(cls=LazyGroup, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
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



def main(argv: list[str] | None = None) -> int:
    """Run the CLI and map errors to exit codes (executor.cli_main.run_command); returns the status."""
    return run_command(cli, "llmplan", argv, report_internal_errors=True)


if __name__ == "__main__":
    sys.exit(main())
