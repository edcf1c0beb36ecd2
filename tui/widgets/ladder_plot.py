"""The Ladder screen's plot: loss against compute, the fitted frontier and the big run's prediction.

Draws a `tui.widgets.ladder_fit.FitFigure` with plotext (textual-plotext, as the run monitor draws its
loss curve). Compute spans many decades, so the x axis is log10 of C = 6·N·D in FLOPs, computed
here, not by plotext's log scale, whose tick labels do not fit 80 columns.
"""

from __future__ import annotations

import math

from textual_plotext import PlotextPlot

from tui.widgets.ladder_fit import FitFigure


LEGEND_HEADROOM = 0.6
"""The y axis reaches this share of the data's range above its top, where the legend goes."""


class FitPlot(PlotextPlot):
    """Loss (y) against log10 compute (x): ladder points, frontier, the big run with its p10-p90 bar."""

    def draw(self, figure: FitFigure | None) -> None:
        plt = self.plt
        plt.clear_data()
        plt.title("loss against compute (6ND)")
        plt.xlabel("log10 FLOPs")
        if figure is not None:
            if figure.frontier:  # a thin line first, so the ladder's points stay visible on it
                plt.plot([math.log10(c) for c, _ in figure.frontier], [v for _, v in figure.frontier],
                         marker="braille", color="green", label="fitted frontier")
            if figure.points:
                plt.scatter([math.log10(c) for c, _ in figure.points], [v for _, v in figure.points],
                            marker="o", color="cyan", label="ladder")
            t = figure.target
            if t is not None:
                x = math.log10(t.compute)
                if t.p10 is not None and t.p90 is not None:
                    plt.plot([x, x], [t.p10, t.p90], color="red", label="big run p10-p90")
                plt.scatter([x], [t.loss], marker="x", color="yellow", label="big run")
            losses = [v for _, v in figure.points + figure.frontier]
            if t is not None:
                losses += [v for v in (t.loss, t.p10, t.p90) if v is not None]
            if losses:  # headroom above the data for the legend, which plotext draws top left
                lo, hi = min(losses), max(losses)
                pad = max(hi - lo, 0.05 * hi)
                plt.ylim(lo - 0.05 * pad, hi + LEGEND_HEADROOM * pad)
        self.refresh()
