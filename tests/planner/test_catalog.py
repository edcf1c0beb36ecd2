"""The Catalog (presets.load_catalog), planner.resolve and the planner's independence from preset files (issue 14)."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from pydantic import ValidationError

import presets.loader
from planner.derive import derive_plan
from planner.errors import PlanInputError
from planner.resolve import ResolvedGoals, resolve
from planner.schema import Goals
from planner.schema.catalog import Catalog
from presets import goals_preset, load_catalog

PLANNER = Path(__file__).resolve().parents[2] / "planner"


def test_the_catalog_is_read_once_and_frozen():
    catalog = load_catalog()
    assert load_catalog() is catalog
    assert {g.name for g in catalog.gpus} >= {"H100-SXM-80GB", "A100-SXM4-80GB"}
    assert catalog.reliability.default_storage in catalog.reliability.storage
    assert catalog.residuals is not None and catalog.residuals.gpu_hours.n >= 12
    assert len(catalog.published_runs) >= 20 and len(catalog.throughput_benchmarks) >= 10
    with pytest.raises(ValidationError):
        catalog.energy = catalog.energy  # frozen: shared by every plan of the process


def test_lookups_match_aliases_and_name_the_field_value_and_choices():
    catalog = load_catalog()
    assert catalog.gpu(" h100_sxm ").name == "H100-SXM-80GB" == presets.loader.find_gpu("H100").name
    with pytest.raises(PlanInputError) as err:
        catalog.gpu("Z80", "serving.gpu")
    assert err.value.headline == "serving.gpu: unknown GPU 'Z80'" and "H100-SXM-80GB" in err.value.lines[0]
    with pytest.raises(PlanInputError, match="region: unknown region 'mars'"):
        catalog.region("mars")
    with pytest.raises(PlanInputError, match="model: unknown preset 'GPT-9'"):
        catalog.model("GPT-9")
    assert catalog.model("llama-2-70b").num_params == catalog.model_shapes()["Llama-2-70B"].num_params


def test_a_malformed_catalog_entry_is_refused_with_its_field():
    data = load_catalog().model_dump()
    data["reliability"]["default_storage"] = "tape"
    with pytest.raises(ValidationError, match="default_storage 'tape' is not among storage"):
        Catalog.model_validate(data)
    del data["mfu_model"]["gpus"]
    data["reliability"]["default_storage"] = "nfs"
    with pytest.raises(ValidationError, match="mfu_model: missing gpus"):
        Catalog.model_validate(data)


def test_resolve_fills_each_default_once_and_records_it():
    rg = resolve(Goals(gpu="H100", budget_usd=1e6), load_catalog())
    assert rg.run_days == load_catalog().energy.default_run_days.value
    assert rg.run_days_source == load_catalog().energy.default_run_days.source
    assert rg.price_per_gpu_hour_usd == rg.gpu.price_per_hour_usd
    assert rg.assumption("price_per_gpu_hour_usd").source.startswith("presets/gpus.yaml typical price")
    assert rg.assumption("checkpoint_storage").value == load_catalog().reliability.default_storage
    owned = resolve(Goals(gpu="H100", deadline_days=7, ownership="owned", gpu_purchase_usd=30000), load_catalog())
    assert owned.run_days == 7 and owned.run_days_source == "goals.deadline_days"
    assert owned.assumption("gpu_purchase_usd").value == 30000 and not owned.has("price_per_gpu_hour_usd")
    with pytest.raises(PlanInputError, match="goals.training.failure_model: 'meteor' is not a preset"):
        resolve(Goals(training={"failure_model": "meteor"}), load_catalog())


def test_derive_plan_is_a_function_of_its_inputs_and_reads_no_preset(monkeypatch):
    goals, pins = goals_preset("tiny-cpu")
    rg = resolve(goals, load_catalog())
    first = derive_plan(rg, pins=pins)

    def no_files(*args, **kwargs):
        raise AssertionError("derive_plan read a preset file")

    monkeypatch.setattr(presets.loader, "_read_yaml", no_files)
    monkeypatch.setattr(presets.loader, "read_csv", no_files)
    again = derive_plan(rg, pins=pins)
    assert again == first and again is not first
    assert [a.name for a in again.assumptions] == [a.name for a in first.assumptions]
    cheaper = dataclasses.replace(rg, price_per_gpu_hour_usd=rg.price_per_gpu_hour_usd / 2)
    assert derive_plan(cheaper, pins=pins).estimate.cost_usd == pytest.approx(first.estimate.cost_usd / 2)
    with pytest.raises(TypeError, match="resolve"):
        derive_plan(goals)


def _imports_and_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                 [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
        found += [f"import {n}" for n in names if n == "presets" or n.startswith("presets.")]
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("open", "read_text", "safe_load", "load") and path.name != "io.py":
                found.append(f"{name}() at line {node.lineno}")
    return found


def test_the_planner_imports_no_presets_and_reads_no_file_but_the_users_plan_files():
    """planner/io.py reads and writes the user's goals and plan files; nothing else under planner/ opens a file."""
    offenders = {str(p.relative_to(PLANNER)): found for p in sorted(PLANNER.rglob("*.py"))
                 if (found := _imports_and_reads(p))}
    assert offenders == {}


def test_resolved_goals_are_immutable():
    rg = resolve(Goals(), load_catalog())
    assert isinstance(rg, ResolvedGoals)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rg.run_days = 1.0
