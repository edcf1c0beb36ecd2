"""Plan screen: every figure of the current plan, its layout and memory, warnings and assumptions."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Header, Static

from planner.cost.uncertainty import step_residuals_of, step_time_range
from planner.model.data_sources import data_rows, uses_demo_corpus
from planner.reports.report_basic import outlook_rows
from planner.schema import RunPlan
from presets import load_catalog
from tui.widgets import figures
from tui.widgets.key_footer import KeyFooter
from tui.widgets.memory_bar import MemoryBar

ESTIMATE_ROWS = (
    # (label, estimate field, formatter)
    ("model FLOPs", "model_flops", figures.flops),
    ("hardware FLOPs", "hardware_flops", figures.flops),
    ("end-to-end MFU", "mfu", lambda v: f"{v:.1%}"),
    ("GPU-hours", "gpu_hours", lambda v: figures.num(v)),
    ("wall-clock days", "wallclock_days", lambda v: figures.num(v)),
    ("GPU cost", "cost_usd", figures.usd),
    ("energy", "energy_kwh", figures.energy),
    ("energy cost", "energy_cost_usd", figures.usd),
    ("CO2", "co2_kg", figures.co2),
    ("total cost", "total_cost_usd", figures.usd),
    ("predicted loss", "predicted_loss", lambda v: f"{v:.3f}"),
)


def _grid(title: str) -> Table:
    table = Table.grid(padding=(0, 1))
    table.title = title
    table.title_justify = "left"
    table.title_style = "bold"
    table.add_column(style="dim", no_wrap=True)
    table.add_column(justify="right")
    return table


def model_table(plan: RunPlan) -> Table:
    m, t = plan.model, plan.tokens
    table = _grid("Model and tokens")
    table.add_row("parameters", f"{m.num_params:,} ({figures.count(m.num_params)})")
    table.add_row("layers × hidden", f"{m.num_layers} × {m.hidden_size}")
    table.add_row("heads / KV groups", f"{m.num_attention_heads} / {m.num_query_groups}")
    table.add_row("FFN · vocab · seq", f"{m.ffn_hidden_size} · {m.vocab_size} · {m.seq_length}")
    table.add_row("tokens", figures.count(t.num_tokens))
    table.add_row("unique · epochs", f"{figures.count(t.unique_tokens)} · {t.epochs:.3g}")
    table.add_row("tokens per param", f"{t.tokens_per_param:.3g}")
    return table


def estimate_table(plan: RunPlan) -> Table:
    table = Table(title="Compute, time, cost, energy", title_justify="left", title_style="bold",
                  box=None, padding=(0, 1), show_edge=False, header_style="dim")
    table.add_column("", style="dim", no_wrap=True)
    table.add_column("estimate", justify="right")
    table.add_column("p10 – p90", justify="right", style="dim")
    for label, name, fmt in ESTIMATE_ROWS:
        table.add_row(label, fmt(getattr(plan.estimate, name)), figures.span(plan.ranges.get(name), fmt))
    e = plan.estimate
    if e.step_mfu is not None:  # the chain behind the MFU row (planner.chain)
        table.add_row("  step MFU", f"{e.step_mfu:.1%}", "layout, steady state")
        for o in e.overheads:
            table.add_row(f"  × {o.name.replace('_', ' ')}", f"{o.fraction:.3f}", "")
        table.add_row("  = end-to-end MFU", f"{e.end_to_end_mfu:.1%}", "")
    return table


def layout_table(plan: RunPlan) -> Table | Text:
    if plan.layout is None:
        return Text("no parallel layout in this plan", style="dim")
    lay, lp = plan.layout.layout, plan.layout
    table = _grid(f"Layout on {plan.estimate.num_gpus}× {plan.estimate.gpu}")
    table.add_row("TP · PP · VPP", f"{lay.tensor_model_parallel_size} · {lay.pipeline_model_parallel_size}"
                  f" · {lay.virtual_pipeline_model_parallel_size}")
    table.add_row("CP · DP", f"{lay.context_parallel_size} · {lay.data_parallel_size}")
    table.add_row("micro / global batch", f"{lay.micro_batch_size} / {lay.global_batch_size}")
    table.add_row("recompute · SP", f"{lay.recompute} · {'on' if lay.sequence_parallel else 'off'}")
    span = step_time_range(lp.step_time_s, step_residuals_of(load_catalog()))
    table.add_row("step time", f"{lp.step_time_s:.3g} s (p10–p90 {span.p10:.3g}–{span.p90:.3g})")
    table.add_row("tokens/s · step MFU", f"{figures.count(lp.tokens_per_s)} · {lp.mfu:.1%}")
    return table


def training_table(plan: RunPlan) -> Table:
    """The recipe (planner.training.recipe) and the failure plan (planner.cost.reliability) in brief."""
    r, f = plan.recipe, plan.reliability
    table = _grid("Recipe and failures")
    decay = {"cosine": f"cosine to {r.min_lr / r.lr:.0%}", "wsd": f"WSD, last {r.lr_wsd_decay_steps or 0:,} steps"}
    table.add_row("batch · steps", f"{figures.count(r.global_batch_tokens)} tokens · {r.train_steps:,}")
    table.add_row("peak LR · decay", f"{r.lr:.3g} · {decay.get(r.lr_decay_style, r.lr_decay_style)}")
    table.add_row("warmup · precision", f"{r.warmup_steps:,} steps · {r.precision}")
    if f is None:
        table.add_row("failures", "no failure plan")
        return table
    spread = ("" if f.interruptions_p10 is None or f.interruptions_p90 is None
              else f" ({f.interruptions_p10:.0f}–{f.interruptions_p90:.0f})")
    table.add_row("interruptions", f"{figures.num(f.expected_interruptions)}{spread}")
    table.add_row("checkpoint", f"every {f.checkpoint_interval_steps:,} steps · {figures.nbytes(f.checkpoint_bytes)}"
                  f" in {figures.num(f.checkpoint_write_s, unit='s')}")
    table.add_row("goodput", f"{f.goodput:.1%} (in the end-to-end MFU)")
    return table


def notes_text(plan: RunPlan) -> Text:
    """Warnings, then the data sources (planner.model.data_sources: the demo corpus named as such)."""
    text = Text()
    text.append("Warnings\n", style="bold")
    for warning in plan.warnings or ["none"]:
        text.append(f"• {warning}\n", style="yellow" if plan.warnings else "dim")
    outlook = outlook_rows(plan)  # serving cost, total cost of ownership, budget use (planner)
    if outlook or plan.hints:
        text.append("Serving, budget and hints\n", style="bold")
        for label, value in outlook:
            text.append(f"• {label}: {value}\n", style="bold red" if label == "FEASIBILITY" else "")
        for hint in plan.hints:
            text.append(f"• hint: {hint}\n", style="cyan")
    text.append("Data\n", style="bold")
    for label, value in data_rows(plan):
        text.append(f"• {value}\n", style="bold yellow" if label == "demo data" else "")
    return text


def assumptions_table(plan: RunPlan) -> Table:
    table = Table(title="Assumptions", title_justify="left", title_style="bold", expand=True,
                  show_edge=False, box=None, padding=(0, 1))
    table.add_column("name", style="dim", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("source", overflow="fold")
    for a in plan.assumptions:
        table.add_row(a.name, f"{figures.value(a.value)} {a.unit}".strip(), a.source)
    if not plan.assumptions:
        table.add_row("none listed", "", "")
    return table


def headline_text(plan: RunPlan) -> Text:
    text = Text.assemble((plan.name, "bold"), "  binding constraint: ", (plan.binding_constraint, "bold"))
    if uses_demo_corpus(plan.data):
        text.append("\ntrains on the DEMO corpus builtin:pydoc: name your data in Data sources (F2)",
                    style="bold yellow")
    if plan.approval is not None:
        text.append(f"\n✓ approved by {plan.approval.approved_by} (sha256 {plan.approval.plan_sha256[:12]}…)",
                    style="bold green")
    return text


class PlanScreen(Screen):
    """Shows `app.plan`; redrawn whenever the app publishes a new plan."""

    CSS_PATH = "plan.tcss"
    TITLE = "Plan"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]
    BINDINGS = [Binding("l", "ladder", "Ladder")]

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="plan-body"):
            yield Static("", id="headline")
            with Grid(id="plan-grid"):
                yield Static("", id="model")
                yield Static("", id="estimate")
                with Vertical(id="layout-box"):
                    yield Static("", id="layout")
                    yield MemoryBar(id="memory")
                yield Static("", id="training")
                yield Static("", id="notes")
            yield Static("", id="assumptions")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.watch(self.app, "plan", self.show_plan)
        self.watch(self.app, "plan_error", self.show_plan)

    def action_ladder(self) -> None:
        """The scaling-law ladder below this plan and its fit (tui/screens/ladder.py)."""
        # deferred: the ladder screen pulls planner.ladder and textual-plotext; kept out of the first paint
        from tui.screens.ladder import LadderScreen

        if self.app.plan is None or self.app.plan_error:
            self.notify("No valid plan to derive a ladder from yet.", severity="warning")
        else:
            self.app.push_screen(LadderScreen())

    def show_plan(self, _: object = None) -> None:
        """The plan, or only the planner's error: a plan for earlier goals is not shown under it."""
        plan: RunPlan | None = self.app.plan
        headline = self.query_one("#headline", Static)
        stale = bool(self.app.plan_error) or plan is None
        self.query_one("#plan-grid").display = not stale
        self.query_one("#assumptions").display = not stale
        if self.app.plan_error:
            headline.update(Text(f"The planner cannot meet these goals:\n{self.app.plan_error}\n"
                                 "(fix the goals on the Goals screen, F2)", style="bold red"))
            return
        if plan is None:
            return
        headline.update(headline_text(plan))
        self.query_one("#model", Static).update(model_table(plan))
        self.query_one("#estimate", Static).update(estimate_table(plan))
        self.query_one("#layout", Static).update(layout_table(plan))
        self.query_one(MemoryBar).memory = plan.layout.memory if plan.layout else None
        self.query_one("#training", Static).update(training_table(plan))
        self.query_one("#notes", Static).update(notes_text(plan))
        self.query_one("#assumptions", Static).update(assumptions_table(plan))
