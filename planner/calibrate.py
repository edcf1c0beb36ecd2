"""Predicted vs reported GPU-hours, energy and CO2 for every published run (presets/published_runs.csv).

Each `kind=run` row is estimated exactly as `llmplan estimate` would (planner.estimate.estimate_run):
the reference shape of the model when presets/models.yaml has it (else a derived shape of the
stated size), the stated tokens, sequence length and GPU, the stated GPU count when the source
gives one (else the planner's default fleet), and the row's PUE and grid intensity when stated.
`kind=throughput` rows compare the predicted end-to-end MFU with the reported steady-state MFU
(which is higher: no restarts, evaluation or checkpoints).

pandas is imported inside `calibration_frame` only, so `llmplan estimate` stays light.
"""

from __future__ import annotations

import csv
import math
import statistics
from pathlib import Path

from planner import architecture
from planner.estimate import Context, estimate_run, resolve_context
from planner.schema import Goals, ModelShape

ALIASES = {"OLMo-7B-Twin-2T": "OLMo-7B"}
"""Rows whose reference shape is listed under another name in presets/models.yaml."""


def _float(value: str) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _shape(name: str, params: float, seq_len: int) -> tuple[ModelShape, str]:
    import presets

    models = presets.load_models()
    key = ALIASES.get(name, name)
    if key in models:
        return models[key].model_copy(update={"seq_length": seq_len}), f"presets/models.yaml {key}"
    shape = architecture.derive_shape(params, vocab_size=32000, seq_length=seq_len)
    return shape, "derived shape"


def _reported_gpu_hours(row: dict) -> float | None:
    hours = _float(row.get("gpu_hours", ""))
    if hours is not None:
        return hours
    days, n = _float(row.get("wallclock_days", "")), _float(row.get("n_gpus", ""))
    return days * 24 * n if days is not None and n is not None else None


def _goals_for(row: dict) -> Goals:
    n = _float(row.get("n_gpus", ""))
    pue = _float(row.get("pue", ""))
    return Goals(
        name="calibration", gpu=row["gpu"], seq_len=int(row["seq_len"]),
        num_gpus=int(n) if n else None, pue=pue if pue else 1.1,
    )


def _ratio_error(predicted: float | None, reported: float | None) -> float | None:
    if predicted is None or reported is None or reported <= 0:
        return None
    return predicted / reported - 1.0


def calibrate_row(row: dict, ctx_cache: dict[str, Context] | None = None) -> dict:
    """One row of the calibration table (see the module docstring); plain numbers, None when unknown."""
    goals = _goals_for(row)
    cache = ctx_cache if ctx_cache is not None else {}
    ctx = cache.get(goals.gpu) or cache.setdefault(goals.gpu, resolve_context(goals))
    params = _float(row["params"])
    shape, shape_source = _shape(row["name"], params, goals.seq_len)
    out = {"name": row["name"], "kind": row["kind"], "gpu": ctx.gpu.name, "params": params,
           "shape": shape_source, "source": row.get("source", "")}
    tokens = _float(row.get("tokens", ""))
    if tokens is None:  # a throughput benchmark: MFU only
        from planner.estimate import mfu_for

        n = goals.num_gpus or ctx.gpu.gpus_per_node
        out.update(num_gpus=n, predicted_mfu=mfu_for(goals, ctx, shape.num_params, n),
                   reported_mfu=_float(row.get("mfu", "")))
        return out
    est = estimate_run(goals, ctx, shape, tokens)
    grid = _float(row.get("grid_kg_per_kwh", "")) or ctx.region.grid_kg_co2_per_kwh
    energy_mwh, co2_t = _float(row.get("energy_mwh", "")), _float(row.get("co2_t", ""))
    reported_hours = _reported_gpu_hours(row)
    out.update(
        tokens=tokens, num_gpus=est.num_gpus, predicted_mfu=est.mfu,
        implied_mfu=(est.mfu * est.gpu_hours / reported_hours) if reported_hours else None,
        reported_gpu_hours=reported_hours, predicted_gpu_hours=est.gpu_hours,
        gpu_hours_error=_ratio_error(est.gpu_hours, reported_hours),
        reported_energy_kwh=energy_mwh * 1000 if energy_mwh is not None else None,
        predicted_energy_kwh=est.energy_kwh,
        energy_error=_ratio_error(est.energy_kwh, energy_mwh * 1000 if energy_mwh is not None else None),
        reported_co2_kg=co2_t * 1000 if co2_t is not None else None,
        predicted_co2_kg=est.energy_kwh * grid,
        co2_error=_ratio_error(est.energy_kwh * grid, co2_t * 1000 if co2_t is not None else None),
    )
    return out


def read_runs(csv_path: str | Path | None = None) -> list[dict]:
    import presets

    path = Path(csv_path) if csv_path else presets.PUBLISHED_RUNS_CSV
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def calibration_table(csv_path: str | Path | None = None) -> list[dict]:
    """Every row of the published runs with predicted and reported figures and relative errors."""
    cache: dict[str, Context] = {}
    return [calibrate_row(row, cache) for row in read_runs(csv_path)]


def summary(rows: list[dict]) -> dict:
    """Median |relative error| of GPU-hours over kind=run rows, the worst ratio, and the same for energy."""
    def stats(key: str) -> dict:
        errors = [r[key] for r in rows if r["kind"] == "run" and r.get(key) is not None]
        if not errors:
            return {"n": 0}
        worst = max(errors, key=lambda e: abs(math.log1p(e)))
        return {"n": len(errors), "median_abs_rel_error": statistics.median(abs(e) for e in errors),
                "worst_ratio": 1 + worst, "max_factor": math.exp(max(abs(math.log1p(e)) for e in errors))}
    return {"gpu_hours": stats("gpu_hours_error"), "energy_kwh": stats("energy_error"), "co2_kg": stats("co2_error")}


def calibration_frame(csv_path: str | Path | None = None):
    """The calibration table as a pandas DataFrame (pandas imported here only)."""
    import pandas as pd

    return pd.DataFrame(calibration_table(csv_path))


def _run_rows(csv_path: str | Path | None) -> list[dict]:
    return [row for row in read_runs(csv_path) if row["kind"] == "run" and _reported_gpu_hours(row)]


def _errors_with(model, rows: list[dict]) -> list[tuple[str, float]]:
    """(GPU name, predicted/reported GPU-hours) per run row under an MFU model."""
    out, cache = [], {}
    for row in rows:
        goals = _goals_for(row)
        if goals.gpu not in cache:
            cache[goals.gpu] = resolve_context(goals)
            cache[goals.gpu].mfu_model = model
        ctx = cache[goals.gpu]
        shape, _ = _shape(row["name"], _float(row["params"]), goals.seq_len)
        est = estimate_run(goals, ctx, shape, _float(row["tokens"]))
        out.append((ctx.gpu.name, est.gpu_hours / _reported_gpu_hours(row)))
    return out


def fit_mfu_model(csv_path: str | Path | None = None, half_sizes: tuple[float, ...] = (
        2e7, 4e7, 6e7, 8e7, 1e8, 1.5e8, 2e8, 3e8)) -> dict:
    """Refit the per-GPU `base` and the shared `half_size_params` on the kind=run rows.

    For each candidate N_half, each GPU's base is set so that the median of its runs'
    predicted/reported GPU-hours is 1 (GPU-hours scale as 1/base), twice, because the default
    fleet (and so the scale factor) depends on the base; the N_half with the lowest median
    |error| wins. Exponents (size, sequence, scale) stay as presets/mfu_model.yaml sets them.
    """
    import dataclasses

    import presets
    from planner.throughput import GpuMfu, MfuModel

    preset = MfuModel.from_preset(presets.load_mfu_model())
    rows = _run_rows(csv_path)
    best: dict | None = None
    for half in half_sizes:
        bases = {name: coeffs.base for name, coeffs in preset.gpus.items()}
        for _ in range(2):
            model = dataclasses.replace(preset, gpus={n: GpuMfu(b, half) for n, b in bases.items()})
            ratios = _errors_with(model, rows)
            for name in {g for g, _ in ratios}:
                bases[name] *= statistics.median(r for g, r in ratios if g == name)
        model = dataclasses.replace(preset, gpus={n: GpuMfu(b, half) for n, b in bases.items()})
        ratios = [r for _, r in _errors_with(model, rows)]
        score = statistics.median(abs(r - 1) for r in ratios)
        if best is None or score < best["median_abs_rel_error"]:
            fitted = {g for g, _ in _errors_with(model, rows)}
            best = {"half_size_params": half, "median_abs_rel_error": score,
                    "max_factor": max(max(r, 1 / r) for r in ratios),
                    "bases": {n: round(bases[n], 4) for n in sorted(fitted)}}
    return best
