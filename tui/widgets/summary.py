"""A two-line summary of the current plan, shown under the goals form so typing shows its effect."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tui.state import Headline
from tui.widgets import figures


def summary_text(head: Headline | None, error: str = "", form_invalid: bool = False,
                 pending: bool = False, demo_data: bool = False) -> Text:
    if error:
        return Text(f"The planner cannot meet these goals:\n{error}", style="bold red")
    if head is None:
        return Text("computing the plan…", style="dim")
    text = Text()
    text.append(f"{figures.count(head.num_params)} params", style="bold")
    text.append(f" · {figures.count(head.num_tokens)} tokens")
    text.append(f" · {figures.usd(head.total_cost_usd)}", style="bold")
    text.append(f" · {figures.num(head.wallclock_days, unit='days')}")
    text.append(f" · {figures.num(head.gpu_hours, unit='GPU-h')}")
    text.append(f" · loss {head.predicted_loss:.3f}")
    text.append("\nbinding: ", style="dim")
    text.append(head.binding_constraint, style="bold")
    text.append(f" · {head.num_gpus}× {head.gpu}")
    if head.num_warnings:
        text.append(f" · {head.num_warnings} warning(s)", style="yellow")
    if demo_data:
        text.append(" · demo data", style="bold yellow")
    if form_invalid:
        text.append(" · fix the red fields (plan shows the last valid goals)", style="red")
    elif pending and head.num_warnings is None:
        text.append(" · layout…", style="dim")
    return text


class PlanSummary(Static):
    """Redrawn by the goals screen whenever the app's headline, error or the form's validity change."""

    def show(self, head: Headline | None, error: str = "", form_invalid: bool = False,
             pending: bool = False, demo_data: bool = False) -> None:
        self.update(summary_text(head, error, form_invalid, pending, demo_data), layout=False)  # fixed height
