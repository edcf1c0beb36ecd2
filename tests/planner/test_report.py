"""The Markdown report (planner/report.py): it renders as Markdown and both PNG charts are written.

The report is parsed with markdown-it-py (CommonMark + GFM tables, a dependency of rich) and the
charts are checked to be real PNG files of the expected size; the loss chart uses the planner's
Chinchilla law (Hoffmann et al. 2022 eq. 2 and 4, planner.sizing).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the report needs the `report` extra (matplotlib)")

from markdown_it import MarkdownIt  # noqa: E402

from planner.io import read_plan  # noqa: E402
from planner.report import COST_CHART, LOSS_CHART, count_label, render_markdown, table  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


@pytest.fixture
def tiny_plan(tiny_plan_path):
    plan = read_plan(tiny_plan_path)
    # The hand-written fixture carries num_params=1; give it its real size for a meaningful chart.
    plan.model.num_params = 1_500_000
    return plan


def render(plan, tmp_path):
    path = render_markdown(plan, tmp_path)
    html = MarkdownIt("commonmark").enable("table").render(path.read_text(encoding="utf-8"))
    return path, html


def test_report_renders_to_html_with_every_section(tiny_plan, tmp_path):
    path, html = render(tiny_plan, tmp_path)
    assert path == tmp_path / "tiny-cpu.md"
    for heading in ("Training plan: tiny-cpu", "Summary", "Goals", "Model and data", "Compute, time and cost",
                    "Parallel layout and memory", "Training recipe", "Failures and checkpoints",
                    "Predicted loss", "Assumptions", "How the ranges are computed"):
        assert f">{heading}</h" in html, heading
    assert html.count("<table>") >= 8
    assert f'<img src="{COST_CHART}"' in html and f'<img src="{LOSS_CHART}"' in html


def test_report_writes_both_charts_as_png_beside_it(tiny_plan, tmp_path):
    render_markdown(tiny_plan, tmp_path)
    assert png_size(tmp_path / COST_CHART) == (700, 320)
    assert png_size(tmp_path / LOSS_CHART) == (700, 420)


def test_report_shows_ranges_and_the_memory_breakdown(tiny_plan, tmp_path):
    _, html = render(tiny_plan, tmp_path)
    # GPU-hours 0.11 with a p10 - p90 range computed by planner.uncertainty (plan.ranges is empty).
    assert "<td>0.11 (" in html
    # activations 10,000,000 bytes = 0.01 GiB, 0.1% of 8e9 capacity.
    assert "<td>activations</td>\n<td>0.01</td>\n<td>0.1%</td>" in html
    assert "Checkpoint every" in html and "50 steps" in html


def test_pipes_in_cells_do_not_break_the_tables(tiny_plan, tmp_path):
    tiny_plan.warnings = ["a | b"]
    tiny_plan.description = "shape | test"
    text = table(["x", "y"], [["a|b", "c"]])
    assert text.splitlines()[2] == "| a\\|b | c |"
    _, html = render(tiny_plan, tmp_path)
    assert "a | b" in html


def test_counts_get_readable_suffixes():
    assert [count_label(x) for x in (1.5e6, 4e5, 7e9, 2e12, 12)] == ["1.5M", "400K", "7B", "2T", "12"]
