"""Compare screen: a sortable table of scenarios around the current goals; Enter loads one."""

from __future__ import annotations

import asyncio

from rich.cells import cell_len
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Header, Static

from planner.schema import Goals
from tui import state
from tui.widgets import figures
from tui.widgets.key_footer import KeyFooter

COLUMNS: tuple[tuple[str, str], ...] = (
    # (label, sweep column)
    ("GPU", "gpu"),
    ("objective", "objective"),
    ("params", "num_params"),
    ("tokens", "num_tokens"),
    ("GPUs", "num_gpus"),
    ("days", "wallclock_days"),
    ("cost", "total_cost_usd"),
    ("kWh", "energy_kwh"),
    ("CO2 kg", "co2_kg"),
    ("loss", "predicted_loss"),
    ("front", "pareto"),
    ("binding", "binding_constraint"),
)


def row_cells(s: state.Scenario) -> tuple[str, ...]:
    f = s.figures
    if s.error:
        return (f["gpu"], f["objective"], figures.count(f["target_params"]), "-", "-", "-", "-", "-",
                "-", "-", "", s.error[:60])
    return (
        f["gpu"], f["objective"], figures.count(f["num_params"]), figures.count(f["num_tokens"]),
        f"{f['num_gpus']:.0f}", figures.num(f["wallclock_days"]), figures.usd(f["total_cost_usd"]),
        figures.num(f["energy_kwh"]), figures.num(f["co2_kg"]), f"{f['predicted_loss']:.3f}",
        "★" if s.pareto else "", f["binding_constraint"],
    )


class CompareScreen(Screen):
    CSS_PATH = "compare.tcss"
    TITLE = "Compare scenarios"
    BINDINGS = [
        Binding("s", "sort", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("enter", "load", "Load", show=True),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.scenarios: list[state.Scenario] = []
        self.sort_key: str = "total_cost_usd"
        self.sort_reverse = False
        self.built_for: Goals | None = None
        self.sweeping = True  # until the first sweep is shown

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="compare-status")
        yield DataTable(id="scenarios", cursor_type="row", zebra_stripes=True, fixed_columns=2)
        yield KeyFooter()

    def on_screen_resume(self) -> None:
        """Sweep again when shown with goals that changed since the last sweep."""
        if self.built_for != self.app.goals:
            self.rebuild(self.app.goals)

    def rebuild(self, goals: Goals) -> None:
        self.built_for, self.sweeping = goals, True
        self.query_one("#compare-status", Static).update(f"computing scenarios around '{goals.name}'…")
        self.build_scenarios(goals)

    @work(exclusive=True, group="sweep")
    async def build_scenarios(self, goals: Goals) -> None:
        self.scenarios = await asyncio.to_thread(state.scenarios, goals)
        self.show_rows()
        self.sweeping = False

    def show_rows(self) -> None:
        table = self.query_one(DataTable)
        rows = state.sort_scenarios(self.scenarios, self.sort_key, self.sort_reverse)
        cells = [row_cells(s) for s in rows]
        table.clear(columns=True)
        arrow = "▼" if self.sort_reverse else "▲"
        for i, (label, key) in enumerate(COLUMNS):
            label = f"{label}{arrow}" if key == self.sort_key else label
            # Widths fixed here, not by the table on its next idle pass: the columns are right from
            # the first frame drawn after a sweep (and the snapshot tests see the same picture).
            width = max([cell_len(label), *(cell_len(row[i]) for row in cells)])
            table.add_column(label, key=key, width=width)
        for s, row in zip(rows, cells):
            table.add_row(*row, key=s.key)
        direction = "descending" if self.sort_reverse else "ascending"
        label = dict((k, lbl) for lbl, k in COLUMNS)[self.sort_key]
        self.query_one("#compare-status", Static).update(
            f"{len(rows)} scenarios by {label} ({direction}) · s: next column · r: reverse · Enter: load"
        )

    def action_sort(self) -> None:
        """Sort by the next column, ascending."""
        keys = [key for _, key in COLUMNS]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)]
        self.sort_reverse = False
        self.show_rows()

    def action_reverse(self) -> None:
        self.sort_reverse = not self.sort_reverse
        self.show_rows()

    def action_load(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self.load(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value)

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.load(event.row_key.value)

    def load(self, key: str | None) -> None:
        chosen = next((s for s in self.scenarios if s.key == key), None)
        if chosen is None or chosen.goals is None:
            self.notify(f"This scenario has no plan: {chosen.error if chosen else key}", severity="warning")
            return
        self.app.load_goals(chosen.goals)
        self.app.switch_mode("plan")
