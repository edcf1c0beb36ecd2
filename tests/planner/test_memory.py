"""Per-GPU memory (planner.compute.memory) against Megatron-LM's own estimator and Korthikanti et al. 2022.

Reference: megatron/training/theoretical_memory_usage.py (NVIDIA/Megatron-LM @ d98e8a6),
`compute_weight_and_optimizer_memory` (l.12-305) and `compute_activation_memory` (l.308-379). Its
outputs for each configuration below were recorded once, by running that file unchanged outside this
repository, in tests/planner/megatron_reference.json (source, commit, functions and line numbers in
its "source" header; no Megatron-LM code is kept here). Korthikanti et al. 2022 (arXiv 2205.05198),
Table 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from planner.model.architecture import make_shape
from planner.compute.memory import (activation_bytes, layer_activation_bytes_per_token, padded_vocab_size,
                            per_rank_memory, per_rank_parameter_count, state_bytes_per_parameter)
from planner.schema import ParallelLayout

GPT3_175B = make_shape(num_layers=96, hidden_size=12288, num_attention_heads=96, num_query_groups=96,
                       ffn_hidden_size=4 * 12288, vocab_size=51200, seq_length=2048, activation="gelu",
                       normalization="LayerNorm", tied_embeddings=True)
LLAMA2_70B = make_shape(num_layers=80, hidden_size=8192, num_attention_heads=64, num_query_groups=8,
                        ffn_hidden_size=28672, vocab_size=32000, seq_length=4096)
TINY = make_shape(num_layers=4, hidden_size=128, num_attention_heads=4, num_query_groups=2,
                  ffn_hidden_size=352, vocab_size=4096, seq_length=256)
GPT_22B = make_shape(num_layers=48, hidden_size=6144, num_attention_heads=64, num_query_groups=64,
                     ffn_hidden_size=4 * 6144, vocab_size=51200, seq_length=2048, activation="gelu",
                     normalization="LayerNorm")
MODELS = {"gpt3_175b": GPT3_175B, "llama2_70b": LLAMA2_70B, "tiny": TINY, "gpt_22b": GPT_22B}

MEGATRON = json.loads((Path(__file__).parent / "megatron_reference.json").read_text())
"""Megatron-LM d98e8a6 theoretical_memory_usage.py outputs, recorded per configuration."""


def _megatron_args(model, layout: ParallelLayout) -> dict:
    """The argparse namespace megatron/training/arguments.py would build for this run, as a dict."""
    return dict(
        kv_channels=model.head_dim, num_attention_heads=model.num_attention_heads,
        hidden_size=model.hidden_size, num_layers=model.num_layers, ffn_hidden_size=model.ffn_hidden_size,
        group_query_attention=model.num_query_groups != model.num_attention_heads,
        num_query_groups=model.num_query_groups, swiglu=model.activation == "swiglu",
        normalization=model.normalization, add_bias_linear=model.add_bias_linear,
        padded_vocab_size=padded_vocab_size(model.vocab_size, layout.tensor_model_parallel_size),
        untie_embeddings_and_output_weights=not model.tied_embeddings,
        num_experts=None, moe_shared_expert_intermediate_size=None, mtp_num_layers=None,
        multi_latent_attention=False, moe_latent_size=None, moe_router_topk=2, moe_layer_freq=1,
        expert_tensor_parallel_size=1, expert_model_parallel_size=1,
        tensor_model_parallel_size=layout.tensor_model_parallel_size,
        pipeline_model_parallel_size=layout.pipeline_model_parallel_size,
        virtual_pipeline_model_parallel_size=(layout.virtual_pipeline_model_parallel_size
                                              if layout.virtual_pipeline_model_parallel_size > 1 else None),
        data_parallel_size=layout.data_parallel_size, world_size=layout.num_gpus,
        use_distributed_optimizer=layout.use_distributed_optimizer,
        seq_length=model.seq_length, micro_batch_size=layout.micro_batch_size,
        sequence_parallel=layout.sequence_parallel, recompute_granularity=layout.recompute,
    )


def _recorded_case(section: str, case_id: str):
    """(model, layout, recorded case) for one recorded configuration. Fails if the Megatron arguments
    the recording was made with are not the ones this model and layout give, so figures and
    configurations cannot drift apart."""
    case = MEGATRON[section][case_id]
    model, layout = MODELS[case["model"]], ParallelLayout(**case["layout"])
    assert _megatron_args(model, layout) == case["megatron_args"]
    return model, layout, case


def test_the_megatron_reference_names_its_source_file_commit_and_functions():
    source = MEGATRON["source"]
    assert source["file"] == "megatron/training/theoretical_memory_usage.py"
    assert source["commit"].startswith("d98e8a6")
    assert set(source["functions"]) == {"compute_weight_and_optimizer_memory", "compute_activation_memory"}
    assert len(MEGATRON["weight_and_optimizer_cases"]) >= 3 and len(MEGATRON["activation_cases"]) >= 3


@pytest.mark.parametrize("case_id", list(MEGATRON["weight_and_optimizer_cases"]))
def test_weights_gradients_and_optimizer_bytes_equal_megatrons_theoretical_memory(case_id):
    """Megatron theoretical_memory_usage.py `compute_weight_and_optimizer_memory` (l.12-305): parameters
    of the most loaded shard (l.247-267) x (18 | 6 + 12/DP) bytes (l.293-296). Exactly equal."""
    model, layout, case = _recorded_case("weight_and_optimizer_cases", case_id)
    ours = per_rank_memory(model, layout, 0, precision="bf16")
    assert ours.model_state_bytes == case["weight_and_optimizer_bytes"]


def test_with_pipeline_parallelism_the_first_stage_differs_from_megatron_only_by_the_final_norm():
    """Megatron charges final_layernorm / p to the first stage (l.253-255 `replicated_params_in_transformer_block
    / pipeline_model_parallel_size`); the real first stage holds no final norm, it sits on the last one."""
    model, layout, case = _recorded_case("weight_and_optimizer_pipeline_cases",
                                         "llama2_70b_tp8_pp4_dp16_distributed_optimizer")
    ours = per_rank_memory(model, layout, 0)
    final_norm_bytes = model.hidden_size / 4 * (6 + 12 / 16)
    assert case["weight_and_optimizer_bytes"] - ours.model_state_bytes == final_norm_bytes


@pytest.mark.parametrize("case_id", list(MEGATRON["activation_cases"]))
def test_activation_bytes_match_megatrons_sequence_parallel_selective_formula(case_id):
    """Megatron `compute_activation_memory` (l.308-379, Korthikanti et al. 2022 Table 2, SP + selective),
    first pipeline stage, for a GPT-3 shape (MHA, GELU MLP) where both model the same tensors: 1F1B,
    interleaved, PP = 1 with the logits, fewer micro-batches than stages. Equal to float rounding
    (rel 1e-12; the acceptance bar is 1%)."""
    model, layout, case = _recorded_case("activation_cases", case_id)
    assert layout.num_microbatches == case["num_microbatches"]
    assert activation_bytes(model, layout, 0) == pytest.approx(case["activation_bytes"], rel=1e-12)


@pytest.mark.parametrize("tp", [1, 2, 8])
def test_per_layer_activations_reproduce_korthikanti_table_2(tp):
    """Korthikanti et al. 2022, Table 2, bytes per layer for s, b, h, a of a GPT-3 175B layer."""
    m = GPT3_175B
    s, b, h, a = m.seq_length, 1, m.hidden_size, m.num_attention_heads
    sbh = s * b * h

    def per_layer(**kw):
        layout = ParallelLayout(tensor_model_parallel_size=tp, global_batch_size=8, **kw)
        return layer_activation_bytes_per_token(m, layout, flash_attention=False) * s * b

    assert per_layer(recompute="none") == pytest.approx(sbh * (10 + 24 / tp + 5 * a * s / (h * tp)))
    assert per_layer(recompute="selective") == pytest.approx(sbh * (10 + 24 / tp))
    assert per_layer(recompute="full") == pytest.approx(2 * sbh)
    if tp > 1:
        assert per_layer(recompute="none", sequence_parallel=True) == pytest.approx(sbh / tp * (34 + 5 * a * s / h))
        assert per_layer(recompute="selective", sequence_parallel=True) == pytest.approx(34 * sbh / tp)


def test_flash_attention_removes_the_five_as_over_h_term():
    layout = ParallelLayout(global_batch_size=8, recompute="none")
    with_flash = layer_activation_bytes_per_token(GPT3_175B, layout, flash_attention=True)
    without = layer_activation_bytes_per_token(GPT3_175B, layout, flash_attention=False)
    assert without - with_flash == pytest.approx(5 * GPT3_175B.num_attention_heads * GPT3_175B.seq_length)


def test_context_parallelism_divides_the_activations_by_the_cp_size():
    base = ParallelLayout(tensor_model_parallel_size=8, pipeline_model_parallel_size=4, data_parallel_size=2,
                          global_batch_size=64, recompute="selective", sequence_parallel=True)
    cp4 = base.model_copy(update={"context_parallel_size": 4})
    assert activation_bytes(LLAMA2_70B, cp4, 1) == pytest.approx(activation_bytes(LLAMA2_70B, base, 1) / 4)


def test_interleaving_multiplies_first_stage_activations_by_one_plus_p_minus_one_over_pv():
    """Korthikanti et al. 2022, §4.2.3: ×(1 + (p−1)/(p·v)) on the first stage."""
    one = ParallelLayout(tensor_model_parallel_size=8, pipeline_model_parallel_size=8, data_parallel_size=8,
                         global_batch_size=512, recompute="full", sequence_parallel=True)
    per_layer = layer_activation_bytes_per_token(LLAMA2_70B, one) * LLAMA2_70B.seq_length
    layers_held = LLAMA2_70B.num_layers  # p micro-batches x L/p layers
    plain = activation_bytes(LLAMA2_70B, one, 0)
    inter = activation_bytes(LLAMA2_70B, one.model_copy(update={"virtual_pipeline_model_parallel_size": 5}), 0)
    assert inter - plain == pytest.approx((per_layer * layers_held + (8 + 8192) * 4096 * 8 / 8) * 7 / 40)


def test_the_last_stage_holds_the_logits_and_one_micro_batch():
    layout = ParallelLayout(tensor_model_parallel_size=8, pipeline_model_parallel_size=8, data_parallel_size=8,
                            global_batch_size=512, recompute="selective", sequence_parallel=True)
    last = activation_bytes(LLAMA2_70B, layout, 7)
    per_layer = layer_activation_bytes_per_token(LLAMA2_70B, layout) * LLAMA2_70B.seq_length
    logits = 4 * LLAMA2_70B.seq_length * 8192 * (1 + 32768 / 8192) / 8
    assert last == pytest.approx(per_layer * 10 + logits)


def test_distributed_optimizer_gives_six_plus_twelve_over_dp_bytes_per_parameter():
    """Megatron theoretical_memory_usage.py l.296; ZeRO-2/3 after Rajbhandari et al. 2020, Fig. 1."""
    assert sum(state_bytes_per_parameter("bf16", 0, 64)) == 18
    assert sum(state_bytes_per_parameter("bf16", 1, 64)) == pytest.approx(6 + 12 / 64)
    assert sum(state_bytes_per_parameter("bf16", 2, 64)) == pytest.approx(2 + 16 / 64)
    assert sum(state_bytes_per_parameter("bf16", 3, 64)) == pytest.approx(18 / 64)


def test_tiny_plan_tp2_per_rank_parameters_and_fp32_state_bytes_are_exact():
    """The trainer's tiny plan (TP=2, fp32 on CPU): per rank 4-byte weights and grads, Adam 8 bytes."""
    layout = ParallelLayout(tensor_model_parallel_size=2, micro_batch_size=4, global_batch_size=8,
                            use_distributed_optimizer=False)
    h, f, v, kv = 128, 352, 4096, 2 * 32
    per_layer = (h * (h + 2 * kv) + h * h + h * 2 * f + f * h) // 2 + 2 * h
    expected = 4 * per_layer + v // 2 * h + h + v // 2 * h
    assert per_rank_parameter_count(TINY, layout, tp_rank=0) == expected
    assert per_rank_parameter_count(TINY, layout, tp_rank=1) == expected
    mem = per_rank_memory(TINY, layout, 0, precision="fp32")
    assert (mem.weights_bytes, mem.gradients_bytes, mem.optimizer_bytes) == (4 * expected, 4 * expected, 8 * expected)


@pytest.mark.parametrize("model", [TINY, LLAMA2_70B, GPT3_175B])
@pytest.mark.parametrize("pp", [1, 2, 4])
def test_per_rank_counts_add_up_to_the_exact_model_size(model, pp):
    """Summed over pipeline ranks at TP=1 the shards hold every parameter once, plus the second copy of
    tied embeddings Megatron keeps on the last stage when p > 1."""
    layout = ParallelLayout(pipeline_model_parallel_size=pp, global_batch_size=8)
    total = sum(per_rank_parameter_count(model, layout, 0, r) for r in range(pp))
    extra = model.vocab_size * model.hidden_size if model.tied_embeddings and pp > 1 else 0
    assert total == model.num_params + extra


def test_uneven_pipeline_split_puts_one_layer_less_on_the_first_and_last_stage():
    llama3 = make_shape(num_layers=126, hidden_size=16384, num_attention_heads=128, num_query_groups=8,
                        ffn_hidden_size=53248, vocab_size=128256, seq_length=8192)
    layout = ParallelLayout(tensor_model_parallel_size=8, pipeline_model_parallel_size=16, global_batch_size=8,
                            num_layers_in_first_pipeline_stage=7, num_layers_in_last_pipeline_stage=7)
    total = sum(per_rank_parameter_count(llama3, layout.model_copy(update={"tensor_model_parallel_size": 1}), 0, r)
                for r in range(16))
    assert total == llama3.num_params


@pytest.mark.parametrize("tp,field", [(3, "num_attention_heads"), (4, "num_query_groups")])
def test_tp_that_does_not_divide_heads_or_groups_is_an_error_naming_both(tp, field):
    layout = ParallelLayout(tensor_model_parallel_size=tp, global_batch_size=8)
    with pytest.raises(ValueError, match=f"tensor_model_parallel_size \\({tp}\\) must divide {field}"):
        per_rank_parameter_count(TINY, layout)


def test_unknown_precision_is_rejected_with_the_allowed_values():
    with pytest.raises(ValueError, match="precision \\('int4'\\) must be one of bf16, fp16, fp8, fp32"):
        state_bytes_per_parameter("int4", 1, 8)
