"""The Markdown report (planner/reports/report.py): it renders as Markdown and both PNG charts are written.

The report is parsed with markdown-it-py (CommonMark + GFM tables, a dependency of rich) and the
charts are checked to be real PNG files of the expected size; the loss chart uses the planner's
Chinchilla law (Hoffmann et al. 2022 eq. 2 and 4, planner.model.sizing).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

pytest.importorskip("matplotlib", reason="the report needs the `report` extra (matplotlib)")

from markdown_it import MarkdownIt  # noqa: E402

from planner.io import read_plan  # noqa: E402
from planner.reports.report import COST_CHART, LOSS_CHART, count_label, markdown_text, num, table  # noqa: E402
from planner.cost.uncertainty import plan_ranges, residuals_of  # noqa: E402
from presets import load_catalog  # noqa: E402

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, f"{path.name} is not a PNG"
    return struct.unpack(">II", data[16:24])


FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "tiny_plan.yaml"


@pytest.fixture
def tiny_plan():
    return read_plan(FIXTURE)


def to_html(markdown: str) -> str:
    return MarkdownIt("commonmark").enable("table").render(markdown)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    """The report of the tiny plan through `llmplan export FILE --format markdown -o OUT`, rendered
    once (matplotlib is slow to start): (dir, md path, html)."""
    from tui.cli import main

    out = tmp_path_factory.mktemp("report")
    path = out / "tiny-report.md"
    assert main(["export", str(FIXTURE), "--format", "markdown", "-o", str(path)]) == 0
    return out, path, to_html(path.read_text(encoding="utf-8"))


def test_report_renders_to_html_with_every_section(rendered):
    out, path, html = rendered
    assert path.is_file() and oct(path.stat().st_mode & 0o777) == "0o644"
    for heading in ("Training plan: tiny-cpu", "Summary", "Goals", "Model and data", "Compute, time and cost",
                    "Parallel layout and memory", "Training recipe", "Failures and checkpoints",
                    "Predicted loss", "Assumptions", "How the ranges are computed"):
        assert f">{heading}</h" in html, heading
    assert html.count("<table>") >= 8
    assert f'<img src="{COST_CHART}"' in html and f'<img src="{LOSS_CHART}"' in html


def test_report_writes_both_charts_as_png_beside_it(rendered):
    out, _, _ = rendered
    assert png_size(out / COST_CHART) == (700, 320)
    assert png_size(out / LOSS_CHART) == (700, 420)


def test_report_shows_ranges_and_the_memory_breakdown(tiny_plan, rendered):
    e, r = tiny_plan.estimate, tiny_plan.ranges["gpu_hours"]
    html = rendered[2]
    assert f"<td>{num(e.gpu_hours)} ({num(r.p10)} – {num(r.p90)})</td>" in html
    mem = tiny_plan.layout.memory
    gib, share = f"{mem.activations_bytes / 2**30:.2f}", f"{mem.activations_bytes / mem.capacity_bytes:.1%}"
    assert f"<td>activations</td>\n<td>{gib}</td>\n<td>{share}</td>" in html
    assert f"{tiny_plan.reliability.checkpoint_interval_steps:,} steps" in html


def test_report_computes_ranges_when_the_plan_has_none(tiny_plan):
    tiny_plan.ranges = {}
    html = to_html(markdown_text(tiny_plan, plan_ranges(tiny_plan, residuals_of(load_catalog()), load_catalog().reliability),
                                 catalog=load_catalog()))
    assert f"<td>{num(tiny_plan.estimate.gpu_hours)} (" in html and "lognormal" in html


def test_pipes_in_cells_do_not_break_the_tables(tiny_plan):
    tiny_plan.warnings = ["a | b"]
    tiny_plan.description = "shape | test"
    text = table(["x", "y"], [["a|b", "c"]])
    assert text.splitlines()[2] == "| a\\|b | c |"
    html = to_html(markdown_text(tiny_plan, tiny_plan.ranges, catalog=load_catalog()))
    assert "a | b" in html and "shape | test" in html


def test_counts_get_readable_suffixes():
    assert [count_label(x) for x in (1.5e6, 4e5, 7e9, 2e12, 12)] == ["1.5M", "400K", "7B", "2T", "12"]
