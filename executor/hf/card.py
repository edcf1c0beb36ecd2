"""The README model card of an export, filled from the plan and what the run actually spent.

Compute actually spent: the run state's stage attempts (`executor.costs.cost_report`, the same
figures `llmplan status` shows) when RUN_DIR was run by `llmplan execute`; otherwise the training
steps' own `step_time_s` in metrics.jsonl x the plan's devices (training time only). Dollars,
energy and CO2 use the plan's own rates per device-hour (estimate.cost_usd / gpu_hours,
energy_kwh / gpu_hours, co2_kg / energy_kwh), so they compare like for like with the plan.
Evaluation: RUN_DIR/eval/results.json's summary rows (`llmplan evaluate`), when present.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from executor.costs import gpu_hours_so_far, read_metrics
from executor.rundir import read_state, state_path


@dataclass(frozen=True)
class Spent:
    device_hours: float
    cost_usd: float
    energy_kwh: float
    co2_kg: float
    source: str


def spent(plan, run_dir: Path) -> Spent:
    est = plan.estimate
    hours, source = None, ""
    if state_path(run_dir).is_file():
        hours, source = gpu_hours_so_far(read_state(run_dir)), "run state (every stage attempt)"
    if hours is None:
        steps = [m for m in read_metrics(run_dir / "metrics.jsonl") if isinstance(m.get("step_time_s"), int | float)]
        hours = sum(m["step_time_s"] for m in steps) * est.num_gpus / 3600
        source = f"metrics.jsonl: {len(steps)} training steps x {est.num_gpus} devices (training time only)"
    per_hour = 1.0 / est.gpu_hours if est.gpu_hours else 0.0
    kwh = hours * est.energy_kwh * per_hour
    co2 = kwh * (est.co2_kg / est.energy_kwh if est.energy_kwh else 0.0)
    return Spent(hours, hours * est.cost_usd * per_hour, kwh, co2, source)


def eval_rows(run_dir: Path) -> list[dict]:
    path = run_dir / "eval" / "results.json"
    if not path.is_file():
        return []
    return json.loads(path.read_text(encoding="utf-8")).get("llmplan", {}).get("summary", [])


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def _origin_rows(origin: dict | None) -> list[str]:
    if not origin:
        return []
    seen = origin.get("tokens_seen")
    before = f"{seen:,.0f} tokens before import" if seen else "tokens before import not given"
    return [f"| continued from | {origin['hf_dir']} ({before}; `llmplan import-model --tokens-seen`) |"]


def _seen(plan) -> str:
    seen = getattr(plan.tokens, "tokens_seen", None)  # a plan from `llmplan plan --continue-from`
    return f"; continuing after {seen:,.0f} tokens seen, {seen + plan.tokens.num_tokens:,.0f} in all" if seen else ""


def model_card(plan, run_dir: Path, iteration: int, vocab_size: int, origin: dict | None = None) -> str:
    """`origin`: `imported_from.json` of a model imported with `llmplan import-model`, if any."""
    m, r, lay = plan.model, plan.recipe, plan.layout.layout
    trained = iteration * r.global_batch_tokens
    used = spent(plan, run_dir)
    est = plan.estimate
    sources = ", ".join(f"{s.name} ({s.path}, weight {s.weight:g})" for s in plan.goals.data.sources)
    lines = [
        "---", "library_name: transformers", "pipeline_tag: text-generation", "tags: [llmplan, megatron-core, llama]",
        "---", "", f"# {plan.name}", "", plan.description or "", "",
        f"Exported by `llmplan export-model` from step {iteration} of a Megatron-Core run "
        f"(TP={lay.tensor_model_parallel_size}, PP={lay.pipeline_model_parallel_size}, "
        f"DP={lay.data_parallel_size}).", "",
        "## Model", "", "| field | value |", "|---|---|",
        "| architecture | LlamaForCausalLM (SwiGLU, RoPE base 10000, RMSNorm, GQA) |",
        f"| parameters (plan) | {m.num_params:,} |",
        f"| layers / hidden / heads / KV heads / FFN | {m.num_layers} / {m.hidden_size} / {m.num_attention_heads} "
        f"/ {m.num_query_groups} / {m.ffn_hidden_size} |",
        f"| vocabulary / context | {vocab_size} / {m.seq_length} |",
        f"| tied embeddings | {m.tied_embeddings} |", "",
        "## Data and training", "", "| field | value |", "|---|---|",
        f"| data sources | {sources} |",
        f"| tokens planned | {plan.tokens.num_tokens:,.0f} ({plan.tokens.epochs:.2f} epochs of "
        f"{plan.tokens.unique_tokens:,.0f} unique){_seen(plan)} |",
        *_origin_rows(origin),
        f"| tokens trained (this checkpoint) | {trained:,.0f} ({iteration} steps x {r.global_batch_tokens:,.0f}) |",
        f"| recipe | lr {r.lr:.3g} ({r.lr_decay_style}), warmup {r.warmup_steps}, {r.precision}, seed {r.seed} |", "",
        "## Compute, cost and emissions", "", "| | actually spent | plan (full run) |", "|---|---:|---:|",
        f"| {est.gpu} device-hours | {used.device_hours:.4g} | {est.gpu_hours:.4g} |",
        f"| cost (USD) | {used.cost_usd:.4g} | {est.total_cost_usd:.4g} |",
        f"| energy (kWh) | {used.energy_kwh:.4g} | {est.energy_kwh:.4g} |",
        f"| CO2 (kg) | {used.co2_kg:.4g} | {est.co2_kg:.4g} |", "",
        f"Spent from {used.source}; dollars, energy and CO2 at the plan's rates per device-hour.", "",
        "## Evaluation", "",
    ]
    rows = eval_rows(run_dir)
    if rows:
        lines += ["| task | metric | value | stderr | source |", "|---|---|---:|---:|---|"]
        lines += [f"| {x['task']} | {x['metric']} | {_fmt(x['value'])} | {_fmt(x['stderr'])} | {x['source']} |"
                  for x in rows]
    else:
        lines.append("Not evaluated (run `llmplan evaluate RUN_DIR` before exporting to include results).")
    return "\n".join(lines) + "\n"
