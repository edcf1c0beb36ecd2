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
    from planner.crossval import RUN_BATCH_TOKENS, published_run_chain

    batch = RUN_BATCH_TOKENS.get(row["name"])
    est = published_run_chain(goals, ctx, shape, tokens, round(batch / goals.seq_len) if batch else None).estimate
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


PRIOR_SIZES = (1e9, 7e9, 30e9, 70e9, 200e9)
"""Model sizes on which the sizing prior is fitted to the chain, each at 20 tokens per parameter,
sequence 4096, on the planner's default fleet."""


def _prior_targets(gpu_name: str, prior=None) -> list[tuple[float, int, float]]:
    """(parameters, GPUs, the chain's end-to-end MFU) of the PRIOR_SIZES runs on `gpu_name`; `prior`
    (a MfuModel) picks the default fleet in place of the committed one."""
    goals = Goals(name="prior", gpu=gpu_name, seq_len=4096)
    ctx = resolve_context(goals)
    if prior is not None:
        ctx.mfu_model = prior
    out = []
    for size in PRIOR_SIZES:
        shape = architecture.derive_shape(size, vocab_size=32000, seq_length=4096)
        est = estimate_run(goals, ctx, shape, 20 * shape.num_params)
        out.append((shape.num_params, est.num_gpus, est.mfu))
    return out


def fit_mfu_model(half_sizes: tuple[float, ...] = (2e7, 4e7, 6e7, 8e7, 1e8, 1.5e8, 2e8, 3e8)) -> dict:
    """Refit the sizing prior (planner.throughput.predict_mfu) to the chain (planner.chain).

    The prior guesses a run's end-to-end MFU before a shape, and so a layout, exists (budget-driven
    sizing); the chain then prices the run. For every GPU preset with a layout model (not the CPU
    pseudo-device), the base is the median ratio of the chain's end-to-end MFU to the prior's
    shape factors over PRIOR_SIZES; the shared N_half with the lowest median |error| wins.
    """
    import dataclasses

    import presets
    from planner.throughput import GpuMfu, MfuModel

    preset = MfuModel.from_preset(presets.load_mfu_model())
    gpus = [g for g in presets.load_gpus() if g.generation != "CPU"]
    model, best = preset, None
    for _ in range(3):  # the default fleet the targets run on depends on the prior: iterate to a fixed point
        targets = {g.name: _prior_targets(g.name, model) for g in gpus}
        best = _best_prior(preset, gpus, targets, half_sizes)
        model = dataclasses.replace(preset, gpus={**preset.gpus, **{
            n: GpuMfu(b, best["half_size_params"]) for n, b in best["bases"].items()}})
    return best


def _best_prior(preset, gpus, targets: dict, half_sizes) -> dict:
    import dataclasses

    from planner.throughput import GpuMfu
    best: dict | None = None
    for half in half_sizes:
        bases, ratios = {}, []
        for gpu in gpus:
            unit = dataclasses.replace(preset, gpus={gpu.name: GpuMfu(1.0, half)})
            shape_factor = [throughput_predict(unit, gpu, n, gpus_used) for n, gpus_used, _ in targets[gpu.name]]
            base = statistics.median(mfu / f for f, (_, _, mfu) in zip(shape_factor, targets[gpu.name]))
            bases[gpu.name] = base
            ratios += [base * f / mfu for f, (_, _, mfu) in zip(shape_factor, targets[gpu.name])]
        score = statistics.median(abs(r - 1) for r in ratios)
        if best is None or score < best["median_abs_rel_error"]:
            best = {"half_size_params": half, "median_abs_rel_error": score,
                    "max_factor": max(max(r, 1 / r) for r in ratios),
                    "bases": {n: round(b, 4) for n, b in sorted(bases.items())}}
    return best


def throughput_predict(model, gpu, num_params: float, num_gpus: int) -> float:
    from planner.throughput import default_precision, predict_mfu

    return predict_mfu(model, gpu, num_params=num_params, seq_length=4096, num_gpus=num_gpus,
                       precision=default_precision(gpu))
