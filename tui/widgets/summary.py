"""A two-line summary of the current plan, shown under the goals form so typing shows its effect."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

from planner.schema import RunPlan
from tui.widgets import figures


def summary_text(plan: RunPlan | None, error: str = "", form_invalid: bool = False) -> Text:
    if error:
        return Text(f"The planner cannot meet these goals:\n{error}", style="bold red")
    if plan is None:
        return Text("computing the plan…", style="dim")
    est = plan.estimate
    text = Text()
    text.append(f"{figures.count(plan.model.num_params)} params", style="bold")
    text.append(f" · {figures.count(plan.tokens.num_tokens)} tokens")
    text.append(f" · {figures.usd(est.total_cost_usd)}", style="bold")
    text.append(f" · {figures.num(est.wallclock_days, 'days')}")
    text.append(f" · {figures.num(est.gpu_hours, 'GPU-h')}")
    text.append(f" · loss {est.predicted_loss:.3f}")
    text.append("\nbinding: ", style="dim")
    text.append(plan.binding_constraint, style="bold")
    text.append(f" · {est.num_gpus}× {est.gpu}")
    if plan.warnings:
        text.append(f" · {len(plan.warnings)} warning(s)", style="yellow")
    if form_invalid:
        text.append(" · fix the red fields (plan shows the last valid goals)", style="red")
    return text


class PlanSummary(Static):
    form_invalid: reactive[bool] = reactive(False)

    def __init__(self, **kwargs) -> None:
        super().__init__("", **kwargs)
        self._plan: RunPlan | None = None
        self._error = ""

    def show(self, plan: RunPlan | None, error: str = "") -> None:
        self._plan, self._error = plan, error
        self.update(summary_text(plan, error, self.form_invalid))

    def watch_form_invalid(self) -> None:
        self.update(summary_text(self._plan, self._error, self.form_invalid))
