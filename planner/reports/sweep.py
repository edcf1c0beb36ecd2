"""Scenario sweeps: vary Goals fields over lists or ranges, plan each scenario, mark the Pareto front.

`parse_vary("num_gpus=64:512:x2")` -> ("num_gpus", [64, 128, 256, 512]). Value grammar:
- a comma list: `gpu=A100-80GB,H100-SXM`, `target_params=1e9,7e9`;
- a geometric range `START:STOP:xF` (multiply by F while <= STOP);
- an arithmetic range `START:STOP:+S` or `START:STOP:S` (add S while <= STOP); `START:STOP` steps by 1.
Nested fields use dots (`data.tokenizer.vocab_size=32000,50000`).

`run_sweep(base, varies, catalog)` plans the Cartesian product of the values and returns a pandas DataFrame,
one row per scenario, with the varied fields, the headline figures and `pareto` (True when no other
feasible scenario is at least as good on cost, days and predicted loss and better on one of them).
The cost on the front is the total cost of ownership: training plus serving goals.inference_tokens
(planner.cost.inference; equal to total_cost_usd without inference), columns serving_cost_usd and
total_cost_of_ownership_usd.
Scenarios whose goals are invalid or infeasible keep their row with `error` set.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections.abc import Callable, Iterable, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from planner.compute import throughput

from planner.cost import inference

from planner.model import architecture
from planner.derive import derive_plan, size_run
from planner.errors import PlanInputError, describe_validation_error
from planner.estimate import estimate_run
from planner.cost.reliability import Z90
from planner.resolve import ResolvedGoals, resolve
from planner.cost.risk import estimate_problems
from planner.schema import Goals
from planner.schema.catalog import Catalog

PARETO_OBJECTIVES = ("total_cost_of_ownership_usd", "wallclock_days", "predicted_loss")
MAX_SCENARIOS = 100_000
RESULT_COLUMNS = (
    "num_params", "num_tokens", "gpu", "num_gpus", "gpu_hours", "wallclock_days", "cost_usd",
    "total_cost_usd", "energy_kwh", "co2_kg", "mfu", "predicted_loss", "binding_constraint",
    "serving_cost_usd", "total_cost_of_ownership_usd",
)
RANGED_COLUMNS = ("gpu_hours", "wallclock_days", "total_cost_usd")
"""Figures whose p10/p90 go into the table as NAME_p10 and NAME_p90."""
Evaluator = Callable[[Goals, Catalog], dict[str, Any]]


def parse_vary(spec: str) -> tuple[str, list[Any]]:
    """`FIELD=VALUES` -> (field, values); PlanInputError naming the flag, the value and the grammar."""
    field, sep, text = spec.partition("=")
    field, text = field.strip(), text.strip()
    if not sep or not field or not text:
        raise PlanInputError(f"--vary {spec!r}: expected FIELD=VALUES, e.g. num_gpus=64:512:x2 or "
                             "gpu=A100-80GB,H100-SXM")
    _check_field(field)
    values = _range(field, text) if ":" in text else [_scalar(v.strip()) for v in text.split(",") if v.strip()]
    if not values:
        raise PlanInputError(f"--vary {field}: no values in {text!r}")
    return field, [_as_field_type(field, v) for v in values]


def _check_field(field: str) -> None:
    model: Any = Goals
    for part in field.split("."):
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            allowed = ", ".join(sorted(fields)) if fields else "(not a section)"
            raise PlanInputError(f"--vary: unknown goals field {field!r}", [f"allowed: {allowed}"])
        model = fields[part].annotation


def _scalar(text: str) -> Any:
    lowered = text.lower()
    if lowered in ("none", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return float(text) if any(c in text for c in ".eE") or not text.lstrip("+-").isdigit() else int(text)
    except ValueError:
        return text


def _range(field: str, text: str) -> list[float]:
    parts = text.split(":")
    if len(parts) not in (2, 3):
        raise PlanInputError(f"--vary {field}: range {text!r} must be START:STOP[:xF|:+S]")
    try:
        start, stop = float(parts[0]), float(parts[1])
        step = parts[2] if len(parts) == 3 else "+1"
        geometric = step[:1] in ("x", "*")
        factor = float(step[1:] if geometric or step.startswith("+") else step)
    except ValueError:
        raise PlanInputError(f"--vary {field}: range {text!r} must be numbers, START:STOP[:xF|:+S]") from None
    if not (math.isfinite(start) and math.isfinite(stop) and stop >= start):
        raise PlanInputError(f"--vary {field}: range {text!r} needs finite START <= STOP")
    if geometric and (start <= 0 or factor <= 1):
        raise PlanInputError(f"--vary {field}: geometric range {text!r} needs START > 0 and factor > 1")
    if not geometric and factor <= 0:
        raise PlanInputError(f"--vary {field}: step in {text!r} must be positive")
    values: list[float] = []
    while len(values) <= MAX_SCENARIOS:
        i = len(values)
        v = start * factor**i if geometric else start + i * factor
        if v > stop * (1 + 1e-9):
            break
        values.append(float(f"{v:.12g}"))
    return values


def _as_field_type(field: str, value: Any) -> Any:
    """Integral floats become ints for int fields (num_gpus=64:512:x2 gives 64, not 64.0)."""
    if isinstance(value, float) and value.is_integer() and _is_int_field(field):
        return int(value)
    return value


def _is_int_field(field: str) -> bool:
    model: Any = Goals
    annotation: Any = None
    for part in field.split("."):
        annotation = model.model_fields[part].annotation
        model = annotation
    text = repr(annotation)
    return "int" in text and "float" not in text


def scenarios(varies: Sequence[tuple[str, list[Any]]]) -> list[dict[str, Any]]:
    """The Cartesian product of the varied values, as {field: value} dicts, first field slowest."""
    names = [name for name, _ in varies]
    if len(set(names)) != len(names):
        raise PlanInputError(f"--vary: a field is varied twice ({', '.join(names)})")
    count = math.prod(len(values) for _, values in varies)
    if count > MAX_SCENARIOS:
        raise PlanInputError(f"--vary: {count:,} scenarios is more than the {MAX_SCENARIOS:,} allowed")
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(v for _, v in varies))]


def _nested_update(data: dict, field: str, value: Any) -> None:
    *parents, leaf = field.split(".")
    for part in parents:
        data = data.setdefault(part, {})
    data[leaf] = value


def scenario_goals(base: Goals, changes: dict[str, Any]) -> Goals:
    """Base goals with `changes` applied and validated (ValidationError on a bad combination).

    Fast path: copy and assign (the schema validates on assignment, ~5x cheaper than validating the
    whole Goals); if an assignment fails, the whole mapping is validated so the error is the same one
    a goals file with these values would give."""
    try:
        goals = base.model_copy()
        for field, value in changes.items():
            *parents, leaf = field.split(".")
            owner = goals
            for part in parents:  # copy the path so the base goals are never changed
                child = getattr(owner, part).model_copy()
                setattr(owner, part, child)
                owner = child
            setattr(owner, leaf, value)
        return goals
    except ValidationError:
        data = base.model_dump()
        for field, value in changes.items():
            _nested_update(data, field, value)
        return Goals.model_validate(data)


def pareto_front(rows: Sequence[Sequence[float]]) -> list[bool]:
    """True for each row that no other row dominates (all <=, one <); minimises every column.

    Rows with a NaN are never on the front. Broadcast over blocks of 256 rows: 1,000 rows take ~10 ms.
    """
    import numpy as np  # deferred: numpy costs ~0.1 s of start-up, paid only by the Pareto front of a sweep

    values = np.asarray(rows, dtype=float)
    if values.size == 0:
        return []
    valid = ~np.isnan(values).any(axis=1)
    pts = values[valid]
    on_front = np.ones(len(pts), dtype=bool)
    for lo in range(0, len(pts), 256):
        block = pts[lo:lo + 256, None, :]           # (b, 1, k): candidates
        le = np.all(pts[None, :, :] <= block, axis=2)  # (b, n): other row is no worse anywhere
        lt = np.any(pts[None, :, :] < block, axis=2)   # (b, n): and better somewhere
        on_front[lo:lo + 256] = ~np.any(le & lt, axis=1)
    front = np.zeros(len(values), dtype=bool)
    front[np.flatnonzero(valid)] = on_front
    return front.tolist()


def evaluate_plan(goals: Goals, catalog: Catalog) -> dict[str, Any]:
    """Full plan through planner.derive.derive_plan (with layout, recipe and failures)."""
    plan = derive_plan(resolve(goals, catalog))
    e = plan.estimate
    row = {
        "num_params": plan.model.num_params, "num_tokens": plan.tokens.num_tokens, "gpu": e.gpu,
        "num_gpus": e.num_gpus, "gpu_hours": e.gpu_hours, "wallclock_days": e.wallclock_days,
        "cost_usd": e.cost_usd, "total_cost_usd": e.total_cost_usd, "energy_kwh": e.energy_kwh,
        "co2_kg": e.co2_kg, "mfu": e.mfu, "predicted_loss": e.predicted_loss,
        "binding_constraint": plan.binding_constraint,
    }
    serving = plan.serving.cost_usd if plan.serving is not None else 0.0
    row.update(serving_cost_usd=serving, total_cost_of_ownership_usd=e.total_cost_usd + serving)
    if plan.infeasible:
        row["infeasible"] = "; ".join(plan.infeasible)
    if plan.reliability is not None and plan.reliability.adjusted_wallclock_days is not None:
        row["days_with_failures"] = plan.reliability.adjusted_wallclock_days
    for name, r in plan.ranges.items():
        if name in RANGED_COLUMNS:
            row[f"{name}_p10"], row[f"{name}_p90"] = r.p10, r.p90
    return row


def run_sweep(base: Goals, varies: Sequence[tuple[str, list[Any]]], catalog: Catalog, evaluate: Evaluator | None = None):
    """One DataFrame row per scenario: varied fields, results, `error` and `pareto` (see module doc)."""
    import pandas as pd  # deferred: pandas costs ~0.3 s of start-up, paid only by sweeps

    evaluate = evaluate or default_evaluator()
    grid = scenarios(varies)
    with memoized_presets_and_shapes():
        records = [_one(base, changes, catalog, evaluate) for changes in grid]
    frame = pd.DataFrame.from_records(records)
    for column in (*RESULT_COLUMNS, "error"):
        if column not in frame:
            frame[column] = None
    ok = frame["error"].isna()
    objectives = frame.loc[:, list(PARETO_OBJECTIVES)].where(ok).astype(float)
    frame["pareto"] = pareto_front(objectives.to_numpy())
    return frame


def _one(base: Goals, changes: dict[str, Any], catalog: Catalog, evaluate: Evaluator) -> dict[str, Any]:
    row: dict[str, Any] = {f"vary.{k}" if k in RESULT_COLUMNS else k: v for k, v in changes.items()}
    try:
        row.update(evaluate(scenario_goals(base, changes), catalog))
        row["error"] = None
    except ValidationError as err:
        row["error"] = "; ".join(describe_validation_error(err))
    except (PlanInputError, ValueError) as err:
        row["error"] = str(err).splitlines()[0]
    return row


def evaluate_estimate(goals: Goals, catalog: Catalog) -> dict[str, Any]:
    """The fast path: size the run and estimate it (planner.derive.size_run and
    planner.estimate.estimate_run), without the layout search, recipe or failure plan."""
    rg = resolve(goals, catalog)
    sized = size_run(goals, rg)
    e = estimate_run(rg, sized.model, sized.num_tokens, unique_tokens=goals.unique_tokens_available)
    row = {
        "num_params": sized.model.num_params, "num_tokens": sized.num_tokens, "gpu": e.gpu,
        "num_gpus": e.num_gpus, "gpu_hours": e.gpu_hours, "wallclock_days": e.wallclock_days,
        "cost_usd": e.cost_usd, "total_cost_usd": e.total_cost_usd, "energy_kwh": e.energy_kwh,
        "co2_kg": e.co2_kg, "mfu": e.mfu, "predicted_loss": e.predicted_loss, "binding_constraint": sized.binding,
    }
    problems = estimate_problems(sized.model.num_params, e, rg.gpu.memory_bytes, rg.precision, rg.gpus_per_node)
    if problems and not goals.allow_infeasible:  # as derive_plan would refuse it (planner.cost.risk)
        raise PlanInputError("the plan cannot run as planned", problems)
    if problems:
        row["infeasible"] = "; ".join(problems)
    row.update(_serving_columns(goals, rg, sized.model, e.total_cost_usd))
    row.update(_throughput_ranges(row, rg))
    return row


def _serving_columns(goals: Goals, rg: ResolvedGoals, model, training_cost_usd: float) -> dict[str, float]:
    """serving_cost_usd and total_cost_of_ownership_usd (planner.cost.inference) for the fast path."""
    serving = 0.0
    if goals.inference_tokens > 0:
        gpu = rg.gpu if goals.serving.gpu is None else rg.catalog.gpu(goals.serving.gpu, "serving.gpu")
        serving = inference.serving_estimate(goals, model, gpu, throughput.default_precision(gpu),
                                             training_cost_usd).cost_usd
    return {"serving_cost_usd": serving, "total_cost_of_ownership_usd": training_cost_usd + serving}


def _throughput_ranges(row: dict[str, Any], rg: ResolvedGoals) -> dict[str, float]:
    """p10/p90 of GPU-hours, days and cost from the calibration residuals (planner.cost.uncertainty); the
    fast path has no failure plan, so the failure model's variance is left out here."""
    tp, _ = rg.residuals
    mu, spread = tp.mu, Z90 * tp.sigma * tp.prediction_factor  # as planner.cost.uncertainty's ranges for a new run
    out = {}
    for name in RANGED_COLUMNS:
        out[f"{name}_p10"] = row[name] * math.exp(mu - spread)
        out[f"{name}_p90"] = row[name] * math.exp(mu + spread)
    return out


_MEMO = {"depth": 0, "original": None}
_MEMO_LOCK = threading.Lock()


@contextmanager
def memoized_presets_and_shapes():
    """Within a sweep, reuse derived shapes (each scenario's goals are resolved anew, planner.resolve):
    derive_shape is a pure function of (target_params, vocab_size, seq_length) and searches ~70 widths, which is most of a scenario's time.
    Callers get copies, so nobody shares a mutable ModelShape. Re-entrant and thread-safe (the TUI
    runs sweeps in workers): the first sweep in installs the memo, the last one out removes it."""
    with _MEMO_LOCK:
        if _MEMO["depth"] == 0:
            original = architecture.derive_shape
            cached = lru_cache(maxsize=4096)(original)

            def derive_shape(target_params, *, vocab_size, seq_length, rules=None):
                return cached(target_params, vocab_size=vocab_size, seq_length=seq_length, rules=rules).model_copy()

            _MEMO["original"] = original
            architecture.derive_shape = derive_shape
        _MEMO["depth"] += 1
    try:
        yield
    finally:
        with _MEMO_LOCK:
            _MEMO["depth"] -= 1
            if _MEMO["depth"] == 0:
                architecture.derive_shape = _MEMO["original"]


def default_evaluator() -> Evaluator:
    """The fast estimate path (1,000 scenarios in well under 2 s); `evaluate_plan` for full plans."""
    return evaluate_estimate


def parse_varies(specs: Iterable[str]) -> list[tuple[str, list[Any]]]:
    return [parse_vary(s) for s in specs]
