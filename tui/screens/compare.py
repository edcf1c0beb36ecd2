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
    ("energy", "energy_kwh"),
    ("CO2", "co2_kg"),
    ("loss", "predicted_loss"),
    ("front", "pareto"),
    ("binding", "binding_constraint"),
)


SERVING_COLUMNS: tuple[tuple[str, str], ...] = (("serving", "serving_cost_usd"), ("TCO", "total_cost_of_ownership_usd"))
"""Shown after `cost` when the goals serve tokens (planner.cost.inference via the sweep); ★ then marks the
Pareto front on total cost of ownership instead of training cost (planner.reports.sweep.PARETO_OBJECTIVES)."""


def serves(rows: list[state.Scenario]) -> bool:
    return any((s.figures.get("serving_cost_usd") or 0) > 0 for s in rows)


def columns(rows: list[state.Scenario]) -> tuple[tuple[str, str], ...]:
    if not serves(rows):
        return COLUMNS
    at = [key for _, key in COLUMNS].index("total_cost_usd") + 1
    return COLUMNS[:at] + SERVING_COLUMNS + COLUMNS[at:]


def row_cells(s: state.Scenario, serving: bool = False) -> tuple[str, ...]:
    f = s.figures
    extra = ("-", "-") if serving else ()
    if s.error:
        return (f["gpu"], f["objective"], figures.count(f["target_params"]), "-", "-", "-", "-", *extra, "-",
                "-", "-", "", s.error[:60])
    if serving:
        extra = (figures.usd(f.get("serving_cost_usd")), figures.usd(f.get("total_cost_of_ownership_usd")))
    return (
        f["gpu"], f["objective"], figures.count(f["num_params"]), figures.count(f["num_tokens"]),
        f"{f['num_gpus']:.0f}", figures.num(f["wallclock_days"]), figures.usd(f["total_cost_usd"]), *extra,
        figures.energy(f["energy_kwh"]), figures.co2(f["co2_kg"]), f"{f['predicted_loss']:.3f}",
        "★" if s.pareto else "", f["binding_constraint"],
    )


class ScenarioTable(DataTable):
    """A row-cursor table whose ← and → move the view one whole column, not one character."""

    def column_starts(self) -> list[int]:
        """scroll_x at which each scrollable column starts right after the fixed ones."""
        starts, x = [], 0
        for column in self.ordered_columns[self.fixed_columns:]:
            starts.append(x)
            x += column.get_render_width(self)
        return starts

    def action_cursor_right(self) -> None:
        if self.cursor_type != "row":
            return super().action_cursor_right()
        following = [x for x in self.column_starts() if x > self.scroll_x]
        if following:
            self.scroll_to(x=min(following[0], self.max_scroll_x), animate=False)

    def action_cursor_left(self) -> None:
        if self.cursor_type != "row":
            return super().action_cursor_left()
        preceding = [x for x in self.column_starts() if x < self.scroll_x]
        self.scroll_to(x=preceding[-1] if preceding else 0, animate=False)


class CompareScreen(Screen):
    CSS_PATH = "compare.tcss"
    TITLE = "Compare scenarios"
    BINDINGS = [  # listed in the status line, so the footer shows the app's keys as on every screen
        Binding("s", "sort", "Sort", show=False),
        Binding("r", "reverse", "Reverse", show=False),
        Binding("enter", "load", "Load", show=False),
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
        yield ScenarioTable(id="scenarios", cursor_type="row", zebra_stripes=True, fixed_columns=2)
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
        shown = columns(rows)
        if self.sort_key not in [key for _, key in shown]:  # a serving column, gone with the inference goal
            self.sort_key, self.sort_reverse = "total_cost_usd", False
            rows = state.sort_scenarios(self.scenarios, self.sort_key, self.sort_reverse)
        cells = [row_cells(s, serving=shown is not COLUMNS) for s in rows]
        table.clear(columns=True)
        arrow = "▼" if self.sort_reverse else "▲"
        for i, (label, key) in enumerate(shown):
            label = f"{label}{arrow}" if key == self.sort_key else label
            # Widths fixed here, not by the table on its next idle pass: the columns are right from
            # the first frame drawn after a sweep (and the snapshot tests see the same picture).
            width = max([cell_len(label), *(cell_len(row[i]) for row in cells)])
            table.add_column(label, key=key, width=width)
        for s, row in zip(rows, cells):
            table.add_row(*row, key=s.key)
        label = dict((k, lbl) for lbl, k in shown)[self.sort_key] + ("▼" if self.sort_reverse else "▲")
        self.query_one("#compare-status", Static).update(
            f"{len(rows)} scenarios by {label} · s sort · r reverse · ←→ columns · Enter load"
        )

    def action_sort(self) -> None:
        """Sort by the next column, ascending."""
        keys = [key for _, key in columns(self.scenarios)]
        self.sort_key = keys[(keys.index(self.sort_key) + 1) % len(keys)] if self.sort_key in keys else keys[0]
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
