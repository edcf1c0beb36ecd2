"""Plain-text and basic Markdown views of a plan (`llmplan show`, `llmplan export --format markdown`).

The full report (charts, ranges, comparisons) lives in planner/reports/report.py; this module keeps the
short summary every command can print without heavy imports.
"""

from __future__ import annotations

from planner.model.data_sources import data_rows
from planner.schema import RunPlan
from planner.units import format_count, format_number, format_scientific


def _num(value: float) -> str:
    """The summary's figures (planner.units.format_number): thousands separators from 100 on
    (`1,234`), three significant digits below (`30.8`), Python's exponent for tiny ones (`2e-05`)."""
    return format_number(value, separators_from=100, python_exponent=True)


def _range(plan: RunPlan, name: str, fmt) -> str:
    """" (p10-p90 LO-HI)" from plan.ranges, or "" when the plan has none for `name`."""
    r = plan.ranges.get(name)
    return f" (p10-p90 {fmt(r.p10)}-{fmt(r.p90)})" if r is not None else ""


def summary_rows(plan: RunPlan) -> list[tuple[str, str]]:
    """(label, value) pairs of the headline figures of a plan, each with its p10-p90 range."""
    m, t, e = plan.model, plan.tokens, plan.estimate
    usd = lambda v: f"${_num(v)}"  # noqa: E731
    rows = [
        ("binding constraint", plan.binding_constraint),
        ("parameters", f"{m.num_params:,} ({m.num_layers} layers, hidden {m.hidden_size}, "
                       f"{m.num_attention_heads} heads, {m.num_query_groups} KV groups, ffn {m.ffn_hidden_size})"),
        ("tokens", f"{format_count(t.num_tokens)} ({t.tokens_per_param:.1f} per parameter, {t.epochs:.2f} epochs)"
                   + (f" after {format_count(t.tokens_seen)} already seen by {plan.goals.continue_from.checkpoint}"
                      if t.tokens_seen is not None and plan.goals.continue_from else "")),
        ("training FLOPs", f"{format_scientific(e.model_flops)} model, {format_scientific(e.hardware_flops)} hardware"),
        ("GPUs", f"{e.num_gpus} x {e.gpu} at end-to-end MFU {e.mfu:.1%}"),
        *mfu_rows(plan),
        ("GPU-hours", _num(e.gpu_hours) + _range(plan, "gpu_hours", _num)),
        ("wall-clock", f"{_num(e.wallclock_days)} days" + _range(plan, "wallclock_days", _num)),
        ("cost", f"${_num(e.cost_usd)} GPU time; total ${_num(e.total_cost_usd)}"
                 + _range(plan, "total_cost_usd", usd)),
        ("energy", f"{_num(e.energy_kwh)} kWh{_range(plan, 'energy_kwh', _num)} (${_num(e.energy_cost_usd)}); "
                   f"{_num(e.co2_kg / 1000)} t CO2{_range(plan, 'co2_kg', lambda v: _num(v / 1000))}"),
        ("predicted loss", f"{e.predicted_loss:.3f} nats/token (Chinchilla-style fit)"),
    ]
    if plan.layout is not None:
        lay = plan.layout.layout
        rows.append(("layout", f"TP {lay.tensor_model_parallel_size} PP {lay.pipeline_model_parallel_size} "
                               f"CP {lay.context_parallel_size} DP {lay.data_parallel_size}, micro-batch "
                               f"{lay.micro_batch_size}, global {lay.global_batch_size}, recompute {lay.recompute}"))
    r = plan.recipe
    rows.append(("recipe", f"{r.precision}, lr {r.lr:.3g} {r.lr_decay_style}, {r.train_steps:,} steps, "
                           f"warmup {r.warmup_steps:,}"))
    rows += data_rows(plan)  # the sources, and the demo corpus named as such
    rows += outlook_rows(plan)
    f = plan.reliability
    if f is not None:
        spread = (f" (p10-p90 {f.interruptions_p10:.0f}-{f.interruptions_p90:.0f})"
                  if f.interruptions_p10 is not None and f.interruptions_p90 is not None else "")
        rows.append(("failures", f"{f.expected_interruptions:.3g} interruptions expected{spread}; checkpoint "
                                 f"every {f.checkpoint_interval_steps:,} steps; goodput {f.goodput:.1%} "
                                 f"(in the MFU chain above: {_num(f.failure_free_hours or 0)} failure-free hours become "
                                 f"{f.adjusted_wallclock_days:.3g} days)"))
    return rows


def mfu_chain_text(e) -> str:
    """`step 56.4% x operational efficiency 0.665 x ... = end-to-end 37.2%` (planner.chain)."""
    factors = " x ".join(f"{o.name.replace('_', ' ')} {o.fraction:.3f}" for o in e.overheads)
    return f"step {e.step_mfu:.1%} x {factors} = end-to-end {e.end_to_end_mfu:.1%}"


def mfu_rows(plan: RunPlan) -> list[tuple[str, str]]:
    """The chain from the layout's steady-state MFU to the end-to-end MFU the dollars use."""
    e = plan.estimate
    if e.step_mfu is None or e.end_to_end_mfu is None:
        return [("MFU", f"{e.mfu:.1%} (goals.mfu: the user's end-to-end MFU)")]
    return [("MFU", mfu_chain_text(e))]


def outlook_rows(plan: RunPlan) -> list[tuple[str, str]]:
    """Serving cost, total cost of ownership and budget use (issue 13), when the plan has them."""
    rows = []
    s, u = plan.serving, plan.budget_use
    if s is not None:
        rows.append(("serving", f"{format_count(s.inference_tokens)} tokens x {format_scientific(s.flops_per_token)} FLOPs = {format_scientific(s.serving_flops)} "
                                f"FLOPs on {s.gpu} at {s.utilisation:.0%} utilisation: {_num(s.gpu_hours)} GPU-hours, "
                                f"${_num(s.cost_usd)}"))
        rows.append(("total cost of ownership", f"${_num(s.total_cost_of_ownership_usd)} (training ${_num(s.training_cost_usd)}"
                                                f" + serving ${_num(s.cost_usd)}, {s.serving_share:.0%} serving)"))
    if u is not None:
        text = f"{u.confidence}: ${_num(u.cost_usd_at_confidence)}, {u.days_at_confidence:.3g} days (failures included)"
        if u.budget_usd is not None:
            text += f"; of budget_usd ${_num(u.budget_usd)}, ${_num(u.unspent_usd)} unspent"
        if u.deadline_days is not None:
            text += f"; deadline {u.deadline_days:g} days"
        rows.append(("budget use", text))
    if plan.infeasible:
        rows.append(("FEASIBILITY", "INFEASIBLE (kept by allow_infeasible): " + "; ".join(plan.infeasible)))
    return rows


def render_text(plan: RunPlan) -> str:
    width = max(len(label) for label, _ in summary_rows(plan))
    lines = [f"plan {plan.name}" + (" (INFEASIBLE)" if plan.infeasible else "")]
    lines += [f"  {label:<{width}}  {value}" for label, value in summary_rows(plan)]
    lines += [f"  warning: {w}" for w in plan.warnings]
    lines += [f"  hint: {h}" for h in plan.hints]
    return "\n".join(lines) + "\n"


def render_markdown(plan: RunPlan) -> str:
    """A basic Markdown report: headline figures, warnings and the assumptions with their sources."""
    out = [f"# Plan `{plan.name}`", "", plan.description or "", "", "| | |", "|---|---|"]
    out += [f"| {label} | {value} |" for label, value in summary_rows(plan)]
    if plan.infeasible:
        out[0] += " (INFEASIBLE)"
    if plan.warnings:
        out += ["", "## Warnings", ""] + [f"- {w}" for w in plan.warnings]
    if plan.hints:
        out += ["", "## Hints", ""] + [f"- {h}" for h in plan.hints]
    out += ["", "## Assumptions", "", "| name | value | unit | source |", "|---|---|---|---|"]
    for a in plan.assumptions:
        out.append(f"| {a.name} | {a.value} | {a.unit} | {a.source.replace('|', '/')} |")
    return "\n".join(out) + "\n"
