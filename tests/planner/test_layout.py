"""Layout search (planner.compute.layout) and step-time model (planner.compute.step_time).

Calibration: Narayanan et al. 2021 (SC'21, arXiv 2104.04473), Table 1, the rows of
../shared/calibration/published_runs.csv (copied to presets/published_runs.csv): TFLOP/s per GPU
counted with eq. 3, F = 96·B·s·L·h²·(1 + s/(6h) + V/(16·L·h)) per iteration (full recompute).
Llama 3 405B: Llama Team 2024, "The Llama 3 Herd of Models", Table 4 (TP8 PP16 DP128 on 16,384 H100).
"""

from __future__ import annotations

import csv
import re
from dataclasses import replace

import pytest

from planner.model.architecture import make_shape
from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.layout_advice import no_fit_message
from planner.schema import ParallelLayout
from planner.compute.step_time import MEGATRON_2021, pipeline_terms, step_time
from planner.compute.cluster import cluster_from_gpu
from presets import PUBLISHED_RUNS_CSV, find_model, load_catalog
from tests.planner.hardware_fixtures import A100_80GB, H100_80GB

PAPER_SPACE = SearchSpace(recompute_modes=("full",), distributed_optimizer=(False,), sequence_parallel=False,
                          max_context_parallel=1, max_virtual_stages=1, allow_uneven_pipeline=False)
"""The paper's setting: full recompute, no distributed optimizer, no sequence or context parallelism
and no uneven pipeline split (none existed in 2021), the 1F1B schedule (Table 1 gives no
virtual-stage count)."""


def _narayanan_rows() -> list[dict]:
    rows = []
    with open(PUBLISHED_RUNS_CSV, newline="") as fh:
        for r in csv.DictReader(fh):
            if not r["source"].startswith("Narayanan"):
                continue
            notes = r["notes"]

            def num(key: str, notes: str = notes) -> int:
                return int(re.search(key + r" (\d+)", notes).group(1))

            tp, pp = map(int, re.search(r"TP(\d+) PP(\d+)", notes).groups())
            rows.append(dict(name=r["name"], heads=num("heads"), hidden=num("hidden"), layers=num("layers"),
                             batch=num("batch"), vocab=num("vocab"), seq=num("seq"), tp=tp, pp=pp,
                             num_gpus=int(r["n_gpus"]), tflops=float(r["tflops_per_gpu"])))
    return rows


NARAYANAN = _narayanan_rows()


def test_the_calibration_csv_holds_all_ten_narayanan_table_1_rows():
    assert len(NARAYANAN) == 10


@pytest.mark.parametrize("row", NARAYANAN, ids=[r["name"] for r in NARAYANAN])
def test_narayanan_table_1_layout_and_tflops_are_reproduced(row):
    """Chosen TP and PP each within a factor of 2 of the paper's; TFLOP/s per GPU within 15%."""
    h, L, s, V, B = row["hidden"], row["layers"], row["seq"], row["vocab"], row["batch"]
    model = make_shape(num_layers=L, hidden_size=h, num_attention_heads=row["heads"],
                       num_query_groups=row["heads"], ffn_hidden_size=4 * h, vocab_size=V, seq_length=s,
                       activation="gelu", position_embedding="learned", normalization="LayerNorm",
                       tied_embeddings=True, add_bias_linear=True)
    result = search_layouts(model, A100_80GB, row["num_gpus"], global_batch_size=B, seq_length=s,
                            gpus_per_node=8, space=PAPER_SPACE, step_model=MEGATRON_2021, top_k=0)
    best = result.best.layout
    assert max(best.tensor_model_parallel_size, row["tp"]) / min(best.tensor_model_parallel_size, row["tp"]) <= 2
    assert max(best.pipeline_model_parallel_size, row["pp"]) / min(best.pipeline_model_parallel_size, row["pp"]) <= 2
    eq3_flops = 96 * B * s * L * h * h * (1 + s / (6 * h) + V / (16 * L * h))
    tflops = eq3_flops / result.best.step_time_s / row["num_gpus"] / 1e12
    assert tflops == pytest.approx(row["tflops"], rel=0.15)


def test_llama2_70b_on_2048_a100_at_seq_4096_and_4m_tokens_gets_a_fitting_layout():
    model = find_model("Llama-2-70B")
    result = search_layouts(model, A100_80GB, 2048, global_batch_size=1024, seq_length=4096, gpus_per_node=8)
    best = result.best
    assert best is not None and best.layout.num_gpus == 2048
    assert best.memory.total_bytes <= A100_80GB.memory_bytes * (1 - best.memory.headroom_fraction)
    assert 0.3 < best.mfu < 0.6


def test_a_405b_model_on_16384_h100_at_seq_8192_and_16m_tokens_uses_tp8_and_pp_at_least_8():
    """Llama 3 405B trained with TP8, PP16 (Llama Team 2024, Table 4: 400 TFLOP/s/GPU, 41% MFU)."""
    model = find_model("Llama-3-405B")
    result = search_layouts(model, H100_80GB, 16384, global_batch_size=2048, seq_length=8192, gpus_per_node=8)
    best = result.best
    assert best.layout.tensor_model_parallel_size == 8
    assert best.layout.pipeline_model_parallel_size >= 8
    assert best.memory.total_bytes <= H100_80GB.memory_bytes * 0.95
    assert best.mfu == pytest.approx(0.41, abs=0.08)


TINYISH = make_shape(num_layers=12, hidden_size=768, num_attention_heads=12, num_query_groups=12,
                     ffn_hidden_size=3072, vocab_size=50304, seq_length=1024, activation="gelu")


def _rejected(**kw):
    args = dict(global_batch_size=64, seq_length=1024, gpus_per_node=8, top_k=3)
    args.update(kw)
    num_gpus = args.pop("num_gpus", 16)
    model = args.pop("model", TINYISH)
    return search_layouts(model, A100_80GB, num_gpus, **args)


def test_tp_that_does_not_divide_the_heads_is_rejected():
    result = _rejected(num_gpus=24, gpus_per_node=24)  # TP 8, 24 do not divide 12 heads
    assert result.rejected["tp_heads"] > 0
    assert all(12 % a.plan.layout.tensor_model_parallel_size == 0 for a in result.alternatives)


def test_tp_that_does_not_divide_the_kv_groups_is_rejected():
    gqa = TINYISH.model_copy(update={"num_query_groups": 2})
    result = _rejected(model=gqa)
    assert result.rejected["tp_query_groups"] > 0
    assert result.best.layout.tensor_model_parallel_size <= 2


def test_tp_that_does_not_divide_the_ffn_width_is_rejected():
    odd_ffn = make_shape(num_layers=12, hidden_size=768, num_attention_heads=12, num_query_groups=12,
                         ffn_hidden_size=3074, vocab_size=50304, seq_length=1024, activation="gelu")
    result = _rejected(model=odd_ffn)
    assert result.rejected["tp_ffn"] > 0
    assert result.best.layout.tensor_model_parallel_size <= 2


def test_tp_that_does_not_divide_the_node_is_rejected():
    result = _rejected(num_gpus=12, gpus_per_node=4, global_batch_size=48)
    assert result.rejected["tp_node"] > 0  # TP 3 with 4 GPUs per node


def test_pipeline_sizes_that_do_not_split_the_layers_are_rejected():
    result = _rejected(model=TINYISH.model_copy(update={"num_layers": 7}), num_gpus=16)
    assert result.rejected["pp_layers"] > 0  # PP 2, 4, 8, 16 on 7 layers


def test_global_batch_not_divisible_by_micro_batch_times_dp_is_rejected():
    result = _rejected(global_batch_size=24)
    assert result.rejected["batch"] > 0
    best = result.best.layout
    assert 24 % (best.micro_batch_size * best.data_parallel_size) == 0


def test_context_parallel_that_does_not_split_the_sequence_is_rejected():
    result = _rejected(seq_length=1000)  # 2 x CP must divide 1000: CP 8, 16 fail
    assert result.rejected["cp_sequence"] > 0
    assert 1000 % (2 * result.best.layout.context_parallel_size) == 0 or result.best.layout.context_parallel_size == 1


def test_interleaving_needs_micro_batches_in_multiples_of_the_pipeline():
    result = _rejected(global_batch_size=40, num_gpus=8)
    assert result.rejected["interleave_microbatches"] > 0


def test_every_enumerated_layout_is_counted_once():
    result = _rejected(seq_length=1000, global_batch_size=24)
    assert result.num_fitting > 0 and len(result.rejected) >= 2
    assert result.evaluated == result.num_fitting + sum(result.rejected.values())


def test_layouts_that_do_not_fit_are_counted_and_nothing_returned_shows_the_shortfall():
    model = find_model("Llama-2-70B")
    result = search_layouts(model, A100_80GB, 8, global_batch_size=64, seq_length=4096, gpus_per_node=8)
    assert result.best is None
    assert result.rejected["out_of_memory"] > 0
    message = no_fit_message(result)
    assert "GiB more than the" in message
    assert "a larger GPU: at least" in message
    assert re.search(r"more GPUs: \d+ GPUs", message)


def test_alternatives_are_slower_or_equal_and_say_why_they_lost():
    result = search_layouts(find_model("Llama-2-70B"), A100_80GB, 256, global_batch_size=512, seq_length=4096,
                            gpus_per_node=8, top_k=5)
    assert len(result.alternatives) == 5
    for alt in result.alternatives:
        assert alt.plan.step_time_s >= result.best.step_time_s
        assert "slower than the best" in alt.why_lost or "ties" in alt.why_lost


def _llama70b_tp8_pp8_dp4(recompute: str):
    """Llama-2-70B on 256 A100-80GB (TP8 PP8 DP4, 128 sequences per step) and its cluster."""
    layout = ParallelLayout(tensor_model_parallel_size=8, pipeline_model_parallel_size=8, data_parallel_size=4,
                            global_batch_size=128, recompute=recompute)
    return find_model("Llama-2-70B"), layout, cluster_from_gpu(A100_80GB)


def test_the_bubble_follows_p_minus_1_over_v_m():
    """Narayanan et al. 2021, §2.2: bubble fraction (p−1)/m, interleaved (p−1)/(v·m)."""
    model, layout, cluster = _llama70b_tp8_pp8_dp4("full")
    plain = step_time(model, layout, A100_80GB, cluster, params_per_gpu=1e9)
    inter = step_time(model, layout.model_copy(update={"virtual_pipeline_model_parallel_size": 5}), A100_80GB,
                      cluster, params_per_gpu=1e9)
    assert plain.bubble_fraction == pytest.approx(7 / 32)
    assert inter.bubble_fraction == pytest.approx(7 / (5 * 32))
    assert inter.bubble_s < plain.bubble_s


def test_data_parallel_traffic_over_the_network_costs_more_than_over_nvlink():
    model = find_model("Llama-2-7B")
    layout = ParallelLayout(data_parallel_size=8, global_batch_size=64)
    one_node = step_time(model, layout, A100_80GB, cluster_from_gpu(A100_80GB, 8), params_per_gpu=7e9)
    spread = step_time(model, layout, A100_80GB, cluster_from_gpu(A100_80GB, 1), params_per_gpu=7e9)
    assert spread.dp_comm_s > 5 * one_node.dp_comm_s


def test_cluster_presets_load_with_their_sources():
    dgx = load_catalog().cluster("DGX-H100")
    assert dgx.gpus_per_node == 8 and dgx.inter_node_bandwidth_bytes_per_s == 50e9
    assert "DGX H100" in dgx.source
    with pytest.raises(ValueError, match="unknown cluster 'dgx-z'; known clusters: dgx-a100"):
        load_catalog().cluster("dgx-z")


def test_non_positive_sizes_are_rejected():
    with pytest.raises(ValueError, match=r"num_gpus \(0\) must be a positive integer"):
        search_layouts(TINYISH, A100_80GB, 0, global_batch_size=8, seq_length=1024, gpus_per_node=8)


def _exhaustive_and_pruned(model, gpu, num_gpus, **kw):
    space = kw.pop("space", SearchSpace())
    exhaustive = search_layouts(model, gpu, num_gpus, space=replace(space, prune=False), **kw)
    pruned = search_layouts(model, gpu, num_gpus, space=replace(space, prune=True), **kw)
    return exhaustive, pruned


def _assert_same_ranking(exhaustive, pruned):
    assert exhaustive.best is not None
    assert pruned.best == exhaustive.best
    assert [a.plan for a in pruned.alternatives] == [a.plan for a in exhaustive.alternatives]
    assert [a.why_lost for a in pruned.alternatives] == [a.why_lost for a in exhaustive.alternatives]
    assert pruned.evaluated == exhaustive.evaluated
    assert pruned.evaluated == pruned.num_fitting + sum(pruned.rejected.values())
    assert "slower_bound" not in exhaustive.rejected


def _default_goals_search_args(monkeypatch) -> tuple:
    """The arguments derive_plan passes to search_layouts for the default goals preset."""
    import planner.compute.layout
    import presets
    from planner.derive import derive_plan
    from planner.resolve import resolve
    from presets import load_catalog

    calls = []
    real = planner.compute.layout.search_layouts

    def spy(*args, **kw):
        calls.append((args, dict(kw)))
        return real(*args, **kw)

    import planner.chain

    monkeypatch.setattr(planner.compute.layout, "search_layouts", spy)
    monkeypatch.setattr(planner.chain, "search_layouts", spy)  # the chain prices the plan's layout
    planner.chain.clear_layout_cache()
    derive_plan(resolve(presets.load_goals_preset("default"), load_catalog()))
    return calls[0]


def test_branch_and_bound_finds_the_exhaustive_best_and_alternatives_for_the_default_goals(monkeypatch):
    args, kw = _default_goals_search_args(monkeypatch)
    kw.pop("space")
    exhaustive, pruned = _exhaustive_and_pruned(*args, **kw)
    _assert_same_ranking(exhaustive, pruned)
    assert pruned.rejected["slower_bound"] > exhaustive.evaluated // 2  # most layouts are never costed


@pytest.mark.parametrize("case", [
    ("Llama-2-70B", A100_80GB, 2048, dict(global_batch_size=1024, seq_length=4096, top_k=5)),
    ("Llama-3-405B", H100_80GB, 16384, dict(global_batch_size=2048, seq_length=8192, top_k=5)),
    ("Llama-2-70B", A100_80GB, 256, dict(global_batch_size=512, seq_length=4096, top_k=20)),
    ("Llama-2-7B", H100_80GB, 64, dict(global_batch_size=256, seq_length=4096, top_k=0,
                                       space=SearchSpace(distributed_optimizer=(False, True)))),
], ids=["70b-2048-a100-4m-tokens", "405b-16384-h100", "70b-256-a100-top20", "7b-64-h100-optimizer-order"])
def test_branch_and_bound_ranks_exactly_like_the_exhaustive_search(case):
    name, gpu, num_gpus, kw = case
    exhaustive, pruned = _exhaustive_and_pruned(find_model(name), gpu, num_gpus, gpus_per_node=8, **kw)
    _assert_same_ranking(exhaustive, pruned)
    assert pruned.rejected.get("slower_bound", 0) > 0


@pytest.mark.parametrize("row", NARAYANAN[::3], ids=[r["name"] for r in NARAYANAN[::3]])
def test_branch_and_bound_ranks_narayanan_table_1_rows_like_the_exhaustive_search(row):
    """Narayanan et al. 2021, Table 1 rows in the paper's setting (PAPER_SPACE, MEGATRON_2021)."""
    h = row["hidden"]
    model = make_shape(num_layers=row["layers"], hidden_size=h, num_attention_heads=row["heads"],
                       num_query_groups=row["heads"], ffn_hidden_size=4 * h, vocab_size=row["vocab"],
                       seq_length=row["seq"], activation="gelu", position_embedding="learned",
                       normalization="LayerNorm", tied_embeddings=True, add_bias_linear=True)
    exhaustive, pruned = _exhaustive_and_pruned(
        model, A100_80GB, row["num_gpus"], global_batch_size=row["batch"], seq_length=row["seq"],
        gpus_per_node=8, space=PAPER_SPACE, step_model=MEGATRON_2021, top_k=3)
    _assert_same_ranking(exhaustive, pruned)


def test_when_nothing_fits_the_pruned_search_reports_the_exhaustive_memory_shortfall():
    model = find_model("Llama-2-70B")
    exhaustive, pruned = _exhaustive_and_pruned(model, A100_80GB, 8, global_batch_size=64, seq_length=4096,
                                                gpus_per_node=8)
    assert pruned.best is None and exhaustive.best is None
    assert pruned.min_memory_bytes == exhaustive.min_memory_bytes > 0
    assert pruned.rejected == exhaustive.rejected


def test_the_pipeline_time_is_a_lower_bound_the_step_time_adds_to():
    """planner.compute.step_time.pipeline_terms: step_time_s = pipeline_s + data-parallel + optimizer terms."""
    model, layout, cluster = _llama70b_tp8_pp8_dp4("selective")
    timing = step_time(model, layout, A100_80GB, cluster, params_per_gpu=1e9)
    pipeline_s = pipeline_terms(model, layout, A100_80GB, cluster)[0]
    assert pipeline_s < timing.step_time_s
    assert timing.step_time_s == pytest.approx(pipeline_s + timing.dp_comm_s + timing.optimizer_s, rel=1e-12)
