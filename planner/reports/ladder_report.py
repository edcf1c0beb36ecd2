"""Text and Markdown views of a LadderPlan and of a scaling-law fit (pure functions returning text)."""

from __future__ import annotations

from planner.model.sizing import beats_uniform_guess
from planner.schema.ladder import LadderPlan
from planner.schema.scaling_law import PARAM_NAMES, ScalingFit


def _row(r) -> list[str]:
    tp = f"TP{r.layout.tensor_model_parallel_size} DP{r.layout.data_parallel_size}" if r.layout else "no layout"
    return [r.name, r.role, f"{r.num_params:,}", f"{r.num_tokens:.3g}", f"{r.tokens_per_param:g}",
            f"{r.model.num_layers}x{r.model.hidden_size}", f"{r.global_batch_size}x{r.train_steps}",
            f"{r.num_gpus} {tp}", f"{r.gpu_hours:,.3g}", f"${r.cost_usd:,.0f}", f"{r.wallclock_days * 24:,.2g}",
            f"{r.reference_loss:.3f}" if beats_uniform_guess(r.reference_loss, r.model.vocab_size) else "n/a"]


HEAD = ["rung", "role", "params", "tokens", "D/N", "layers x width", "batch x steps", "GPUs, layout",
        "GPU-hours", "cost", "hours", "ref. loss"]


def ladder_markdown(ladder: LadderPlan) -> str:
    """The ladder as a Markdown section (rungs table, totals against the target)."""
    t, tot = ladder.target, ladder.totals
    lines = [f"## Scaling-law ladder: {ladder.name}", "",
             f"For **{t.name}** ({t.num_params:,} parameters, {t.num_tokens:.3g} tokens, {t.gpu_hours:,.0f} "
             f"GPU-hours, ${t.cost_usd:,.0f}). {len(ladder.rungs)} rungs: sizes over {ladder.span_decades:g} "
             f"decades at {', '.join(f'{r:g}' for r in ladder.ratios)} tokens per parameter.", "",
             "| " + " | ".join(HEAD) + " |", "|" + "---|" * len(HEAD)]
    lines += ["| " + " | ".join(_row(r)) + " |" for r in ladder.rungs]
    lines += ["", f"Total: {tot.model_flops:.3g} model FLOPs ({tot.compute_fraction:.2%} of the target's; cap "
              f"{ladder.budget_fraction:.2%}), {tot.gpu_hours:,.3g} GPU-hours, ${tot.cost_usd:,.0f} "
              f"({tot.cost_fraction:.2%} of the target's dollars), {tot.wallclock_days_serial:,.3g} days one "
              "rung after another.", "",
              "ref. loss: what the published law (Besiroglu et al. 2024) predicts; the ladder is there to replace it. "
              "n/a: the law predicts more than ln(vocab_size), a uniform guess, so it does not apply at that size."]
    lines += [f"- warning: {w}" for w in ladder.warnings]
    return "\n".join(lines) + "\n"


def ladder_text(ladder: LadderPlan) -> str:
    """Plain-text table for the terminal."""
    rows = [HEAD] + [_row(r) for r in ladder.rungs]
    widths = [max(len(row[i]) for row in rows) for i in range(len(HEAD))]
    out = ["  ".join(cell.rjust(w) if i > 1 else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths)))
           for row in rows]
    tot = ladder.totals
    out.append(f"total: {tot.gpu_hours:,.3g} GPU-hours, ${tot.cost_usd:,.0f}, {tot.compute_fraction:.2%} of "
               f"{ladder.target.name}'s compute (cap {ladder.budget_fraction:.2%}), {tot.wallclock_days_serial:,.3g} "
               "days serial")
    if not all(beats_uniform_guess(r.reference_loss, r.model.vocab_size) for r in ladder.rungs):
        out.append("ref. loss n/a: the published law predicts more than ln(vocab_size), a uniform guess, at that size")
    out += [f"warning: {w}" for w in ladder.warnings]
    return "\n".join(out) + "\n"


def fit_text(fit: ScalingFit) -> str:
    """The fit: each parameter with its 80% interval, or why the ladder cannot identify it."""
    out = [f"{fit.law_text}: {len(fit.points)} points, {fit.num_bootstrap} bootstrap resamples (seed {fit.seed})"]
    for name in PARAM_NAMES:
        if not fit.identified[name]:
            ep = fit.e_profile if name == "E" else None
            out.append(f"  {name:<6} not identified" + ("" if ep is None else (
                f"; the losses admit any E in [{ep.low:.3g}, {ep.high:.3g}] ({ep.admitted} of {ep.grid_points} "
                "grid values, Bates & Watts 80% profile bound), and every prediction below spans them")))
            continue
        iv = fit.intervals.get(name)
        band = f"  80% interval [{iv.p10:.4g}, {iv.p90:.4g}]" if iv else ""
        out.append(f"  {name:<6} {fit.params[name]:.4g}{band}")
    out += [f"  problem: {p}" for p in fit.problems]
    for p in fit.points:
        pred = "" if p.predicted_loss is None else f"  fitted {p.predicted_loss:.4f} ({p.residual_log:+.2%})"
        pred += "" if p.loo_residual_log is None else f"  left out {p.loo_predicted_loss:.4f} ({p.loo_residual_log:+.2%})"
        out.append(f"  point {p.name or '-':<14} N={p.num_params:.4g} D={p.num_tokens:.4g} loss {p.loss:.4f}{pred}")
    if fit.loo_rms_log_error is not None:
        out.append(f"  out-of-sample error (leave-one-out, rms of log residuals): {fit.loo_rms_log_error:.2%}; "
                   "every predicted p10-p90 spans at least ±1.28 times this")
    for e in fit.extrapolations:
        if e.predicted_loss is None:
            out.append(f"  predict {e.name}: not printed (the law is not identified)")
        else:
            band = f" [p10 {e.interval.p10:.4f}, p90 {e.interval.p90:.4f}]" if e.interval else ""
            out.append(f"  predict {e.name}: N={e.num_params:.4g} D={e.num_tokens:.4g} loss {e.predicted_loss:.4f}{band}")
    return "\n".join(out) + "\n"
