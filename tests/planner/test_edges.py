"""Plans that hold at the edges (issue 13): data-limited sizing, feasibility, risk warnings and any
goals either planning quickly or failing with a reason (planner.derive, planner.cost.risk)."""

from __future__ import annotations

import math
import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from executor.approval import approve
from planner.derive import derive_plan, plan_problems
from planner.errors import PlanInputError
from planner.compute.layout import validate_plan_layout
from planner.resolve import resolve
from planner.cost.risk import feasibility_problems
from planner.schema import Goals
from presets import find_gpu, load_catalog


@pytest.mark.parametrize("unique", [1, 1e6, 1e8, 1e9, 1e11])
def test_limited_data_plans_fast_with_useful_repeats_or_refuses_with_the_reason(unique):
    goals = Goals(gpu="H100", budget_usd=1e6, unique_tokens_available=unique)
    start = time.perf_counter()
    try:
        plan = derive_plan(resolve(goals, load_catalog()))
    except PlanInputError as exc:
        assert time.perf_counter() - start < 1.0
        assert "unique_tokens_available" in str(exc) and "give at least" in str(exc)
        return
    assert time.perf_counter() - start < 1.0
    assert plan.tokens.epochs <= 16 + 1e-9 and plan.tokens.tokens_per_param >= 1
    assert plan.budget_use.unspent_usd > 0 and plan.budget_use.useful_compute_usd is not None
    assert any(h.startswith("the data supports about $") for h in plan.hints)


def test_a_model_that_fits_no_layout_exits_with_what_would_fit():
    with pytest.raises(PlanInputError, match="more GPUs") as err:
        derive_plan(resolve(Goals(gpu="H100", target_params=1e12, num_gpus=8, objective="fixed-size"), load_catalog()))
    assert "allow_infeasible" in str(err.value)


def test_a_run_of_twenty_thousand_days_is_infeasible():
    with pytest.raises(PlanInputError, match="past 365") as err:
        derive_plan(resolve(Goals(gpu="H100", target_params=1e12, target_tokens=1e12, num_gpus=8), load_catalog()))
    assert "GPUs, or at most" in str(err.value)


def test_allow_infeasible_keeps_the_plan_marked_and_approve_refuses_it():
    plan = derive_plan(resolve(Goals(gpu="H100", target_params=1e12, num_gpus=8, objective="fixed-size", allow_infeasible=True), load_catalog()))
    assert plan.layout is None and plan.infeasible
    assert plan.warnings[0].startswith("INFEASIBLE: layout")
    assert plan_problems(plan) == []
    with pytest.raises(PlanInputError, match="refusing to approve"):
        approve(plan, "alice")


def test_validate_fails_an_unmarked_infeasible_plan_and_shows_a_marked_one(tmp_path, capsys):
    from planner.io import write_model
    from tui.cli import main

    plan = derive_plan(resolve(Goals(gpu="H100", target_params=1e12, num_gpus=8, objective="fixed-size", allow_infeasible=True), load_catalog()))
    marked, unmarked = tmp_path / "marked.yaml", tmp_path / "unmarked.yaml"
    write_model(plan, marked)
    write_model(plan.model_copy(update={"infeasible": []}), unmarked)
    assert main(["validate", str(marked)]) == 0
    assert "INFEASIBLE" in capsys.readouterr().out
    assert main(["validate", str(unmarked)]) == 2
    assert "cannot run as planned" in capsys.readouterr().err
    for fmt in ("megatron-args", "sbatch"):  # no internal error: exit 2 with the reasons
        assert main(["export", str(marked), "--format", fmt]) == 2
        assert "more GPUs" in capsys.readouterr().err


def test_a_fixed_size_plan_whose_p80_misses_the_deadline_warns():
    plan = derive_plan(resolve(Goals(gpu="H100", num_gpus=256, target_params=7e9, target_tokens=5.4e12, deadline_days=30), load_catalog()))
    assert plan.estimate.wallclock_days < 30 < plan.budget_use.days_at_confidence
    assert any(w.startswith("p80 of wallclock_days") for w in plan.warnings)


# -------------------------------------------------------------------- any goals: plan fast or exit 2

EXTREME = st.sampled_from([math.inf, -math.inf, math.nan, 0.0, -1.0, 1e-300, 1e308, 1.0])


def _amount(lo: float, hi: float):
    """None, a value from lo to hi (log-uniform) or, one draw in twelve, an extreme or non-finite one."""
    value = st.floats(math.log10(lo), math.log10(hi)).map(lambda e: 10.0**e)
    return st.one_of(*[st.none()] * 5, *[value] * 6, EXTREME)


GOALS = st.fixed_dictionaries({
    "objective": st.sampled_from(["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size"]),
    "target_params": _amount(1e3, 1e16),
    "target_tokens": _amount(1e3, 1e17),
    "unique_tokens_available": _amount(1, 1e16),
    "inference_tokens": _amount(1, 1e18),
    "budget_usd": _amount(1e-2, 1e13),
    "budget_gpu_hours": _amount(1e-2, 1e11),
    "deadline_days": _amount(1e-3, 1e5),
    "num_gpus": st.none() | st.sampled_from([0, -8, 1, 2, 8, 8, 64, 64, 256, 1024, 16384, 1_000_000, 10**9]),
    "gpu": st.sampled_from(["H100", "H100", "A100-40GB", "CPU", "no-such-gpu"]),
    "seq_len": st.none() | st.sampled_from([0, 1, 128, 2048, 2048, 4096, 4096, 8192, 131072, 1_048_576, 2_000_000]),
    "confidence": st.sampled_from(["p50", "p80", "p90"]),
    "allow_infeasible": st.booleans(),
})
EXAMPLES = int(os.environ.get("LLMPLAN_EDGE_EXAMPLES", "1000"))


@settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(GOALS)
def test_any_goals_plan_within_two_seconds_or_fail_with_a_reason(fields):
    data = {k: v for k, v in fields.items() if v is not None}
    start = time.perf_counter()
    try:
        plan = derive_plan(resolve(Goals.model_validate(data), load_catalog()))
    except (ValidationError, PlanInputError):  # exit 2 at the command line, with the field named
        assert time.perf_counter() - start < 2.0
        return
    assert time.perf_counter() - start < 2.0, data
    assert plan_problems(plan) == [] and validate_plan_layout(plan) == []
    assert plan.layout is not None or plan.infeasible
    assert [p for p in feasibility_problems(plan, find_gpu(plan.estimate.gpu)) if p not in plan.infeasible] == []


REALISTIC = st.fixed_dictionaries({
    "objective": st.sampled_from(["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size"]),
    "target_params": st.none() | st.floats(8, 12).map(lambda e: 10.0**e),
    "unique_tokens_available": st.none() | st.floats(7, 13).map(lambda e: 10.0**e),
    "inference_tokens": st.none() | st.floats(9, 14).map(lambda e: 10.0**e),
    "budget_usd": st.none() | st.floats(3, 8).map(lambda e: 10.0**e),
    "deadline_days": st.none() | st.floats(0, 2.5).map(lambda e: 10.0**e),
    "num_gpus": st.none() | st.sampled_from([8, 64, 256, 1024, 4096]),
    "gpu": st.sampled_from(["H100", "A100", "A100-40GB"]),
    "confidence": st.sampled_from(["p50", "p80", "p90"]),
    "allow_infeasible": st.booleans(),
})


@settings(max_examples=EXAMPLES // 5, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(REALISTIC)
def test_realistic_goals_give_valid_plans_or_a_reason(fields):
    """Ordinary goals (no extremes): most plan, and every plan checks out and names its budget use."""
    data = {k: v for k, v in fields.items() if v is not None}
    if data.get("objective") == "fixed-size":
        data.setdefault("target_params", 7e9)
    try:
        plan = derive_plan(resolve(Goals.model_validate(data), load_catalog()))
    except PlanInputError:
        return
    assert plan_problems(plan) == [] and validate_plan_layout(plan) == []
    assert plan.layout is not None or plan.infeasible
    assert plan.budget_use is not None and plan.tokens.tokens_per_param > 0
    if plan.goals.inference_tokens > 0:
        assert plan.serving is not None and plan.serving.total_cost_of_ownership_usd >= plan.estimate.total_cost_usd


def test_a_plan_approved_before_the_new_fields_existed_still_matches_its_approval(tmp_path):
    import yaml

    from executor.approval import approval_problems
    from planner.io import LATE_FIELDS, read_plan, to_data

    fixture = read_plan("tests/fixtures/tiny_plan.yaml")  # as an older llmplan derived it: no issue 13 sections
    fixture = fixture.model_copy(update={"serving": None, "budget_use": None, "hints": [], "infeasible": [],
                                         "estimate": fixture.estimate.model_copy(update={  # no issue 12 chain
                                             "step_mfu": None, "end_to_end_mfu": None, "overheads": [],
                                             "step_time_s": None})})
    data = to_data(approve(fixture, "alice"))
    for path in LATE_FIELDS:  # the file as an older llmplan wrote it: none of the late fields
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        parent.pop(path[-1])
    old_file = tmp_path / "old.yaml"
    old_file.write_text(yaml.safe_dump(data, sort_keys=False))
    assert approval_problems(read_plan(old_file)) == []


def test_the_late_fields_list_holds_the_schema_defaults():
    from planner.io import LATE_FIELDS, to_data

    data = to_data(derive_plan(resolve(Goals(gpu="H100", target_params=1e9, num_gpus=8), load_catalog())))
    data.update(serving=None, budget_use=None, hints=[], infeasible=[])
    data["estimate"].update(step_mfu=None, end_to_end_mfu=None, overheads=[], step_time_s=None)
    for path, default in LATE_FIELDS.items():
        value = data
        for key in path:
            value = value[key]
        assert value == default, path
