"""Predicted vs reported GPU-hours, energy and CO2 for every published run (presets/published_runs.csv).

Each `kind=run` row is estimated exactly as `llmplan estimate` would (planner.estimate.estimate_run):
the reference shape of the model when presets/models.yaml has it (else a derived shape of the
stated size), the stated tokens, sequence length and GPU, the stated GPU count when the source
gives one (else the planner's default fleet), and the row's PUE and grid intensity when stated.
`kind=throughput` rows compare the predicted end-to-end MFU with the reported steady-state MFU
(which is higher: no restarts, evaluation or checkpoints).

The same table and the leave-one-family-out predictions of planner.calibration.crossval give the residuals the
p10-p90 ranges use (`computed_residuals`, `residuals_yaml`: `llmplan calibrate --residuals` writes
presets/calibration_residuals.yaml, which the Catalog carries to planner.cost.uncertainty). Every function
takes the Catalog (presets.load_catalog()); the published rows come from it, or from a CSV the CLI read.

pandas is imported inside `calibration_frame` only, so `llmplan estimate` stays light.
"""

from __future__ import annotations

import dataclasses
import math
import statistics

import yaml

from planner.model import architecture
from planner.chain import mfu_for
from planner.calibration.crossval import (RUN_BATCH_TOKENS, cross_validate_throughput, cross_validation_of_runs,
                              published_run_chain, throughput_rows)
from planner.estimate import estimate_run
from planner.resolve import ResolvedGoals, resolve
from planner.schema import Goals, ModelShape
from planner.schema.catalog import Catalog
from planner.compute.throughput import GpuMfu, MfuModel, default_precision, predict_mfu
from planner.cost.uncertainty import INTERIM_SIGMA_ENERGY, INTERIM_SIGMA_TP, Residuals, summarise

ALIASES = {"OLMo-7B-Twin-2T": "OLMo-7B"}
"""Rows whose reference shape is listed under another name in presets/models.yaml."""


def _float(value: str) -> float | None:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return None
    return out if math.isfinite(out) else None


def _shape(catalog: Catalog, name: str, params: float, seq_len: int) -> tuple[ModelShape, str]:
    models = catalog.model_shapes()
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


def calibrate_row(catalog: Catalog, row: dict, cache: dict[str, ResolvedGoals] | None = None) -> dict:
    """One row of the calibration table (see the module docstring); plain numbers, None when unknown.
    `cache` keeps the goals resolved per GPU (only the GPU differs between the resolved presets)."""
    goals = _goals_for(row)
    cache = cache if cache is not None else {}
    rg = cache.get(goals.gpu) or cache.setdefault(goals.gpu, resolve(goals, catalog))
    params = _float(row["params"])
    shape, shape_source = _shape(catalog, row["name"], params, goals.seq_len)
    out = {"name": row["name"], "kind": row["kind"], "gpu": rg.gpu.name, "params": params,
           "shape": shape_source, "source": row.get("source", "")}
    tokens = _float(row.get("tokens", ""))
    if tokens is None:  # a throughput benchmark: MFU only
        n = goals.num_gpus or rg.gpu.gpus_per_node
        out.update(num_gpus=n, predicted_mfu=mfu_for(goals, rg, shape.num_params, n),
                   reported_mfu=_float(row.get("mfu", "")))
        return out
    batch = RUN_BATCH_TOKENS.get(row["name"])
    est = published_run_chain(goals, rg, shape, tokens, round(batch / goals.seq_len) if batch else None).estimate
    grid = _float(row.get("grid_kg_per_kwh", "")) or rg.region.grid_kg_co2_per_kwh
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


def calibration_table(catalog: Catalog, rows: list[dict] | tuple[dict, ...] | None = None) -> list[dict]:
    """Every row of the published runs (the catalog's, or `rows` read from another CSV by the CLI)
    with predicted and reported figures and relative errors."""
    cache: dict[str, ResolvedGoals] = {}
    return [calibrate_row(catalog, row, cache) for row in (catalog.published_runs if rows is None else rows)]


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


def calibration_frame(catalog: Catalog, rows: list[dict] | None = None):
    """The calibration table as a pandas DataFrame (pandas imported here only)."""
    import pandas as pd  # deferred: pandas costs ~0.3 s of start-up, paid only by this frame

    return pd.DataFrame(calibration_table(catalog, rows))


PRIOR_SIZES = (1e9, 7e9, 30e9, 70e9, 200e9)
"""Model sizes on which the sizing prior is fitted to the chain, each at 20 tokens per parameter,
sequence 4096, on the planner's default fleet."""


def _prior_targets(catalog: Catalog, gpu_name: str, prior=None) -> list[tuple[float, int, float]]:
    """(parameters, GPUs, the chain's end-to-end MFU) of the PRIOR_SIZES runs on `gpu_name`; `prior`
    (a MfuModel) picks the default fleet in place of the committed one."""
    rg = resolve(Goals(name="prior", gpu=gpu_name, seq_len=4096), catalog)
    if prior is not None:
        rg = dataclasses.replace(rg, mfu_model=prior)
    out = []
    for size in PRIOR_SIZES:
        shape = architecture.derive_shape(size, vocab_size=32000, seq_length=4096)
        est = estimate_run(rg, shape, 20 * shape.num_params)
        out.append((shape.num_params, est.num_gpus, est.mfu))
    return out


def fit_mfu_model(catalog: Catalog, half_sizes: tuple[float, ...] = (2e7, 4e7, 6e7, 8e7, 1e8, 1.5e8, 2e8, 3e8)) -> dict:
    """Refit the sizing prior (planner.compute.throughput.predict_mfu) to the chain (planner.chain).

    The prior guesses a run's end-to-end MFU before a shape, and so a layout, exists (budget-driven
    sizing); the chain then prices the run. For every GPU preset with a layout model (not the CPU
    pseudo-device), the base is the median ratio of the chain's end-to-end MFU to the prior's
    shape factors over PRIOR_SIZES; the shared N_half with the lowest median |error| wins.
    """
    preset = MfuModel.from_preset(catalog.mfu_model)
    gpus = [g for g in catalog.gpus if g.generation != "CPU"]
    model, best = preset, None
    for _ in range(3):  # the default fleet the targets run on depends on the prior: iterate to a fixed point
        targets = {g.name: _prior_targets(catalog, g.name, model) for g in gpus}
        best = _best_prior(preset, gpus, targets, half_sizes)
        model = dataclasses.replace(preset, gpus={**preset.gpus, **{
            n: GpuMfu(b, best["half_size_params"]) for n, b in best["bases"].items()}})
    return best


def _best_prior(preset, gpus, targets: dict, half_sizes) -> dict:
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
    return predict_mfu(model, gpu, num_params=num_params, seq_length=4096, num_gpus=num_gpus,
                       precision=default_precision(gpu))


def computed_residuals(catalog: Catalog) -> tuple[Residuals, Residuals]:
    """(GPU-hours, energy) residuals computed now (presets/calibration_residuals.yaml holds them, a
    test checks they agree): GPU-hours from the chain's leave-one-family-out predictions of the whole
    published runs (planner.calibration.crossval, `llmplan calibrate --cv`), energy from the calibration table."""
    try:
        tp = [math.log(r["reported"] / r["predicted"]) for r in cross_validation_of_runs(catalog)]
        _, energy = _published_log_residuals(catalog)
    except (AttributeError, KeyError, ValueError) as exc:
        why = f"calibration unavailable ({exc.__class__.__name__})"
        return (Residuals(0.0, INTERIM_SIGMA_TP, 0, f"interim constant; {why}"),
                Residuals(0.0, INTERIM_SIGMA_ENERGY, 0, f"interim constant; {why}"))
    src = ("out-of-sample log residuals of GPU-hours: the chain's leave-one-family-out predictions of the "
           "published whole runs (planner.calibration.crossval)")
    return (summarise(tp, src, INTERIM_SIGMA_TP),
            summarise(energy, "log residuals of energy vs published runs", INTERIM_SIGMA_ENERGY))


def computed_step_residuals(catalog: Catalog) -> Residuals:
    """Spread of steady-state throughput: the step-time model's leave-one-group-out log residuals
    over the throughput benchmark rows (planner.calibration.crossval)."""
    rows = cross_validate_throughput(throughput_rows(catalog))
    return summarise([math.log(r["reported"] / r["predicted"]) for r in rows],
                     "out-of-sample log residuals of steady-state tokens/s per GPU: the step-time model's "
                     "leave-one-group-out predictions of the throughput benchmarks (planner.calibration.crossval)", INTERIM_SIGMA_TP)


def residuals_yaml(catalog: Catalog, residuals: tuple[Residuals, Residuals] | None = None) -> str:
    """The text of presets/calibration_residuals.yaml for `residuals` (default: computed now)."""
    tp, energy = residuals or computed_residuals(catalog)
    step = computed_step_residuals(catalog)
    body = {name: {"mu": r.mu, "sigma": r.sigma, "n": r.n, "source": r.source}
            for name, r in (("gpu_hours", tp), ("energy", energy), ("step_time", step))}
    return ("# Written by `llmplan calibrate --residuals presets/calibration_residuals.yaml` after any change to\n"
            "# the estimator, the MFU model or published_runs.csv; tests/planner/test_uncertainty.py checks it.\n"
            + yaml.safe_dump(body, sort_keys=False))


def _published_log_residuals(catalog: Catalog) -> tuple[list[float], list[float]]:
    """ln(reported/predicted) of GPU-hours and energy over the kind=run published runs, from the
    calibration table (the same numbers `llmplan calibrate` prints)."""
    rows = [r for r in calibration_table(catalog) if r["kind"] == "run"]
    tp = [_log_ratio(r.get("reported_gpu_hours"), r.get("predicted_gpu_hours")) for r in rows]
    energy = [_log_ratio(r.get("reported_energy_kwh"), r.get("predicted_energy_kwh")) for r in rows]
    return [x for x in tp if x is not None], [x for x in energy if x is not None]


def published_run_predictions(catalog: Catalog, names: tuple[str, ...] | None = None) -> list[dict]:
    """Calibration rows with reported GPU-hours, each with the Goals that plan the same run from
    scratch (size, tokens, sequence length, GPU, GPU count when the source gives it)."""
    runs = {row["name"]: row for row in catalog.published_runs}
    out = []
    for row in calibration_table(catalog):
        if row["kind"] != "run" or row.get("reported_gpu_hours") is None or (names and row["name"] not in names):
            continue
        out.append({**row, "goals": _goals_for_row(runs[row["name"]])})
    return out


def _goals_for_row(row: dict) -> Goals:
    return Goals(
        name="calibration", objective="fixed-size", target_params=float(row["params"]),
        target_tokens=float(row["tokens"]), seq_len=int(row["seq_len"]), gpu=row["gpu"],
        num_gpus=int(row["n_gpus"]) if row["n_gpus"] else None,
        pue=float(row["pue"]) if row["pue"] else 1.1,
    )


def _log_ratio(reported, predicted) -> float | None:
    try:
        reported, predicted = float(reported), float(predicted)
    except (TypeError, ValueError):
        return None
    if not (reported > 0 and predicted > 0) or math.isnan(reported) or math.isnan(predicted):
        return None
    return math.log(reported / predicted)
