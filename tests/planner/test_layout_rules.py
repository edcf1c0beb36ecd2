"""The one table of parallel-layout rules (planner.compute.parallel): the search, `llmplan validate`, the pinned
`llmplan layout --tp/--pp` check and ParallelLayout's validator read the same rules."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from planner.model.architecture import make_shape
from planner.compute.cluster import cluster_from_gpu
from planner.compute.layout import SearchSpace, search_layouts
from planner.compute.memory import layer_activation_bytes_per_token, state_bytes_per_parameter
from planner.compute.parallel import (REASONS, RULE_BY_CODE, RULES, divisors, layout_violations, pinned_violations,
                              virtual_stage_counts)
from planner.compute.precision import PRECISIONS
from planner.schema import ParallelLayout
from planner.schema.layout import layout_only_violations
from presets import find_model
from tests.planner.hardware_fixtures import A100_80GB

TINYISH = make_shape(num_layers=12, hidden_size=768, num_attention_heads=12, num_query_groups=12,
                     ffn_hidden_size=3072, vocab_size=50304, seq_length=1024, activation="gelu")
NODE = cluster_from_gpu(A100_80GB, 8)


def _layout(**kw) -> ParallelLayout:
    """A layout built without validation (as a plan edited by hand reaches `llmplan validate`)."""
    fields = dict(tensor_model_parallel_size=1, pipeline_model_parallel_size=1, virtual_pipeline_model_parallel_size=1,
                  context_parallel_size=1, data_parallel_size=1, micro_batch_size=1, global_batch_size=64,
                  recompute="none", sequence_parallel=False, use_distributed_optimizer=True,
                  num_layers_in_first_pipeline_stage=None, num_layers_in_last_pipeline_stage=None)
    return ParallelLayout.model_construct(**{**fields, **kw})


def test_every_rule_has_a_megatron_field_a_reason_and_a_source_and_codes_are_unique():
    assert len(RULE_BY_CODE) == len(RULES)
    for rule in RULES:
        assert rule.field in ParallelLayout.model_fields, rule
        assert rule.reason and len(rule.source) > 20, rule
    search_codes = set(REASONS) - {"out_of_memory", "slower_bound"}
    assert search_codes <= set(RULE_BY_CODE)
    assert all(REASONS[code] == RULE_BY_CODE[code].reason for code in search_codes)


def test_a_valid_layout_breaks_no_rule():
    lay = _layout(tensor_model_parallel_size=4, pipeline_model_parallel_size=2, data_parallel_size=2,
                  micro_batch_size=2, sequence_parallel=True)
    assert layout_violations(lay, TINYISH, NODE, num_gpus=16, global_batch_tokens=64 * 1024) == []


def test_each_violation_names_its_code_field_numbers_and_fixes():
    lay = _layout(tensor_model_parallel_size=5, data_parallel_size=3, micro_batch_size=7)
    by_code = {v.code: v for v in layout_violations(lay, TINYISH, NODE, num_gpus=16)}
    assert set(by_code) == {"tp_heads", "tp_query_groups", "tp_ffn", "tp_node", "num_gpus", "batch"}
    heads = by_code["tp_heads"]
    assert heads.field == "tensor_model_parallel_size" and heads.fixes == (1, 2, 3, 4, 6, 12)
    assert heads.message == "tensor_model_parallel_size (5) must divide num_attention_heads (12); try 1, 2, 3, 4, 6 or 12"
    assert by_code["tp_node"].fixes == (1, 2, 4, 8)
    assert by_code["batch"].field == "global_batch_size" and by_code["batch"].fixes == (63, 84)


def test_the_layout_only_rules_are_enforced_by_parallel_layout_itself():
    ParallelLayout(global_batch_size=64, pipeline_model_parallel_size=2, virtual_pipeline_model_parallel_size=2)
    with pytest.raises(ValidationError, match=r"virtual stages \(2\) need pipeline_model_parallel_size > 1"):
        ParallelLayout(global_batch_size=64, virtual_pipeline_model_parallel_size=2)
    with pytest.raises(ValidationError, match=r"micro_batch_size \(3\) x data_parallel_size \(2\) = 6 must divide"):
        ParallelLayout(global_batch_size=64, micro_batch_size=3, data_parallel_size=2)
    with pytest.raises(ValidationError, match="sequence_parallel needs tensor_model_parallel_size > 1"):
        ParallelLayout(global_batch_size=64, sequence_parallel=True)
    with pytest.raises(ValidationError, match=r"num_microbatches \(6\) to be a multiple of pipeline_model_parallel_size \(4\)"):
        ParallelLayout(global_batch_size=6, pipeline_model_parallel_size=4, virtual_pipeline_model_parallel_size=2)
    lay = _layout(virtual_pipeline_model_parallel_size=2)
    assert [v.code for v in layout_only_violations(lay)] == ["vpp_needs_pp"]
    assert "vpp_needs_pp" in [v.code for v in layout_violations(lay, TINYISH, NODE)]


@pytest.mark.parametrize("seq_length,global_batch_size,num_layers", [(1024, 64, 12), (1000, 24, 12), (1024, 40, 7)])
def test_the_search_keeps_exactly_the_layouts_layout_violations_accepts(seq_length, global_batch_size, num_layers):
    """The search's rule rejections and layout_violations agree: over the search's own enumeration,
    the layouts that pass every rule are as many as those layout_violations finds no fault with."""
    model = TINYISH.model_copy(update={"seq_length": seq_length, "num_layers": num_layers})
    space = SearchSpace(prune=False, allow_uneven_pipeline=False, max_context_parallel=4, max_virtual_stages=4)
    n = 16
    result = search_layouts(model, A100_80GB, n, global_batch_size=global_batch_size, seq_length=seq_length,
                            gpus_per_node=8, space=space, top_k=3)
    passed_search = result.evaluated - sum(v for k, v in result.rejected.items() if k in RULE_BY_CODE)
    passed_rules = 0
    for t in divisors(n, 8):
        for p in divisors(n // t, num_layers):
            for cp in divisors(n // (t * p), 4):
                vs = virtual_stage_counts(num_layers, p, None, None, 4) if num_layers % p == 0 else [1]
                for v in vs:
                    for b in space.micro_batch_sizes:
                        lay = _layout(tensor_model_parallel_size=t, pipeline_model_parallel_size=p,
                                      virtual_pipeline_model_parallel_size=v, context_parallel_size=cp,
                                      data_parallel_size=n // (t * p * cp), micro_batch_size=b,
                                      global_batch_size=global_batch_size, sequence_parallel=t > 1)
                        if not layout_violations(lay, model, NODE, num_gpus=n):
                            passed_rules += 1
    assert passed_rules * len(space.recompute_modes) * len(space.distributed_optimizer) == passed_search > 0
    for plan in [result.best] + [a.plan for a in result.alternatives]:
        assert layout_violations(plan.layout, model, NODE, num_gpus=n) == []


def test_a_pinned_size_that_breaks_a_rule_gives_its_code_and_nearest_values():
    model = find_model("Llama-2-70B").model_copy(update={"seq_length": 4096})
    problems = pinned_violations(model, 512, 8, 512, tp=3, pp=8)
    heads = next(v for v in problems if v.code == "tp_heads")
    assert heads.message == "--tp: tensor_model_parallel_size (3) must divide num_attention_heads (64); try 1, 2, 4 or 8"
    assert heads.fixes == (1, 2, 4, 8)
    assert {v.code for v in problems} == {"num_gpus", "tp_node", "tp_heads", "tp_query_groups", "tp_ffn"}
    cp = pinned_violations(model, 512, 8, 512, cp=3)
    assert [v.code for v in cp] == ["cp_sequence", "num_gpus"]
    assert pinned_violations(model, 512, 8, 512, tp=8, pp=8, cp=1, mbs=1) == []


def test_memory_reads_bytes_per_value_from_the_precision_table():
    for name, row in PRECISIONS.items():
        assert state_bytes_per_parameter(name, 0, 8) == (row.weight_bytes, row.gradient_bytes, row.optimizer_bytes)
    lay = _layout(recompute="full")
    ratio = (layer_activation_bytes_per_token(TINYISH, lay, precision="fp32")
             / layer_activation_bytes_per_token(TINYISH, lay, precision="bf16"))
    assert ratio == PRECISIONS["fp32"].activation_bytes / PRECISIONS["bf16"].activation_bytes == 2
