"""The run monitor: pick a run; its stages with progress bars, a live log tail, the loss curve, the
cost so far and the forecast against the plan; cancel and resume.

A thin view over executor functions: `control.status` refreshes run.json (scontrol/squeue or the
local PIDs), `costs.cost_report` does the arithmetic, `control.cancel`/`control.resume` act. All
of that runs in a thread worker, never in a handler, and the screen redraws from what it returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Label, Log, OptionList, ProgressBar, Static
from textual.widgets.option_list import Option

from executor import control
from executor.costs import CostReport, cost_report, read_metrics
from executor.rundir import RunState, list_runs, stage_log
from planner.io import read_plan
from tui.widgets.key_footer import KeyFooter

STAGES = ("prepare", "train", "evaluate")
LOG_TAIL_LINES = 200
REFRESH_S = 2.0


@dataclass(frozen=True)
class RunView:
    """Everything the screen shows about one run, computed off the UI thread."""

    state: RunState
    cost: CostReport | None
    losses: list[tuple[int, float]]
    log_name: str
    log_tail: list[str]


def load_view(run_dir: str) -> RunView:
    state = control.status(run_dir)
    try:
        cost = cost_report(read_plan(Path(run_dir) / "plan.yaml"), state)
    except Exception:  # noqa: BLE001 - a broken plan.yaml must not take the monitor down
        cost = None
    metrics = read_metrics(Path(run_dir) / "metrics.jsonl")
    losses = [(m["step"], float(m["loss"])) for m in metrics if "step" in m and "loss" in m]
    active = [s.stage for s in state.stages.values() if s.attempts and s.attempts[-1].started_at]
    log_name = active[-1] if active else "prepare"
    path = stage_log(run_dir, log_name)
    tail = path.read_text(errors="replace").splitlines()[-LOG_TAIL_LINES:] if path.exists() else []
    return RunView(state, cost, losses, log_name, tail)


def stage_progress(view: RunView, stage: str) -> float:
    """0..100 for the stage's bar: training follows the tokens trained, the others their status."""
    status = view.state.stages[stage].status if stage in view.state.stages else "PENDING"
    if status == "COMPLETED":
        return 100.0
    if stage == "train" and view.cost is not None:
        return 100.0 * view.cost.progress
    return 0.0


class RunsScreen(Screen):
    """Run monitor."""

    CSS_PATH = "runs.tcss"
    BINDINGS = [  # the footer shows the app's F1-F6 as on every screen (F5 is Export here too);
        # this screen's own keys are listed in its #run-keys line, so the footer fits 80 columns
        Binding("c", "cancel_run", "Cancel", show=False),
        Binding("r", "resume_run", "Resume", show=False),
        Binding("u", "refresh", "Refresh", show=False),  # it also refreshes every REFRESH_S
        Binding("escape", "app.pop_screen", "Back", show=False),
    ]

    def __init__(self, runs_root: str | Path = "runs", run_dir: str | None = None) -> None:
        super().__init__()
        self.runs_root = Path(runs_root)
        self.run_dir = run_dir
        self.view: RunView | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(id="runs-body"):
            yield OptionList(id="run-list")
            with Vertical(id="run-detail"):
                yield Static("no run selected", id="run-title")
                yield Static("c cancel · r resume · u refresh · Esc back", id="run-keys")
                for stage in STAGES:
                    with Horizontal(classes="stage-row"):
                        yield Label(stage, classes="stage-name")
                        yield ProgressBar(total=100, show_eta=False, id=f"bar-{stage}")
                        yield Label("-", id=f"status-{stage}", classes="stage-status")
                yield Static("", id="run-cost")
                yield self._make_plot()
                yield Log(id="run-log", max_lines=LOG_TAIL_LINES)
        yield KeyFooter()

    def _make_plot(self):
        from textual_plotext import PlotextPlot  # deferred: plotext (~90 ms) loads only when the run monitor is shown

        return PlotextPlot(id="loss-plot")

    def on_mount(self) -> None:
        self.reload_runs()
        self.set_interval(REFRESH_S, self.action_refresh)

    def reload_runs(self) -> None:
        runs = list_runs(self.runs_root)
        menu = self.query_one("#run-list", OptionList)
        menu.clear_options()
        menu.add_options([Option(f"{r.name}  {r.status}", id=r.run_dir) for r in runs])
        if self.run_dir is None and runs:
            self.run_dir = runs[0].run_dir
        self.action_refresh()

    @on(OptionList.OptionSelected, "#run-list")
    def _picked(self, event: OptionList.OptionSelected) -> None:
        self.run_dir = event.option.id
        self.action_refresh()

    def action_refresh(self) -> None:
        if self.run_dir:
            self.refresh_view(self.run_dir)

    @work(exclusive=True, thread=True, group="runs-refresh")
    def refresh_view(self, run_dir: str) -> None:
        view = load_view(run_dir)
        self.app.call_from_thread(self.show, view)

    def show(self, view: RunView) -> None:
        self.view = view
        state = view.state
        self.query_one("#run-title", Static).update(f"{state.name}  ({state.backend})  {state.status}")
        for stage in STAGES:
            status = state.stages[stage].status if stage in state.stages else "-"
            self.query_one(f"#status-{stage}", Label).update(status)
            self.query_one(f"#bar-{stage}", ProgressBar).update(progress=stage_progress(view, stage))
        cost = view.cost.summary() if view.cost else "cost: plan.yaml unreadable"
        self.query_one("#run-cost", Static).update(cost)
        self._draw_losses(view.losses)
        log = self.query_one("#run-log", Log)
        log.clear()
        log.write_lines([f"[{view.log_name}] {line}" for line in view.log_tail[-40:]])

    def _draw_losses(self, losses: list[tuple[int, float]]) -> None:
        plot = self.query_one("#loss-plot")
        plt = plot.plt
        plt.clear_data()
        plt.title("training loss")
        if losses:
            plt.plot([s for s, _ in losses], [v for _, v in losses])
        plot.refresh()

    def action_cancel_run(self) -> None:
        if self.run_dir:
            self.notify(f"cancelling {Path(self.run_dir).name} ...")
            self.act(self.run_dir, "cancel")

    def action_resume_run(self) -> None:
        if self.run_dir:
            self.act(self.run_dir, "resume")

    @work(exclusive=True, thread=True, group="runs-act")
    def act(self, run_dir: str, what: str) -> None:
        try:
            if what == "cancel":
                control.cancel(run_dir)
                message = f"{Path(run_dir).name}: cancelled"
            else:
                _, todo = control.resume(run_dir)
                message = f"resubmitted: {', '.join(todo)}" if todo else "nothing to resume"
        except Exception as exc:  # noqa: BLE001 - shown to the person, not raised in the UI
            message = f"{what} failed: {exc}"
        self.app.call_from_thread(self.notify, message)
        self.app.call_from_thread(self.reload_runs)
