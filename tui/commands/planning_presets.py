"""Rows and text for `llmplan presets` and `llmplan calibrate` (kept out of planning.py for size)."""

from __future__ import annotations

import presets


def preset_rows(kind: str) -> list[dict]:
    if kind == "gpus":
        return [{"name": g.name, "aliases": ", ".join(g.aliases), "memory_gib": round(g.memory_bytes / 2**30, 1),
                 "bf16_tflops": g.peak_bf16_flops / 1e12, "fp8_tflops": (g.peak_fp8_flops or 0) / 1e12,
                 "tdp_w": g.tdp_w, "usd_per_hour": g.price_per_hour_usd, "date": g.date} for g in presets.load_gpus()]
    if kind == "models":
        return [{"name": name, **{k: v for k, v in m.model_dump().items() if k in (
                 "num_params", "num_layers", "hidden_size", "num_attention_heads", "num_query_groups",
                 "ffn_hidden_size", "vocab_size", "seq_length")}} for name, m in presets.load_models().items()]
    if kind == "regions":
        return [{"name": r.name, "grid_kg_co2_per_kwh": r.grid_kg_co2_per_kwh, "source": r.source}
                for r in presets.load_regions()]
    if kind == "goals":
        return [{"name": n, "description": presets.load_goals_preset(n).description}
                for n in presets.goals_preset_names()]
    keep = ("name", "params", "tokens", "seq_len", "gpu", "n_gpus", "gpu_hours", "mfu", "kind")
    return [{k: row[k] for k in keep} for row in presets.load_catalog().published_runs]


def _pct(value) -> str:
    return "" if value is None else f"{value:+.1%}"


def calibration_text(rows: list[dict], stats: dict) -> str:
    """A pandas table of predicted vs reported figures per run, then the summary lines."""
    import pandas as pd  # deferred: pandas (~0.35 s to import) only for this table

    runs = [{
        "run": r["name"], "gpu": r["gpu"], "gpus": r["num_gpus"],
        "pred_gpu_h": f"{r['predicted_gpu_hours']:,.0f}",
        "rep_gpu_h": "" if r["reported_gpu_hours"] is None else f"{r['reported_gpu_hours']:,.0f}",
        "err_gpu_h": _pct(r["gpu_hours_error"]), "mfu": f"{r['predicted_mfu']:.3f}",
        "pred_MWh": f"{r['predicted_energy_kwh'] / 1000:,.1f}",
        "rep_MWh": "" if r["reported_energy_kwh"] is None else f"{r['reported_energy_kwh'] / 1000:,.1f}",
        "err_energy": _pct(r["energy_error"]),
        "pred_tCO2": f"{r['predicted_co2_kg'] / 1000:,.1f}",
        "rep_tCO2": "" if r["reported_co2_kg"] is None else f"{r['reported_co2_kg'] / 1000:,.1f}",
        "err_co2": _pct(r["co2_error"]),
    } for r in rows if r["kind"] == "run"]
    bench = [{"benchmark": r["name"], "gpus": r["num_gpus"], "pred_mfu_end_to_end": f"{r['predicted_mfu']:.3f}",
              "reported_mfu_steady": "" if r["reported_mfu"] is None else f"{r['reported_mfu']:.3f}"}
             for r in rows if r["kind"] != "run"]
    lines = ["Whole runs (kind=run): predicted vs reported", pd.DataFrame(runs).to_string(index=False), ""]
    for key, label in (("gpu_hours", "GPU-hours"), ("energy_kwh", "energy"), ("co2_kg", "CO2")):
        s = stats[key]
        if s.get("n"):
            lines.append(f"{label}: median |error| {s['median_abs_rel_error']:.1%} over {s['n']} runs; "
                         f"worst off by x{s['max_factor']:.2f}")
    if bench:
        lines += ["", "Throughput benchmarks (kind=throughput): steady-state MFU is above the end-to-end model",
                  pd.DataFrame(bench).to_string(index=False)]
    return "\n".join(lines)
