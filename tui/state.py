"""The wizard's bridge to the planner and the executor.

Screens never compute a figure: they call the functions here, which call planner and executor
functions and return their typed results. This module also turns form text into Goals (parsing
"7B" or "2.5e6", mapping pydantic errors back to the form field they belong to).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from pydantic import ValidationError

from executor.approval import approve as approve_plan
from planner import units
from planner.derive import derive_plan
from planner.errors import PlanInputError, describe_validation_error
from planner.model import data_sources
from planner.reports.sweep import evaluate_estimate, run_sweep, scenario_goals
from planner.resolve import resolve
from planner.schema import Goals, Objective, RunPlan
from presets import find_gpu, load_catalog, load_goals_preset, load_gpus, load_models, load_regions
from tui.exporters import EXPORTERS, ExportFormat

OBJECTIVES: tuple[str, ...] = get_args(Objective)
"""The objectives the goals form and the compare table offer: the schema's own `Literal`."""


@dataclass(frozen=True)
class GoalField:
    """One row of the goals form: the Goals field it edits and how it is entered."""

    name: str
    label: str
    kind: Literal["number", "int", "choice", "text"]
    optional: bool = True
    placeholder: str = ""


GOAL_FIELDS: tuple[GoalField, ...] = (
    GoalField("name", "Plan name", "text", optional=False),
    GoalField("objective", "Objective", "choice", optional=False),
    GoalField("budget_usd", "Budget ($)", "number", placeholder="no limit"),
    GoalField("deadline_days", "Deadline (days)", "number", placeholder="no limit"),
    GoalField("gpu", "GPU type", "choice", optional=False),
    GoalField("num_gpus", "GPU count", "int", placeholder="planner picks"),
    GoalField("price_per_gpu_hour_usd", "Price ($/GPU-hour)", "number", placeholder="GPU preset price"),
    GoalField("electricity_price_usd_per_kwh", "Electricity ($/kWh)", "number", optional=False),
    GoalField("region", "Region (grid CO2)", "choice", optional=False),
    GoalField("data", "Data sources", "text", placeholder="path[,format=F][,weight=W]; … (empty: demo corpus)"),
    GoalField("unique_tokens_available", "Unique tokens", "number", placeholder="unlimited"),
    GoalField("target_params", "Target parameters", "number", placeholder="from objective"),
    GoalField("seq_len", "Sequence length", "int", optional=False),
    GoalField("inference_tokens", "Inference tokens", "number", optional=False),
)
FIELD_NAMES = tuple(f.name for f in GOAL_FIELDS)


def parse_number(text: str) -> float:
    """`"7B"` -> 7e9, `"$1,000,000"` -> 1e6, `"2.5e6"` -> 2.5e6: the parser of the CLI flags and goals
    files (planner.units); ValueError naming what is allowed."""
    return units.parse_number(text, allow_negative=True)  # the schema's own rule names a negative value


def format_number(value: float | int | None) -> str:
    """The form text for a goal value, exact: `parse_number(format_number(x)) == x` (`7B`, `1.5M`);
    empty for a goal left unset."""
    return "" if value is None else units.format_count(value, exact=True)


def form_values(goals: Goals) -> dict[str, str]:
    """Goals -> the text of every form field."""
    out = {}
    for f in GOAL_FIELDS:
        value = getattr(goals, f.name)
        out[f.name] = str(value) if f.kind in ("choice", "text") else format_number(value)
    out["gpu"] = canonical_gpu(goals.gpu)
    out["data"] = data_sources.sources_text(goals.data)
    return out


def canonical_gpu(name: str) -> str:
    """The preset's canonical name for a GPU alias (`H100` -> `H100-SXM-80GB`); unknown names as given."""
    try:
        return find_gpu(name).name
    except PlanInputError:
        return name


def goals_from_form(base: Goals, values: dict[str, str]) -> tuple[Goals | None, dict[str, str]]:
    """Apply the form's text to `base`; returns (goals, {}) or (None, {field: message}).

    A field whose text is not a number keeps its base value while the others are checked by the
    schema, so every wrong field gets its message at once.
    """
    data = base.model_dump(mode="json")
    errors: dict[str, str] = {}
    for f in GOAL_FIELDS:
        try:
            value = _field_value(f, values.get(f.name, "").strip(), base)
        except ValueError as exc:
            errors[f.name] = str(exc)
            continue
        data[f.name] = value
    try:
        goals = Goals.model_validate(data)
    except ValidationError as err:
        return None, {**field_messages(err), **errors}
    return (None, errors) if errors else (goals, {})


def _field_value(f: GoalField, text: str, base: Goals) -> float | int | str | dict | None:
    if f.kind == "choice":
        return base.gpu if f.name == "gpu" and text == canonical_gpu(base.gpu) else text
    if f.name == "data":  # `PATH[,format=F][,weight=W]; …`, as `llmplan plan --data` (planner.model.data_sources)
        return {**base.data.model_dump(mode="json"), "sources": data_sources.sources_from_text(text)}
    if f.kind == "text":
        return text
    if not text:
        if f.optional:
            return None
        raise ValueError("required")
    number = parse_number(text)
    return int(number) if f.kind == "int" and number.is_integer() else number


def field_messages(err: ValidationError) -> dict[str, str]:
    """pydantic errors -> {form field: message}; errors of other fields go under `other`."""
    out: dict[str, str] = {}
    for line in describe_validation_error(err):
        path, _, message = line.partition(": ")
        key = path.split(".")[0].split("[")[0]
        if key not in FIELD_NAMES:
            key, message = "other", line
        out[key] = f"{out[key]}; {message}" if key in out else message
    return out


def default_goals() -> Goals:
    """The goals the wizard opens with: the `default` goals preset."""
    return load_goals_preset("default")


def gpu_names() -> list[str]:
    """Canonical names of the GPU presets, in preset order."""
    return [gpu.name for gpu in load_gpus()]


def accelerator_names() -> list[str]:
    """GPU presets without the CPU pseudo-device (`vendor: generic`, there for the tiny demo plan):
    the GPUs a Compare table ranks."""
    return [gpu.name for gpu in load_gpus() if gpu.vendor != "generic"]


def region_names() -> list[str]:
    return [region.name for region in load_regions()]


def derive(goals: Goals) -> RunPlan:
    """The planner's plan for these goals (raises PlanInputError for goals that cannot hold)."""
    return derive_plan(resolve(goals, load_catalog()))


@dataclass(frozen=True)
class Headline:
    """The figures of the goals screen's summary: from the fast estimate or from the full plan."""

    num_params: float
    num_tokens: float
    total_cost_usd: float
    wallclock_days: float
    gpu_hours: float
    predicted_loss: float
    binding_constraint: str
    num_gpus: int
    gpu: str
    num_warnings: int | None = None
    """None for the fast estimate, which has no layout, recipe or warnings yet."""


def quick_headline(goals: Goals) -> Headline:
    """The planner's fast path (size and estimate, no layout search): a few ms, ahead of `derive`."""
    row = evaluate_estimate(goals, load_catalog())
    return Headline(**{name: row[name] for name in _HEADLINE_FIELDS}, num_gpus=row["num_gpus"], gpu=row["gpu"])


def plan_headline(plan: RunPlan) -> Headline:
    est = plan.estimate
    return Headline(plan.model.num_params, plan.tokens.num_tokens, est.total_cost_usd, est.wallclock_days,
                    est.gpu_hours, est.predicted_loss, plan.binding_constraint, est.num_gpus, est.gpu,
                    len(plan.warnings))


_HEADLINE_FIELDS = ("num_params", "num_tokens", "total_cost_usd", "wallclock_days", "gpu_hours",
                    "predicted_loss", "binding_constraint")


def export_plan(plan: RunPlan, path: str | Path, fmt: ExportFormat) -> Path:
    """Write the plan to `path` in `fmt` through the exporter `llmplan export --format FMT -o PATH`
    uses (tui.exporters), so both write the same bytes; Markdown is the full report with its two
    PNG charts beside it. Returns the path written."""
    return EXPORTERS[fmt].write(plan, path)[0]


def approve(plan: RunPlan, approved_by: str, note: str = "", allow_demo_data: bool = False) -> RunPlan:
    """The plan with the same approval block `llmplan approve` writes (executor.approval), with the
    same demo-data rule (planner.model.data_sources.approval_note)."""
    if approved_by.strip():  # a missing name is reported first (executor.approval)
        note = data_sources.approval_note(plan, note, allow_demo_data)
    return approve_plan(plan, approved_by, note)


def demo_data_refusal(plan: RunPlan) -> str | None:
    return data_sources.demo_data_refusal(plan)


def suggested_path(plan: RunPlan, fmt: ExportFormat) -> str:
    return f"{plan.name}-plan{EXPORTERS[fmt].suffix}"


@dataclass(frozen=True)
class Scenario:
    """One compare-table row: the goals it varies and the sweep's figures (or its error)."""

    key: str
    goals: Goals | None
    figures: dict
    error: str = ""
    pareto: bool = False

    def value(self, name: str) -> float | str:
        """The sortable value of a column; rows with an error sort after every other row."""
        value = self.figures.get(name)
        return float("inf") if value is None else value


COMPARE_REFERENCE_MODELS = ("Llama-2-7B", "Llama-2-70B")
"""Reference shapes (presets/models.yaml) whose sizes the compare table adds to the goal's own."""


def compare_varies(goals: Goals) -> list[tuple[str, list]]:
    """GPU types x model sizes x objectives around the current goals."""
    models = load_models()
    sizes = [goals.target_params] + [float(models[n].num_params) for n in COMPARE_REFERENCE_MODELS]
    return [("gpu", accelerator_names()), ("target_params", list(dict.fromkeys(sizes))),
            ("objective", list(OBJECTIVES))]


def scenarios(goals: Goals) -> list[Scenario]:
    """The planner's sweep (planner.reports.sweep.run_sweep) of `compare_varies(goals)`, one row each."""
    varies = compare_varies(goals)
    names = [name for name, _ in varies]
    frame = run_sweep(goals, varies, load_catalog())
    out = []
    for i, record in enumerate(frame.to_dict("records")):
        row = {k: (None if isinstance(v, float) and v != v else v) for k, v in record.items()}
        changes = {name: row[f"vary.{name}"] if f"vary.{name}" in row else row[name] for name in names}
        error = row.get("error") or ""
        varied = None if error else scenario_goals(goals, changes)
        row.update({"gpu": changes["gpu"], "objective": changes["objective"],
                    "target_params": changes["target_params"]})
        out.append(Scenario(f"s{i}", varied, row, error, bool(row.get("pareto"))))
    return out


def sort_scenarios(rows: list[Scenario], key: str, reverse: bool = False) -> list[Scenario]:
    """Sorted by one column; scenarios with an error always last."""
    ok = sorted((s for s in rows if not s.error), key=lambda s: s.value(key), reverse=reverse)
    return ok + [s for s in rows if s.error]
