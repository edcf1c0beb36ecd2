"""A per-GPU memory bar: weights, gradients, optimizer, activations and overhead against capacity."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from planner.schema import MemoryBreakdown
from tui.widgets import figures

PARTS: tuple[tuple[str, str, str], ...] = (
    ("weights_bytes", "weights", "#4e9bd6"),
    ("gradients_bytes", "grads", "#e0a040"),
    ("optimizer_bytes", "optimizer", "#c05fd0"),
    ("activations_bytes", "activations", "#5fbf70"),
    ("overhead_bytes", "overhead", "#8a8a8a"),
)


def cells_per_part(memory: MemoryBreakdown, width: int) -> list[int]:
    """How many of `width` cells each part fills, scaled to the larger of total and capacity.

    Largest-remainder rounding, so the filled cells add up to the scaled total exactly.
    """
    scale_bytes = max(memory.capacity_bytes, memory.total_bytes)
    shares = [getattr(memory, name) / scale_bytes * width for name, _, _ in PARTS]
    cells = [int(s) for s in shares]
    filled = min(width, round(sum(shares)))
    order = sorted(range(len(shares)), key=lambda i: shares[i] - cells[i], reverse=True)
    for i in order[: max(0, filled - sum(cells))]:
        cells[i] += 1
    return cells


class MemoryBar(Widget):
    """Two lines: the bar, then `used / capacity` and a legend. Set `.memory` to update it."""

    DEFAULT_CSS = """
    MemoryBar { height: auto; min-height: 3; }
    """

    memory: reactive[MemoryBreakdown | None] = reactive(None, layout=True)

    def render(self) -> Text:
        memory = self.memory
        if memory is None:
            return Text("no layout in this plan", style="dim")
        width = max(10, self.size.width - 2)
        bar = Text("▕")
        for (name, _, color), cells in zip(PARTS, cells_per_part(memory, width), strict=True):
            bar.append("█" * cells, style=color)
        bar.append("·" * max(0, width - bar.cell_len + 1), style="dim")
        bar.append("▏")
        over = memory.total_bytes > memory.capacity_bytes
        used = Text(
            f"\n{figures.nbytes(memory.total_bytes)} of {figures.nbytes(memory.capacity_bytes)} per GPU",
            style="bold red" if over else "bold",
        )
        if over:
            used.append("  OVER CAPACITY", style="bold red")
        return bar + used + self._legend(memory, width + 2)

    @staticmethod
    def _legend(memory: MemoryBreakdown, width: int) -> Text:
        """`■ weights 11.8 GiB  ■ grads ...`, wrapped between items, never inside one."""
        legend, line_len = Text(), width
        for name, label, color in PARTS:
            item = Text.assemble(("■ ", color), f"{label} {figures.nbytes(getattr(memory, name))}")
            if line_len + 2 + item.cell_len > width:
                legend.append("\n")
                line_len = 0
            elif line_len:
                legend.append("  ")
                line_len += 2
            legend.append_text(item)
            line_len += item.cell_len
        return legend
