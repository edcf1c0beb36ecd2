"""Hypothesis properties of sizing and estimation (planner.derive.size_run + planner.estimate).

For random goals the planner either refuses with a PlanInputError that names a goal field, or
returns a run that respects every stated cap, keeps a stated size within 2%, and whose dollars,
days and FLOPs are consistent with each other.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from planner.compute import throughput

from planner.model import flops
from planner.derive import compute_limits, size_run
from planner.errors import PlanInputError
from planner.estimate import estimate_run
from planner.resolve import resolve
from planner.schema import Goals
from presets import load_catalog

GOAL_FIELDS = ("target_params", "target_tokens", "budget_usd", "budget_gpu_hours", "deadline_days", "num_gpus",
               "objective", "unique_tokens_available")

goals_strategy = st.builds(
    dict,
    gpu=st.sampled_from(["A100", "H100", "A100-40GB", "MI300X", "B200", "V100"]),
    objective=st.sampled_from(["rule-of-thumb-20x", "compute-optimal", "inference-optimal", "fixed-size"]),
    target_params=st.none() | st.floats(1e8, 5e11),
    target_tokens=st.none() | st.floats(1e10, 2e13),
    budget_usd=st.none() | st.floats(1e4, 1e8),
    budget_gpu_hours=st.none() | st.floats(1e3, 1e7),
    deadline_days=st.none() | st.floats(1, 120),
    num_gpus=st.none() | st.sampled_from([8, 64, 512, 4096]),
    unique_tokens_available=st.none() | st.floats(1e10, 1e13),
    inference_tokens=st.sampled_from([0.0, 1e12, 1e14]),
    seq_len=st.sampled_from([2048, 4096, 8192]),
)


@settings(max_examples=25, deadline=None)
@given(goals_strategy)
def test_sizing_respects_caps_and_sizes_or_refuses_naming_a_goal(data):
    goals = Goals(**data)
    ctx = resolve(goals, load_catalog())
    try:
        sized = size_run(goals, ctx)
    except PlanInputError as err:
        assert any(field in str(err) for field in GOAL_FIELDS), str(err)
        return
    est = estimate_run(ctx, sized.model, sized.num_tokens)
    limits = compute_limits(goals, ctx)
    if limits:
        assert est.gpu_hours <= limits[0].gpu_hours * 1.001
    if goals.target_params is not None:
        assert sized.model.num_params == pytest.approx(goals.target_params, rel=0.02)
    if goals.target_tokens is not None:
        assert sized.num_tokens == goals.target_tokens
    assert 0 < est.mfu <= 1
    assert est.model_flops == pytest.approx(flops.model_flops_per_token(sized.model, goals.seq_len) * sized.num_tokens)
    peak = throughput.peak_flops(ctx.gpu, ctx.precision)
    assert est.gpu_hours * 3600 * peak * est.mfu == pytest.approx(est.model_flops, rel=1e-9)
    assert est.wallclock_days * 24 * est.num_gpus == pytest.approx(est.gpu_hours, rel=1e-9)
    assert est.cost_usd == pytest.approx(est.gpu_hours * ctx.gpu.price_per_hour_usd, rel=1e-9)
