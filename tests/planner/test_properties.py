"""Hypothesis properties of the Goals and RunPlan schema (explicit strategies: pydantic v2 has no plugin).

A Goals or RunPlan mapping either validates or fails with errors that each name a field path;
YAML and JSON round-trips of valid objects are identities.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from planner.errors import PlanInputError
from planner.io import parse_text, read_plan, to_data, to_json, to_yaml, validate_as
from planner.schema import Goals, RunPlan

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

odd_numbers = st.sampled_from([0, -1, -1e9, math.nan, math.inf, -math.inf, 1e308, "12", "x", None, True])
positive = st.floats(min_value=1e-3, max_value=1e15, allow_nan=False, allow_infinity=False)
GOAL_FIELDS = {
    "target_params": st.one_of(positive, odd_numbers),
    "target_tokens": st.one_of(positive, odd_numbers),
    "unique_tokens_available": st.one_of(positive, odd_numbers),
    "inference_tokens": st.one_of(positive, st.just(0.0), odd_numbers),
    "budget_usd": st.one_of(positive, odd_numbers),
    "budget_gpu_hours": st.one_of(positive, odd_numbers),
    "deadline_days": st.one_of(positive, odd_numbers),
    "num_gpus": st.one_of(st.integers(min_value=-5, max_value=2_000_000), odd_numbers),
    "seq_len": st.one_of(st.integers(min_value=-10, max_value=2_000_000), odd_numbers),
    "pue": st.one_of(st.floats(min_value=0.5, max_value=4, allow_nan=False), odd_numbers),
    "objective": st.sampled_from(["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size", "best"]),
    "ownership": st.sampled_from(["rented", "owned", "leased"]),
    "name": st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,20}", fullmatch=True), st.text(max_size=5)),
    "schema_version": st.one_of(st.integers(min_value=-1, max_value=3)),
    "mfu": st.one_of(st.floats(min_value=-0.5, max_value=1.5, allow_nan=False), odd_numbers),
    "bogus_field": st.integers(),
}
goal_dicts = st.fixed_dictionaries({}, optional=GOAL_FIELDS)


def _field_paths_are_named(err: ValidationError, model: type) -> None:
    for e in err.errors():
        assert e["loc"], e
        assert e["loc"][0] in model.model_fields or e["loc"][0] == "bogus_field" or e["type"] == "extra_forbidden", e


@SETTINGS
@given(goal_dicts)
def test_goals_validate_or_fail_with_a_field_path(data):
    try:
        goals = Goals.model_validate(data)
    except ValidationError as err:
        _field_paths_are_named(err, Goals)
        with pytest.raises(PlanInputError) as boundary:
            validate_as(Goals, data, "goals.yaml")
        assert all(":" in line for line in boundary.value.lines) or "newer" in str(boundary.value)
        return
    assert goals.schema_version <= 1
    assert math.isfinite(goals.pue)


@SETTINGS
@given(goal_dicts)
def test_valid_goals_round_trip_through_yaml_and_json(data):
    try:
        goals = Goals.model_validate(data)
    except ValidationError:
        return
    assert Goals.model_validate(parse_text(to_yaml(goals))) == goals
    assert Goals.model_validate(json.loads(to_json(goals))) == goals


@pytest.fixture(scope="module")
def tiny_plan_data():
    return to_data(read_plan(Path(__file__).resolve().parents[1] / "fixtures" / "tiny_plan.yaml"))


plan_edits = st.fixed_dictionaries({}, optional={
    ("estimate", "gpu_hours"): st.one_of(positive, odd_numbers),
    ("estimate", "mfu"): st.one_of(st.floats(min_value=-1, max_value=2, allow_nan=False), odd_numbers),
    ("estimate", "co2_kg"): st.one_of(positive, odd_numbers),
    ("model", "num_attention_heads"): st.integers(min_value=-2, max_value=64),
    ("model", "num_query_groups"): st.integers(min_value=-2, max_value=8),
    ("tokens", "epochs"): st.one_of(positive, odd_numbers),
    ("recipe", "lr"): st.one_of(st.floats(min_value=-1, max_value=2, allow_nan=False), odd_numbers),
    ("layout", "layout", "tensor_model_parallel_size"): st.integers(min_value=-1, max_value=16),
    ("name",): st.one_of(st.from_regex(r"[A-Za-z0-9._-]{1,12}", fullmatch=True), st.just("bad name;rm")),
    ("schema_version",): st.integers(min_value=0, max_value=3),
})


def _edited(data: dict, edits: dict) -> dict:
    out = json.loads(json.dumps(data))
    for path, value in edits.items():
        node = out
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
    return out


@SETTINGS
@given(plan_edits)
def test_plans_validate_or_fail_with_a_field_path_and_round_trip(tiny_plan_data, edits):
    data = _edited(tiny_plan_data, edits)
    try:
        plan = RunPlan.model_validate(data)
    except ValidationError as err:
        _field_paths_are_named(err, RunPlan)
        return
    assert RunPlan.model_validate(parse_text(to_yaml(plan))) == plan
    assert RunPlan.model_validate(json.loads(to_json(plan))) == plan
    assert to_yaml(RunPlan.model_validate(parse_text(to_yaml(plan)))) == to_yaml(plan)
