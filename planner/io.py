"""Reading and writing Goals and RunPlan files (YAML or JSON), and the canonical form for hashing."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from planner.errors import PlanInputError, from_validation_error
from planner.schema import SCHEMA_VERSION, Goals, RunPlan
from planner.schema.scaling_law import FitPoint

M = TypeVar("M", bound=BaseModel)


def parse_text(text: str, source: str = "") -> dict:
    """YAML (a superset of JSON) to a mapping, or a PlanInputError naming the line."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PlanInputError(f"malformed YAML{where}: {problem}", source=source) from None
    if not isinstance(data, dict):
        raise PlanInputError(
            f"expected a mapping of fields at the top level, got {type(data).__name__}", source=source
        )
    return data


def _check_version(data: dict, source: str) -> None:
    version = data.get("schema_version", SCHEMA_VERSION)
    if isinstance(version, int) and version > SCHEMA_VERSION:
        raise PlanInputError(
            "file is of a newer schema",
            [f"schema_version: {version} is newer than this llmplan understands "
             f"({SCHEMA_VERSION}); upgrade llmplan"],
            source,
        )


def validate_as(model: type[M], data: dict, source: str = "") -> M:
    _check_version(data, source)
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise from_validation_error(err, f"invalid {model.__name__}", source) from None


def read_model(model: type[M], path: str | Path) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise PlanInputError(f"no such file: {path}") from None
    except (IsADirectoryError, UnicodeDecodeError, PermissionError) as exc:
        raise PlanInputError(f"cannot read {path}: {exc.__class__.__name__}") from None
    return validate_as(model, parse_text(text, str(path)), str(path))


def read_fit_points_csv(path: str | Path) -> tuple[list[FitPoint], list[FitPoint]]:
    """(points to fit, held-out points) from a CSV of num_params,num_tokens,loss[,name][,role].

    role is `fit` (the default) or `holdout`: a holdout row is not fitted; `llmplan ladder fit` predicts
    its loss and compares, as it does a ladder run directory's holdout rung.
    """
    import csv

    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except (IsADirectoryError, UnicodeDecodeError, PermissionError, csv.Error) as exc:
        raise PlanInputError(f"cannot read {path} as CSV: {exc.__class__.__name__}") from None
    fit, holdout = [], []
    for line, r in enumerate(rows, start=2):
        role = (r.get("role") or "fit").strip()
        if role not in ("fit", "holdout"):
            raise PlanInputError(f"{path}:{line}: role is {role!r}; allowed: fit, holdout")
        missing = [k for k in ("num_params", "num_tokens", "loss") if not (r.get(k) or "").strip()]
        if missing:
            raise PlanInputError(f"{path}:{line}: no {', '.join(missing)}; each row needs num_params, num_tokens "
                                 "and loss (positive numbers)")
        fields = {"name": r.get("name") or "", **{k: r[k].strip() for k in ("num_params", "num_tokens", "loss")}}
        point = validate_as(FitPoint, fields, f"{path}:{line}")
        (holdout if role == "holdout" else fit).append(point)
    return fit, holdout


def read_goals(path: str | Path) -> Goals:
    return read_model(Goals, path)


def read_plan(path: str | Path) -> RunPlan:
    return read_model(RunPlan, path)


def to_data(model: BaseModel) -> dict:
    """Plain JSON-compatible data, fields in schema order, defaults included."""
    return model.model_dump(mode="json")


def to_yaml(model: BaseModel) -> str:
    return yaml.safe_dump(to_data(model), sort_keys=False, allow_unicode=True, width=100)


def to_json(model: BaseModel) -> str:
    return json.dumps(to_data(model), indent=2, ensure_ascii=False) + "\n"


LATE_FIELDS: dict[tuple[str, ...], object] = {
    # issue 13: serving cost, budget use, hints, feasibility, confidence
    ("goals", "serving"): {"gpu": None, "utilisation": 0.3, "context_tokens": None, "price_per_gpu_hour_usd": None},
    ("goals", "confidence"): "p80",
    ("goals", "allow_infeasible"): False,
    ("serving",): None, ("budget_use",): None, ("hints",): [], ("infeasible",): [],
    ("goals", "scaling_law"): None,  # --scaling-law
    # issue 12: the layout-to-dollars chain's figures on the estimate
    ("estimate", "step_mfu"): None, ("estimate", "end_to_end_mfu"): None, ("estimate", "overheads"): [],
    ("estimate", "step_time_s"): None,
    # issue 16: continued pretraining (plan --continue-from)
    ("goals", "continue_from"): None, ("tokens", "tokens_seen"): None,
}
"""Fields added to the schema after plans were first approved: left out of the canonical form while
they hold their default, so an approval made before they existed still matches the plan it approved
(a plan read from an older file gets exactly these defaults). Add each new additive field here."""


def _drop_late_defaults(data: dict) -> None:
    for path, default in LATE_FIELDS.items():
        parent = data
        for key in path[:-1]:
            parent = parent.get(key) if isinstance(parent, dict) else None
        if isinstance(parent, dict) and path[-1] in parent and parent[path[-1]] == default:
            del parent[path[-1]]


def canonical_sha256(plan: RunPlan) -> str:
    """sha256 of the plan without its approval block, as sorted compact JSON (LATE_FIELDS at their
    default left out)."""
    data = to_data(plan)
    data.pop("approval", None)
    _drop_late_defaults(data)
    blob = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write to a temp file in the same directory, fsync, then rename over the target."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_model(model: BaseModel, path: str | Path) -> None:
    """YAML for .yaml/.yml, JSON otherwise; written atomically."""
    path = Path(path)
    text = to_json(model) if path.suffix.lower() == ".json" else to_yaml(model)
    atomic_write_text(path, text)
