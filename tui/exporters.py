"""The one registry of plan export formats, used by `llmplan export` and by the wizard's Export dialog.

Both front ends look a format up in `EXPORTERS` and call its `render` (text, for stdout) or its
`write` (a file), so the same plan in the same format gives the same bytes whichever one wrote it.
The names are the schema-style `Literal` `ExportFormat`; `EXPORTERS` has exactly those keys.

It lives in `tui/` because one exporter (sbatch) is the executor's and the planner never imports
the executor. The renderers are imported here at module level (none of them loads matplotlib before
it draws a chart), so the registry shows what each format depends on; only the sbatch renderer is
imported on use, because its package (executor.backends) loads both backends, which neither
`llmplan estimate` nor the wizard's first paint needs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from executor.approval import feasibility_refusals
from planner.errors import PlanInputError
from planner.io import atomic_write_text, to_json, to_yaml
from planner.reports import report, report_basic
from planner.schema import RunPlan
from planner.training.megatron_args import render_megatron_args
from presets import load_catalog

ExportFormat = Literal["yaml", "json", "markdown", "megatron-args", "sbatch"]


@dataclass(frozen=True)
class Exporter:
    """One export format: how to render a RunPlan as text and how to write it to a file.

    `renderer` is (plan, **options) -> str. `writer`, when set, is (plan, path) -> list of the
    paths written, for a format whose file is more
    than the text (Markdown: the full report and the two PNG charts it links; printed, with no
    charts to link, it is the short summary of planner.reports.report_basic); otherwise `write` saves
    `render`'s text atomically.
    """

    name: ExportFormat
    label: str
    suffix: str
    renderer: Callable[..., str]
    writer: Callable[[RunPlan, Path], list[Path]] | None = None
    runnable_only: bool = False
    """Only a plan that can run has arguments to run it with (Megatron arguments, sbatch)."""
    takes_site: bool = False
    """`render(plan, site=SiteOptions)`: the Slurm site profile (`llmplan export --site FILE`)."""
    in_wizard: bool = True

    def render(self, plan: RunPlan, **options) -> str:
        """The plan in this format, as text (what `llmplan export FILE --format NAME` prints)."""
        return self.renderer(plan, **options)

    def write(self, plan: RunPlan, path: str | Path, **options) -> list[Path]:
        """Write the plan to `path` (and any files it links beside it); the paths written, `path` first."""
        path = Path(path).expanduser()
        if self.writer is not None:
            return self.writer(plan, path)
        atomic_write_text(path, self.render(plan, **options))
        return [path]

    def check(self, plan: RunPlan, source: str = "") -> None:
        """PlanInputError listing why the plan cannot run, for a `runnable_only` format (the reasons
        `llmplan approve` refuses it for: executor.approval.feasibility_refusals)."""
        if not self.runnable_only:
            return
        problems = feasibility_refusals(plan)
        if problems:
            raise PlanInputError(f"--format {self.name}: the plan cannot run as planned", problems, source)


def write_report(plan: RunPlan, path: Path) -> list[Path]:
    """The full Markdown report at `path` with its two charts beside it (planner.reports.report.render_markdown)."""
    written = report.render_markdown(plan, path.parent, filename=path.name, catalog=load_catalog())
    return [written, written.parent / report.COST_CHART, written.parent / report.LOSS_CHART]


def render_sbatch(plan: RunPlan, **options) -> str:
    """The sbatch bundle (executor.backends.slurm_render.render_sbatch_bundle)."""
    from executor.backends.slurm_render import render_sbatch_bundle  # deferred: its package loads both backends

    return render_sbatch_bundle(plan, **options)


EXPORTERS: dict[ExportFormat, Exporter] = {
    e.name: e for e in (
        Exporter("yaml", "YAML", ".yaml", to_yaml),
        Exporter("json", "JSON", ".json", to_json),
        Exporter("markdown", "Markdown", ".md", report_basic.render_markdown, writer=write_report),
        Exporter("megatron-args", "Megatron arguments", ".sh", render_megatron_args,
                 runnable_only=True, in_wizard=False),
        Exporter("sbatch", "sbatch bundle", ".sh", render_sbatch,
                 runnable_only=True, takes_site=True, in_wizard=False),
    )
}
"""Every export format, in the order the wizard offers them; keys are exactly `ExportFormat`'s values."""

WIZARD_FORMATS: tuple[ExportFormat, ...] = tuple(name for name, e in EXPORTERS.items() if e.in_wizard)
