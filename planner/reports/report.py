"""A Markdown report of a RunPlan that a team lead can forward, with two PNG charts beside it.

`render_markdown(plan, out_dir)` writes `out_dir/<plan name>.md`, `cost_breakdown.png` (what the
money goes on, with the p10-p90 range of the total) and `loss_vs_compute.png` (the plan's predicted
loss against its compute, on the Chinchilla compute-optimal frontier of the loss law the planner uses).
matplotlib is the `report` extra and is imported inside the chart functions only.
"""

from __future__ import annotations

from pathlib import Path

from planner.model.data_sources import data_markdown
from planner.model.sizing import compute_optimal
from planner.model.user_law import loss_fit
from planner.errors import PlanInputError
from planner.io import atomic_write_text, canonical_sha256
from planner.reports.report_basic import mfu_chain_text
from planner.schema.catalog import Catalog
from planner.cost.uncertainty import plan_ranges, residuals_of, step_residuals_of, step_time_range
from planner.schema import Range, RunPlan
from planner.units import format_count, format_number, format_usd

COST_CHART = "cost_breakdown.png"
LOSS_CHART = "loss_vs_compute.png"
GIB = 1024**3


def render_markdown(plan: RunPlan, out_dir: str | Path, filename: str | None = None, *, catalog: Catalog) -> Path:
    """Write the report (`filename`, default `<plan name>.md`) and both charts into `out_dir`;
    return the Markdown file's path. Needs matplotlib (`pip install 'llmplan[report]'`)."""
    try:
        import matplotlib  # noqa: F401  # deferred: the `report` extra, checked before any file is written
    except ImportError:
        raise PlanInputError("the Markdown report draws charts with matplotlib: pip install 'llmplan[report]'") from None
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ranges = plan.ranges or _computed_ranges(plan, catalog)
    cost_chart(plan, ranges, out / COST_CHART)
    loss_chart(plan, out / LOSS_CHART)
    path = out / (filename or f"{plan.name}.md")
    atomic_write_text(path, markdown_text(plan, ranges, catalog=catalog))
    path.chmod(0o644)  # a report is meant to be shared
    return path


def _computed_ranges(plan: RunPlan, catalog: Catalog) -> dict[str, Range]:
    return plan_ranges(plan, residuals_of(catalog), catalog.reliability)


def markdown_text(plan: RunPlan, ranges: dict[str, Range], *, catalog: Catalog) -> str:
    """The report body (pure: no files, no charts); `catalog` gives the calibration residuals of the ranges."""
    parts = [
        _header(plan),
        _summary(plan, ranges),
        _goals(plan),
        data_markdown(plan),
        _model(plan),
        _costs(plan, ranges),
        _serving_and_budget(plan),
        _layout(plan, catalog),
        _recipe(plan),
        _reliability(plan),
        _loss(plan),
        _assumptions(plan, catalog),
        _warnings(plan),
    ]
    return "\n\n".join(p for p in parts if p).rstrip() + "\n"


# ---------------------------------------------------------------------------------------------- text


def _cell(value: object) -> str:
    text = str(value).replace("\n", " ").replace("|", "\\|")
    return text if text else " "


def table(headers: list[str], rows: list[list[object]]) -> str:
    """A GitHub-flavoured Markdown table; pipes inside cells are escaped."""
    lines = ["| " + " | ".join(_cell(h) for h in headers) + " |",
             "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def num(x: float, digits: int = 3) -> str:
    """The report's figures (planner.units.format_number): thousands separators for big values,
    significant digits for small, rounded before the form is chosen (999.7 -> `1,000`); from 1e12 on
    the exponent form without `+` (`2.871e23`)."""
    return format_number(x, digits, scientific_from=1e12)


def count_label(n: float) -> str:
    """1.5e9 -> '1.5B', 4e5 -> '400K', 2e12 -> '2T', 999,999.7 -> '1M' (planner.units.format_count)."""
    return format_count(n, kilo="K")


def _with_range(point: float, r: Range | None, prefix: str = "") -> str:
    if r is None:
        return f"{prefix}{num(point)}"
    return f"{prefix}{num(point)} ({prefix}{num(r.p10)} – {prefix}{num(r.p90)})"


def _header(plan: RunPlan) -> str:
    approved = (f"Approved by {plan.approval.approved_by} at {plan.approval.approved_at:%Y-%m-%d %H:%M} UTC."
                if plan.approval else "Not yet approved (`llmplan approve FILE --by NAME`).")
    lines = [f"# Training plan: {plan.name}", ""]
    if plan.infeasible:  # kept by --allow-infeasible (planner.cost.risk)
        lines += ["**INFEASIBLE: this plan cannot run as planned; `llmplan approve` refuses it.**", ""]
        lines += [f"- {why}" for why in plan.infeasible] + [""]
    if plan.description:
        lines += [plan.description, ""]
    lines += [f"Plan sha256 `{canonical_sha256(plan)[:16]}…` · schema v{plan.schema_version} · "
              f"llmplan {plan.llmplan_version or 'dev'}. {approved}"]
    return "\n".join(lines)


def _summary(plan: RunPlan, ranges: dict[str, Range]) -> str:
    e, t = plan.estimate, plan.tokens
    rows = [
        ["Model", f"{count_label(plan.model.num_params)} parameters ({plan.model.num_layers} layers, "
                  f"hidden {plan.model.hidden_size})"],
        ["Training tokens", f"{count_label(t.num_tokens)} ({num(t.tokens_per_param)} per parameter, "
                            f"{num(t.epochs)} epoch{'' if t.epochs == 1 else 's'})"],
        ["Compute", f"{e.model_flops:.3g} model FLOPs"],
        ["Hardware", f"{e.num_gpus} × {e.gpu} at {e.mfu:.1%} end-to-end MFU"],
        *([["MFU", mfu_chain_text(e)]] if e.step_mfu is not None else []),
        ["GPU-hours", _with_range(e.gpu_hours, ranges.get("gpu_hours"))],
        ["Wall-clock days", _with_range(e.wallclock_days, ranges.get("wallclock_days"))],
        ["GPU cost (USD)", _with_range(e.cost_usd, ranges.get("cost_usd"), "$")],
        ["Total cost (USD)", _with_range(e.total_cost_usd, ranges.get("total_cost_usd"), "$")],
        ["Energy (kWh)", _with_range(e.energy_kwh, ranges.get("energy_kwh"))],
        ["CO2 (kg)", _with_range(e.co2_kg, ranges.get("co2_kg"))],
        ["Predicted final loss", f"{e.predicted_loss:.3f} nats/token"],
        ["Binding constraint", plan.binding_constraint],
    ]
    if plan.reliability and plan.reliability.adjusted_wallclock_days:
        r = plan.reliability
        rows.insert(7, ["Failures", f"goodput {r.goodput:.1%}, ~{num(r.expected_interruptions)} interruptions "
                                    "(in the figures above)"])
    text = "## Summary\n\n" + table(["", "Plan (p10 – p90)"], rows)
    return text + "\n\nRanges are p10 – p90; see *How the ranges are computed* under Assumptions."


def _goals(plan: RunPlan) -> str:
    skip = {"data", "evaluation", "schema_version", "description"}
    rows = [[k, "free" if v is None else (num(v) if isinstance(v, float) else v)]
            for k, v in plan.goals.model_dump(mode="json").items() if k not in skip]
    return "## Goals\n\n" + table(["Goal", "Value"], rows)


def _model(plan: RunPlan) -> str:
    m, t = plan.model, plan.tokens
    rows = [[k, f"{v:,}" if isinstance(v, int) and not isinstance(v, bool) and v >= 100_000 else v]
            for k, v in m.model_dump(mode="json").items()]
    token_rows = [[k, num(v)] for k, v in t.model_dump(mode="json", exclude_none=True).items()]
    sources = ", ".join(s.name for s in plan.data.sources)
    return ("## Model and data\n\n" + table(["Shape", "Value"], rows) + "\n\n"
            + table(["Tokens", "Value"], token_rows) + f"\n\nData sources: {sources}; tokenizer "
            f"{plan.data.tokenizer.kind} with {plan.data.tokenizer.vocab_size:,} tokens.")


def _costs(plan: RunPlan, ranges: dict[str, Range]) -> str:
    e = plan.estimate
    names = ["gpu_hours", "wallclock_days", "cost_usd", "energy_kwh", "energy_cost_usd", "co2_kg", "total_cost_usd"]
    rows = []
    for name in names:
        r = ranges.get(name)
        point = getattr(e, name)
        rows.append([name, num(point)] + ([num(r.p10), num(r.p50), num(r.p90)] if r else ["", "", ""]))
    flops = [["flops_per_token", num(e.flops_per_token)], ["model_flops", num(e.model_flops)],
             ["hardware_flops", num(e.hardware_flops)], ["mfu (end to end)", f"{e.mfu:.3f}"],
             *([["step_mfu", f"{e.step_mfu:.3f}"]] if e.step_mfu is not None else []),
             *([[f"overhead: {o.name}", f"{o.fraction:.4f} ({o.source})"] for o in e.overheads]),
             ["tokens_per_s", num(e.tokens_per_s)]]
    return ("## Compute, time and cost\n\n" + table(["Figure", "Point", "p10", "p50", "p90"], rows) + "\n\n"
            + table(["Throughput", "Value"], flops) + f"\n\n![Cost breakdown]({COST_CHART})")


def _layout(plan: RunPlan, catalog: Catalog) -> str:
    if plan.layout is None:
        return "## Parallel layout and memory\n\nNo layout in this plan."
    lay, mem = plan.layout.layout, plan.layout.memory
    rows = [[k, v] for k, v in lay.model_dump(mode="json").items()]
    span = step_time_range(plan.layout.step_time_s, step_residuals_of(catalog))
    rows += [["num_microbatches", lay.num_microbatches],
             ["step_time_s", f"{num(plan.layout.step_time_s)} (p10–p90 {num(span.p10)}–{num(span.p90)})"],
             ["tokens_per_s", num(plan.layout.tokens_per_s)], ["mfu", f"{plan.layout.mfu:.3f}"]]
    parts = ["weights_bytes", "gradients_bytes", "optimizer_bytes", "activations_bytes", "overhead_bytes",
             "total_bytes"]
    mem_rows = [[p.removesuffix("_bytes"), f"{getattr(mem, p) / GIB:.2f}",
                 f"{getattr(mem, p) / mem.capacity_bytes:.1%}"] for p in parts]
    mem_rows.append(["capacity", f"{mem.capacity_bytes / GIB:.2f}", "100.0%"])
    return ("## Parallel layout and memory\n\n" + table(["Layout", "Value"], rows) + "\n\n"
            + "Memory per GPU:\n\n" + table(["Component", "GiB", "of capacity"], mem_rows))


def _recipe(plan: RunPlan) -> str:
    r = plan.recipe
    values = r.model_dump(mode="json", exclude={"choices"})
    rows = [[k, "" if v is None else (num(v) if isinstance(v, float) else v)] for k, v in values.items()]
    text = "## Training recipe\n\n" + table(["Setting", "Value"], rows)
    if r.choices:
        text += "\n\nWhy:\n\n" + table(["Setting", "Reason", "Source"],
                                        [[c.field, c.reason, c.source] for c in r.choices])
    return text


def _reliability(plan: RunPlan) -> str:
    r = plan.reliability
    if r is None:
        return "## Failures and checkpoints\n\nNo failure plan in this plan."
    rows = [
        ["Interruption rate per GPU-hour", f"{r.failures_per_gpu_hour:.3g}"],
        ["Job mean time to interrupt", f"{num(r.job_mtti_hours)} h"],
        ["Checkpoint size", f"{r.checkpoint_bytes / GIB:,.1f} GiB"],
        ["Checkpoint write time", f"{num(r.checkpoint_write_s)} s ({r.storage or 'storage preset'})"],
        ["Restart time", f"{num(r.restart_time_s)} s"],
        ["Young interval sqrt(2δM)", f"{num(r.young_interval_s)} s" if r.young_interval_s else ""],
        ["Daly interval (used)", f"{num(r.daly_interval_s)} s" if r.daly_interval_s else ""],
        ["Checkpoint every", f"{r.checkpoint_interval_steps:,} steps ({num(r.checkpoint_interval_s)} s)"],
        ["Expected interruptions", f"{num(r.expected_interruptions)}" + (
            f" (p10 {num(r.interruptions_p10)} – p90 {num(r.interruptions_p90)})" if r.interruptions_p90 else "")],
        ["Lost wall-clock hours", num(r.lost_hours)],
        ["Goodput", f"{r.goodput:.1%}"],
    ]
    if r.adjusted_wallclock_days is not None:
        rows += [["Days including failures", num(r.adjusted_wallclock_days)],
                 ["GPU cost including failures", f"${num(r.adjusted_cost_usd or 0)} (+${num(r.extra_cost_usd or 0)})"]]
    text = "## Failures and checkpoints\n\n" + table(["", "Value"], rows)
    if r.sources:
        text += "\n\nSources:\n\n" + "\n".join(f"- {s}" for s in r.sources)
    return text


def _loss(plan: RunPlan) -> str:
    return (f"## Predicted loss\n\nPredicted final loss {plan.estimate.predicted_loss:.3f} at "
            f"{plan.estimate.model_flops:.3g} FLOPs. The chart shows the compute-optimal frontier of the "
            f"loss law and the plan's model size at other token counts.\n\n![Loss vs compute]({LOSS_CHART})")


def _assumptions(plan: RunPlan, catalog: Catalog) -> str:
    rows = [[a.name, num(a.value) if isinstance(a.value, float) else a.value, a.unit, a.source, a.used_for]
            for a in plan.assumptions]
    text = "## Assumptions\n\n" + (table(["Assumption", "Value", "Unit", "Source", "Used for"], rows)
                                   if rows else "The plan lists no assumptions.")
    methods = sorted({r.method for r in plan.ranges.values() if r.method}) if plan.ranges else []
    if not methods:
        methods = sorted({r.method for r in _computed_ranges(plan, catalog).values() if r.method})
    text += "\n\n### How the ranges are computed\n\n" + "\n".join(f"- {m}" for m in methods)
    return text


def _serving_and_budget(plan: RunPlan) -> str:
    """Serving cost and total cost of ownership (planner.cost.inference), budget use at goals.confidence
    and the hints (planner.cost.risk)."""
    s, u, parts = plan.serving, plan.budget_use, []
    usd = lambda x: format_usd(x, cents=False)  # noqa: E731 - `$12.5`, `$1.2M`, `-$5k`
    if s is not None:
        rows = [["Tokens served", count_label(s.inference_tokens)],
                ["FLOPs per served token", f"{s.flops_per_token:.3g} (2N + 2 x layers x {s.context_tokens:,} context x hidden)"],
                ["Serving FLOPs", f"{s.serving_flops:.3g}"],
                ["Serving GPU", f"{s.gpu} at {s.utilisation:.0%} utilisation, ${s.price_per_gpu_hour_usd:.3g}/GPU-hour"],
                ["Serving GPU-hours", num(s.gpu_hours)], ["Serving cost", usd(s.cost_usd)],
                ["Training cost", usd(s.training_cost_usd)],
                ["Total cost of ownership", f"{usd(s.total_cost_of_ownership_usd)} ({s.serving_share:.0%} serving)"]]
        parts.append("## Serving and total cost of ownership\n\n" + table(["", "Value"], rows) + "\n\n"
                     "Forward FLOPs per token from Kaplan et al. 2020 (Table 1); inference-aware sizing from "
                     "Sardana & Frankle 2024. Serving energy is not counted; the utilisation and price are "
                     "assumptions listed below.")
    if u is not None:
        rows = [["Confidence", f"{u.confidence} (failures included)"],
                ["Cost at confidence", usd(u.cost_usd_at_confidence)],
                ["Days at confidence", f"{u.days_at_confidence:.3g}"]]
        if u.budget_usd is not None:
            rows += [["Budget", usd(u.budget_usd)], ["Unspent", usd(u.unspent_usd)]]
        if u.useful_compute_usd is not None:
            rows.append(["Compute the data supports usefully", usd(u.useful_compute_usd)])
        if u.deadline_days is not None:
            rows.append(["Deadline (days)", f"{u.deadline_days:g}"])
        parts.append("## Budget and deadline use\n\n" + table(["", "Value"], rows)
                     + "".join(f"\n\n- hint: {h}" if i == 0 else f"\n- hint: {h}" for i, h in enumerate(plan.hints)))
    return "\n\n".join(parts)


def _warnings(plan: RunPlan) -> str:
    if not plan.warnings:
        return ""
    return "## Warnings\n\n" + "\n".join(f"- {w}" for w in plan.warnings)


# -------------------------------------------------------------------------------------------- charts


def cost_chart(plan: RunPlan, ranges: dict[str, Range], path: Path) -> None:
    """Horizontal bars: GPU time, energy, failure overhead and the total with its p10-p90 range."""
    from matplotlib.figure import Figure  # deferred: matplotlib is the `report` extra and costs ~0.5 s
    from matplotlib.ticker import FuncFormatter  # deferred: as matplotlib.figure

    e = plan.estimate
    extra = (plan.reliability.extra_cost_usd or 0.0) if plan.reliability else 0.0
    rented = plan.goals.ownership == "rented"
    labels = ["GPU rental" if rented else "GPU amortisation",
              "Energy (in the rental)" if rented else "Electricity", "Failure overhead", "Total"]
    values = [e.cost_usd, e.energy_cost_usd, extra, e.total_cost_usd + extra]
    fig = Figure(figsize=(7, 3.2), dpi=100)
    ax = fig.add_subplot()
    bars = ax.barh(labels, values, color=["#4C72B0", "#DD8452", "#C44E52", "#55A868"])
    if rented:
        bars[1].set_hatch("//")
        bars[1].set_alpha(0.5)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"${format_count(x)}"))
    ends = list(values)
    total = ranges.get("total_cost_usd")
    if total is not None:
        lo, hi = total.p10 + extra, total.p90 + extra
        ax.errorbar([values[-1]], [3], xerr=[[values[-1] - lo], [hi - values[-1]]], fmt="none",
                    ecolor="black", capsize=4, label="total, p10 – p90")
        ax.legend(loc="upper right", fontsize=8)
        ends[-1] = max(values[-1], hi)
    for bar, v, end in zip(bars, values, ends, strict=True):
        ax.annotate(f"${num(v)}", (end, bar.get_y() + bar.get_height() / 2),
                    xytext=(4, 0), textcoords="offset points", va="center", fontsize=8)
    ax.set_xlim(0, max(ends) * 1.25 or 1.0)
    ax.invert_yaxis()
    ax.set_xlabel("USD")
    ax.set_title(f"{plan.name}: cost breakdown")
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})


def loss_chart(plan: RunPlan, path: Path) -> None:
    """Loss vs compute C = 6ND (log x): the compute-optimal frontier of the plan's loss law
    (planner.model.sizing, Hoffmann et al. 2022 eq. 2 and 4; the user's law from goals.scaling_law when the
    goals carry one, planner.model.user_law), the plan's model size at other token counts, and the plan
    itself with its loss p10-p90 when the law has one."""
    import numpy as np  # deferred: with matplotlib, paid only by the chart
    from matplotlib.figure import Figure  # deferred: matplotlib is the `report` extra and costs ~0.5 s

    law = loss_fit(plan.goals)

    n_plan, d_plan = plan.model.num_params, plan.tokens.num_tokens
    c_plan = 6.0 * n_plan * d_plan
    compute = np.logspace(np.log10(c_plan) - 3, np.log10(c_plan) + 2, 60)
    frontier = [law.loss(*compute_optimal(float(c), law)) for c in compute]
    fixed_n = [law.loss(n_plan, float(c) / (6.0 * n_plan)) for c in compute]
    fig = Figure(figsize=(7, 4.2), dpi=100)
    ax = fig.add_subplot()
    ax.plot(compute, frontier, color="#4C72B0", label=f"compute-optimal frontier ({law.name})")
    ax.plot(compute, fixed_n, color="#8172B2", linestyle="--", label=f"this model size ({count_label(n_plan)})")
    ax.scatter([c_plan], [plan.estimate.predicted_loss], color="#C44E52", zorder=5,
               label=f"this plan: {num(d_plan / n_plan)} tokens/param")
    band = plan.ranges.get("predicted_loss")
    if band is not None:
        ax.errorbar([c_plan], [band.p50], yerr=[[band.p50 - band.p10], [band.p90 - band.p50]], color="#C44E52",
                    capsize=4, zorder=4)
    ax.set_xscale("log")
    ax.set_xlabel("training compute C = 6ND (FLOPs)")
    ax.set_ylabel("predicted loss (nats/token)")
    ax.set_title(f"{plan.name}: predicted loss vs compute")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
