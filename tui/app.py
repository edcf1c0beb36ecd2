"""The planning wizard: goals in, a plan out, compared, exported and approved.

The app owns the state (`goals`, `plan`, `plan_error`); screens watch it and post messages up.
Each goals edit restarts one exclusive worker that waits `debounce_s`, shows the planner's fast
estimate, then asks the planner for the full plan, both in a thread, so typing never waits for the
planner.
"""

from __future__ import annotations

import asyncio
import gc
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import App
from textual.binding import Binding
from textual.reactive import var

from planner.errors import PlanInputError
from planner.schema import Goals, RunPlan
from tui import state
from tui.screens.compare import CompareScreen
from tui.screens.export import ExportResult, ExportScreen
from tui.screens.goals import GoalsScreen
from tui.screens.plan import PlanScreen

if TYPE_CHECKING:
    from tui.widgets.ladder_fit import LoadedFit

THEMES = {"dark": "textual-dark", "light": "textual-light"}


class WizardApp(App):
    TITLE = "llmplan"
    SUB_TITLE = "plan the pretraining of an LLM"
    MODES = {"goals": GoalsScreen, "plan": PlanScreen, "compare": CompareScreen}
    """Only the goals screen is built at launch; the others when first opened."""
    DEFAULT_MODE = "goals"
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f2", "switch_mode('goals')", "Goals"),
        Binding("f3", "switch_mode('plan')", "Plan"),
        Binding("f4", "switch_mode('compare')", "Compare"),
        Binding("f5", "export", "Export"),
        Binding("f6", "runs", "Runs"),
        Binding("ctrl+t", "toggle_theme", "Theme"),
        Binding("q", "quit", "Quit", show=False),
        Binding("ctrl+q", "quit", "Quit", priority=True),
        Binding("question_mark", "help", "Help", show=False),
    ]

    goals: var[Goals] = var(Goals)
    plan: var[RunPlan | None] = var(None)
    plan_error: var[str] = var("")
    plans_computed: var[int] = var(0)
    """How many plans the planner has returned (tests and benchmarks wait on it)."""
    plan_pending: var[bool] = var(True)
    """A recomputation is scheduled or running."""
    headline: var[state.Headline | None] = var(None)
    """The summary's figures: the fast estimate first, then the full plan's."""
    scaling_fit: var[LoadedFit | None] = var(None)
    """A fit.json loaded on the Ladder screen (`f`); None: the screen draws the plan's own law, if any."""

    def __init__(self, goals: Goals | None = None, theme: str = "dark", debounce_s: float = 0.02,
                 plan: RunPlan | None = None):
        """Open on `goals` (default: the default goals preset), or on an existing `plan` and its goals."""
        super().__init__()
        self.set_reactive(WizardApp.goals, plan.goals if plan else goals or state.default_goals())
        self.set_reactive(WizardApp.plan, plan)
        self.set_reactive(WizardApp.plan_pending, plan is None)
        self.set_reactive(WizardApp.headline, state.plan_headline(plan) if plan else None)
        self.debounce_s = debounce_s
        self.theme = THEMES[theme]
        self.last_export: ExportResult | None = None

    def on_mount(self) -> None:
        self.call_after_refresh(_first_paint_done)
        if self.plan is None:  # after the first paint: the form shows before the planner starts
            self.call_after_refresh(self.recompute, self.goals, 0.0)

    @on(GoalsScreen.GoalsEdited)
    def _goals_edited(self, event: GoalsScreen.GoalsEdited) -> None:
        self.load_goals(event.goals)

    def load_goals(self, goals: Goals) -> None:
        """Make `goals` the current goals and recompute the plan (debounced)."""
        self.goals = goals
        self.plan_pending = True
        self.recompute(goals, self.debounce_s)

    @work(exclusive=True, group="derive")
    async def recompute(self, goals: Goals, debounce_s: float) -> None:
        """After the debounce: the fast estimate for the summary, then the full plan (a keystroke in
        between cancels this worker; a plan already in its thread finishes and is dropped)."""
        await asyncio.sleep(debounce_s)
        try:
            self.headline = await asyncio.to_thread(state.quick_headline, goals)
            self.plan_error = ""
            plan = await asyncio.to_thread(state.derive, goals)
        except PlanInputError as exc:
            self.plan_error = str(exc)
        except Exception as exc:  # noqa: BLE001 - a planner bug must not close the wizard
            self.plan_error = f"internal error in the planner: {exc.__class__.__name__}: {exc}"
        else:
            self.plan = plan
            self.headline = state.plan_headline(plan)
        self.plan_pending = False
        self.plans_computed += 1

    def action_help(self) -> None:
        from tui.screens.help import HelpScreen  # deferred: its Markdown widget loads markdown_it and pygments (~35 ms)

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_export(self) -> None:
        if self.plan is None or self.plan_error:
            self.notify("No valid plan to export yet.", severity="warning")
        elif not isinstance(self.screen, ExportScreen):
            self.push_screen(ExportScreen(self.plan), self._exported)

    def _exported(self, result: ExportResult | None) -> None:
        if result is not None:
            self.last_export = result
            if result.plan.approval is not None and self.plan is not None:
                self.plan = result.plan

    def action_runs(self) -> None:
        """The run monitor (executor runs under ./runs), on top of the current screen."""
        from tui.screens.runs import RunsScreen  # deferred: executor.control and both backends (~45 ms), not for the first paint

        if not isinstance(self.screen, RunsScreen):
            self.push_screen(RunsScreen())

    def action_toggle_theme(self) -> None:
        self.theme = THEMES["light"] if self.theme == THEMES["dark"] else THEMES["dark"]


def _first_paint_done() -> None:
    """Turn the garbage collector back on if the launcher (`llmplan wizard`) paused it for start-up.

    Start-up creates ~10^5 long-lived objects (pydantic schemas, Textual styles and widgets); with
    the collector paused it runs ~0.1 s CPU faster (bench_tui.py). `gc.freeze` then moves those
    objects out of the collector's sight, so later collections (while typing) stay short.
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()
