"""`llmplan wizard [--goals FILE | --plan FILE]`: the interactive planning wizard (also `llmplan` alone)."""

from __future__ import annotations

import gc
from pathlib import Path

import click

from planner.errors import PlanInputError
from planner.io import read_goals, read_plan


@click.command("wizard")
@click.option("--goals", "goals_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Goals file (YAML or JSON) to start from instead of the default goals preset.")
@click.option("--plan", "plan_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Plan file to review, export or approve (its goals fill the form).")
@click.option("--theme", type=click.Choice(["dark", "light"]), default="dark", show_default=True)
def wizard(goals_path: Path | None, plan_path: Path | None, theme: str) -> None:
    """Open the planning wizard: edit goals, watch the plan, compare, export and approve."""
    gc.disable()  # no collections while the start-up imports and widgets are built; on after the first paint
    if goals_path and plan_path:
        raise PlanInputError("--goals and --plan: give one of them, not both")
    goals = read_goals(goals_path) if goals_path else None
    plan = read_plan(plan_path) if plan_path else None
    from tui.app import WizardApp  # deferred: textual and the screens load only when the wizard opens

    WizardApp(goals=goals, plan=plan, theme=theme).run()


COMMANDS: list[click.Command] = [wizard]
