"""Ladder screen (`l` on the Plan screen): the scaling-law ladder below the current plan, and the fit.

Issue 17: before the big run, train a ladder of small models on the same data and fit L(N, D) to
their losses (Hoffmann et al. 2022 §3; Besiroglu et al. 2024). This screen shows

- the ladder `llmplan ladder plan PLAN` derives for the current plan (planner.ladder, default
  options): one row per rung (params, tokens, tokens per parameter, GPU-hours, cost, layout) and the
  ladder's total cost and share of the big run's compute;
- the fit, when there is one (a fit.json loaded with `f`, or the law the plan was derived with,
  goals.scaling_law): loss against compute with the ladder's points, the fitted compute-optimal
  frontier and the big run's predicted loss with its p10-p90. A fit that does not identify every
  term shows why (the refusal `llmplan plan --scaling-law` prints) and no frontier.

The ladder and the fit are computed in thread workers by tui.widgets.ladder_fit (planner calls).
"""

from __future__ import annotations

from pathlib import Path

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Input, Static

from planner.errors import PlanInputError
from planner.schema import RunPlan
from planner.schema.ladder import LadderPlan
from tui.widgets import figures
from tui.widgets.key_footer import KeyFooter
from tui.widgets.ladder_fit import FitFigure, LoadedFit, fit_figure, goals_fit, plan_ladder, read_fit
from tui.widgets.ladder_plot import FitPlot

NO_FIT = ("No fit loaded: press f to load a fit.json from `llmplan ladder fit` "
          "(or derive the plan with `llmplan plan --scaling-law fit.json`).")


def layout_text(rung) -> str:
    """`TP1·PP1·DP8` on the rung's GPUs, or `-` when the rung has no layout."""
    lay = rung.layout
    if lay is None:
        return "-"
    return (f"TP{lay.tensor_model_parallel_size}·PP{lay.pipeline_model_parallel_size}"
            f"·DP{lay.data_parallel_size}")


def rungs_table(ladder: LadderPlan) -> Table:
    table = Table(title=f"Ladder {ladder.name}", title_justify="left", title_style="bold", box=None,
                  padding=(0, 1), show_edge=False, header_style="dim")
    for name in ("rung", "params", "tokens", "tok/p", "GPU-h", "cost", "layout"):
        table.add_column(name, justify="left" if name in ("rung", "layout") else "right", no_wrap=True)
    for r in ladder.rungs:
        table.add_row(r.name, figures.count(r.num_params), figures.count(r.num_tokens), f"{r.tokens_per_param:g}",
                      figures.num(r.gpu_hours), figures.usd(r.cost_usd), f"{layout_text(r)} ×{r.num_gpus}")
    return table


def totals_text(ladder: LadderPlan) -> Text:
    """The ladder's cost against the big run's (LadderPlan.totals)."""
    t, target = ladder.totals, ladder.target
    text = Text.assemble(
        (f"{len(ladder.rungs)} rungs", "bold"), f" below {target.name} ({figures.count(target.num_params)} params)\n",
        "total cost ", (figures.usd(t.cost_usd), "bold"), f" · {figures.num(t.gpu_hours)} GPU-hours · "
        f"{figures.num(t.wallclock_days_serial)} days one after another\n",
        (f"{t.compute_fraction:.1%}", "bold"), " of the big run's compute "
        f"({t.cost_fraction:.1%} of its {figures.usd(target.cost_usd)})")
    for warning in ladder.warnings:
        text.append(f"\n• {warning}", style="yellow")
    return text


def fit_text(fit: LoadedFit | None, figure: FitFigure | None) -> Text:
    """The law, the big run's predicted loss and its p10-p90, or why there is no frontier."""
    if fit is None:
        return Text(NO_FIT, style="dim")
    text = Text.assemble(("Fit ", "bold"), Path(fit.source).name if fit.points else fit.source)
    if fit.law is None:
        text.append(f"\nno frontier: {fit.refusal}", style="bold yellow")
        return text
    law = fit.law
    text.append(f"\nL = {law.E:.3g} + {law.A:.3g}/N^{law.alpha:.3g} + {law.B:.3g}/D^{law.beta:.3g}")
    t = figure.target if figure is not None else None
    if t is not None:
        band = "" if t.p10 is None or t.p90 is None else f" (p10–p90 {t.p10:.3f}–{t.p90:.3f})"
        text.append(f"\nbig run ({figures.count(t.num_params)} params, {figures.count(t.num_tokens)} tokens): "
                    "predicted loss ")
        text.append(f"{t.loss:.3f}", style="bold")
        text.append(band)
    return text


class LadderScreen(Screen):
    """The ladder of `app.plan` and the fit in `app.scaling_fit` (or the plan's own law)."""

    CSS_PATH = "ladder.tcss"
    TITLE = "Ladder"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [
        Binding("f", "load_fit", "Load fit"),
        Binding("escape", "back", "Back"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.ladder: LadderPlan | None = None
        self.figure: FitFigure | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="ladder-body"):
            yield Static("deriving the ladder …", id="ladder-head")
            with Grid(id="ladder-grid"):
                yield Static("", id="rungs")
                with Vertical(id="fit-box"):
                    yield Static("", id="fit-text")
                    yield FitPlot(id="fit-plot")
        yield Input(placeholder="path of fit.json (Enter loads, Esc cancels)", id="fit-path")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "plan", self._plan_changed)
        self.watch(self.app, "scaling_fit", self._fit_changed, init=False)

    def _plan_changed(self, _: object = None) -> None:
        plan: RunPlan | None = self.app.plan
        if plan is not None:
            self.derive(plan, self.app.scaling_fit)

    def _fit_changed(self, _: object = None) -> None:
        self._plan_changed()

    @work(exclusive=True, thread=True, group="ladder")
    def derive(self, plan: RunPlan, loaded: LoadedFit | None) -> None:
        """The ladder and the plot's data, off the UI thread (~0.1 s for 15 rungs)."""
        fit = loaded or goals_fit(plan)
        try:
            ladder = plan_ladder(plan)
        except PlanInputError as exc:
            ladder, error = None, str(exc)
        else:
            error = ""
        figure = fit_figure(fit, plan) if fit is not None else None
        self.app.call_from_thread(self.show, ladder, error, fit, figure)

    def show(self, ladder: LadderPlan | None, error: str, fit: LoadedFit | None, figure: FitFigure | None) -> None:
        self.ladder, self.figure = ladder, figure
        head = self.query_one("#ladder-head", Static)
        if ladder is None:
            head.update(Text(f"No ladder for this plan:\n{error}", style="bold red"))
            self.query_one("#rungs", Static).update("")
        else:
            head.update(totals_text(ladder))
            self.query_one("#rungs", Static).update(rungs_table(ladder))
        self.query_one("#fit-text", Static).update(fit_text(fit, figure))
        plot = self.query_one(FitPlot)
        plot.display = fit is not None
        plot.draw(figure)

    def action_load_fit(self) -> None:
        path = self.query_one("#fit-path", Input)
        path.add_class("-open")
        path.focus()

    def action_back(self) -> None:
        path = self.query_one("#fit-path", Input)
        if path.has_class("-open"):
            path.remove_class("-open")
        else:
            self.app.pop_screen()

    @on(Input.Submitted, "#fit-path")
    def _path_given(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.load_fit(event.value.strip())

    @work(exclusive=True, thread=True, group="ladder-fit")
    def load_fit(self, path: str) -> None:
        """Read fit.json (tui.widgets.ladder_fit.read_fit) and make it the app's fit; errors stay here."""
        try:
            loaded = read_fit(path)
        except PlanInputError as exc:
            self.app.call_from_thread(self._fit_refused, str(exc))
        else:
            self.app.call_from_thread(self._fit_loaded, loaded)

    def _fit_loaded(self, loaded: LoadedFit) -> None:
        self.query_one("#fit-path", Input).remove_class("-open")
        self.app.scaling_fit = loaded

    def _fit_refused(self, message: str) -> None:
        self.query_one("#fit-text", Static).update(Text(f"cannot load the fit:\n{message}", style="bold red"))
        self.notify(message.splitlines()[0], severity="error")
