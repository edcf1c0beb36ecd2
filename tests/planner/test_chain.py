"""The layout-to-dollars chain (planner.chain) and its out-of-sample checks (planner.calibration.crossval).

- GPU-hours = model FLOPs / (peak x end_to_end_mfu), end_to_end_mfu = step_mfu x the overheads;
  step_mfu from the layout's step time (Narayanan et al. 2021, planner.compute.step_time); the failure and
  checkpoint overheads from Daly 2006 (eq. 37 and T_w); MFU as Chowdhery et al. 2022 (PaLM) App. B.
- Anchors: Touvron et al. 2023 (Llama 2, Table 2): 184,320 and 1,720,320 A100-hours for 7B and 70B.
- Out of sample: leave-one-group-out over the throughput benchmarks and the whole published runs.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest

from planner.compute import precision, throughput
from planner.chain import estimate_chain
from planner.calibration.crossval import cross_validation, cv_markdown, fit_all
from planner.model.flops import model_flops_per_token
from planner.compute.layout import search_layouts
from planner.training.recipe import batch_sequences
from planner.resolve import resolve
from planner.schema import Goals
from presets import find_gpu, find_model, load_mfu_model
from presets import load_catalog
from tests.planner.plan_helpers import derive_preset

DOCS = Path(__file__).resolve().parents[2] / "docs" / "planner.md"


@pytest.fixture(scope="module")
def cv() -> dict:
    return cross_validation(load_catalog())


def test_end_to_end_mfu_is_step_mfu_times_the_product_of_the_overheads_on_the_default_plan():
    plan = derive_preset("default")
    e = plan.estimate
    assert [o.name for o in e.overheads] == ["operational_efficiency", "evaluation", "checkpoint_stalls",
                                             "failures_and_restarts"]
    assert e.end_to_end_mfu == pytest.approx(e.step_mfu * math.prod(o.fraction for o in e.overheads), rel=1e-12)
    assert e.mfu == pytest.approx(e.end_to_end_mfu, rel=1e-12)
    # one MFU: the layout the plan shows is the one the step MFU and the dollars come from
    assert plan.layout.mfu == pytest.approx(e.step_mfu, rel=1e-12)
    peak = precision.peak_flops(find_gpu(e.gpu), plan.recipe.precision)
    assert e.gpu_hours == pytest.approx(e.model_flops / (peak * e.end_to_end_mfu) / 3600, rel=1e-9)
    assert all(0 < o.fraction <= 1 and o.source for o in e.overheads)


def test_the_failure_plan_is_the_chains_so_failures_are_counted_once():
    plan = derive_preset("default")
    f, e = plan.reliability, plan.estimate
    failures = next(o for o in e.overheads if o.name == "failures_and_restarts").fraction
    stalls = next(o for o in e.overheads if o.name == "checkpoint_stalls").fraction
    assert f.goodput == pytest.approx(failures * stalls, rel=1e-9)
    assert f.adjusted_wallclock_days == pytest.approx(e.wallclock_days, rel=1e-6)


@pytest.mark.parametrize("name,reported", [("Llama-2-7B", 184_320), ("Llama-2-70B", 1_720_320)])
def test_llama2_gpu_hours_stay_within_15_percent_of_the_published(name, reported):
    goals = Goals(name="anchor", gpu="A100-80GB", seq_len=4096)
    chain = estimate_chain(goals, resolve(goals, load_catalog()), find_model(name), 2e12)
    assert chain.estimate.gpu_hours == pytest.approx(reported, rel=0.15)


def test_estimate_and_layout_use_one_fp8_peak():
    """One precision table (planner.compute.precision): the MFU denominator of `estimate` and of the layout
    search is the fp8 peak for fp8, and memory keeps the same bytes per parameter as bf16."""
    h100 = find_gpu("H100")
    assert throughput.peak_flops(h100, "fp8") == precision.peak_flops(h100, "fp8") == h100.peak_fp8_flops
    model = find_model("Llama-3-8B").model_copy(update={"seq_length": 8192})
    best = search_layouts(model, h100, 8, global_batch_size=128, seq_length=8192, gpus_per_node=8,
                          precision="fp8", top_k=0).best
    flops_per_gpu = best.tokens_per_s * model_flops_per_token(model) / 8
    assert best.mfu == pytest.approx(flops_per_gpu / h100.peak_fp8_flops, rel=1e-9)


@pytest.mark.parametrize("tokens,seq,expected", [(4e6, 4096, 1024), (4_194_304, 4096, 1024), (16e6, 8192, 2048),
                                                 (2e6, 2048, 1024), (3e6, 2048, 1536), (4096, 4096, 1)])
def test_a_token_batch_becomes_a_count_data_parallelism_can_divide(tokens, seq, expected):
    assert batch_sequences(tokens, seq) == expected


def test_a_batch_shorter_than_one_sequence_is_refused():
    with pytest.raises(ValueError, match="shorter than one sequence"):
        batch_sequences(100, 4096)


def test_the_committed_chain_coefficients_equal_a_refit():
    preset = load_mfu_model()
    fitted = fit_all(load_catalog())
    assert fitted["step_model"] == preset["step_model"]
    assert fitted["framework_kernel_efficiency"] == preset["framework_kernel_efficiency"]
    assert fitted["operational_efficiency"] == preset["operational_efficiency"]


def test_step_time_out_of_sample_error_is_at_most_10_percent(cv):
    s = cv["throughput"]["summary"]
    assert s["n"] >= 25
    assert s["median_abs_error"] <= 0.10


def test_whole_run_ranges_from_out_of_sample_residuals_hold_the_truth_70_to_90_percent_of_the_time(cv):
    s = cv["runs"]["summary"]
    assert s["n"] >= 15
    assert 0.70 <= s["coverage"] <= 0.90
    # every prediction was made without its own family: GPT-3 is the only Volta run, so its
    # prediction used no Volta efficiency (the pooled one stood in), while A100 runs had others
    rows = {r["name"]: r for r in cv["runs"]["rows"]}
    assert rows["GPT-3-175B"]["generation_seen"] is False
    assert rows["Llama-2-7B"]["generation_seen"] is True


def test_the_cross_validation_table_in_the_docs_matches_a_fresh_run(cv):
    text = DOCS.read_text(encoding="utf-8")
    committed = re.search(r"<!-- cv-table:start -->\n(.*?)<!-- cv-table:end -->", text, re.S)
    assert committed, "docs/planner.md lacks the cross-validation table markers"
    assert committed.group(1) == cv_markdown(cv), (
        "docs/planner.md's table is stale: run `llmplan calibrate --cv --markdown FILE` and paste it")
