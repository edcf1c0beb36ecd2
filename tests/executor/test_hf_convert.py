"""Tensor layouts between megatron-core and HF Llama, on tensors whose every row says where it came
from; config checks against a plan; safetensors sharding. Fast: no model is trained here."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from exec_helpers import tiny_plan  # noqa: E402

from executor.hf import hfconfig  # noqa: E402
from executor.hf.convert import (  # noqa: E402
    LlamaShape,
    expected_hf_shapes,
    fuse_qkv,
    hf_to_megatron,
    megatron_to_hf,
    split_qkv,
)
from executor.hf.weights import plan_shards, read_weights, write_weights  # noqa: E402
from planner.errors import PlanInputError  # noqa: E402

# 8 query heads in 2 groups (4 per group), head dim 3, hidden 24, SwiGLU 10, vocab 50 padded to 64
SHAPE = LlamaShape(num_layers=2, hidden_size=24, num_attention_heads=8, num_query_groups=2,
                   ffn_hidden_size=10, vocab_size=50, tied_embeddings=False)


def _labelled_qkv() -> torch.Tensor:
    """Megatron's layout written out by hand: row (g, slot, i) holds 1000 g + 100 slot + i, slot 0-3
    the group's query heads, 4 its key head, 5 its value head (megatron-core SelfAttention)."""
    rows = [[1000 * g + 100 * slot + i] * SHAPE.hidden_size
            for g in range(2) for slot in range(6) for i in range(SHAPE.head_dim)]
    return torch.tensor(rows, dtype=torch.float32)


def test_fused_qkv_splits_per_group_into_query_key_and_value_heads():
    q, k, v = split_qkv(_labelled_qkv(), SHAPE)
    assert q.shape == (8 * 3, 24) and k.shape == (2 * 3, 24) and v.shape == (2 * 3, 24)
    # HF query head j belongs to kv group j // 4 and is slot j % 4 of it
    assert [int(q[3 * j, 0]) for j in range(8)] == [1000 * (j // 4) + 100 * (j % 4) for j in range(8)]
    want_k = [1000 * g + 400 + i for g in range(2) for i in range(3)]
    assert [int(k[3 * g + i, 0]) for g in range(2) for i in range(3)] == want_k
    assert [int(v[3 * g, 0]) for g in range(2)] == [500, 1500]


def test_fuse_qkv_inverts_split_qkv_for_weights_and_biases():
    qkv = torch.randn(2 * 6 * 3, 24)
    assert torch.equal(fuse_qkv(*split_qkv(qkv, SHAPE), SHAPE), qkv)
    bias = torch.randn(2 * 6 * 3)
    assert torch.equal(fuse_qkv(*split_qkv(bias, SHAPE), SHAPE), bias)


def _megatron_state(shape: LlamaShape, padded: int) -> dict:
    g = torch.Generator().manual_seed(0)
    h, f, d = shape.hidden_size, shape.ffn_hidden_size, shape.head_dim
    qkv_rows = shape.num_query_groups * (shape.heads_per_group + 2) * d
    state = {"embedding.word_embeddings.weight": torch.randn(padded, h, generator=g),
             "decoder.final_layernorm.weight": torch.randn(h, generator=g)}
    if not shape.tied_embeddings:
        state["output_layer.weight"] = torch.randn(padded, h, generator=g)
    for i in range(shape.num_layers):
        p = f"decoder.layers.{i}."
        state.update({p + "input_layernorm.weight": torch.randn(h, generator=g),
                      p + "pre_mlp_layernorm.weight": torch.randn(h, generator=g),
                      p + "self_attention.linear_qkv.weight": torch.randn(qkv_rows, h, generator=g),
                      p + "self_attention.linear_proj.weight": torch.randn(h, h, generator=g),
                      p + "mlp.linear_fc1.weight": torch.randn(2 * f, h, generator=g),
                      p + "mlp.linear_fc2.weight": torch.randn(h, f, generator=g)})
    return state


def test_swiglu_fc1_first_half_is_the_gate_and_second_half_is_up():
    state = _megatron_state(SHAPE, 64)
    hf = megatron_to_hf(state, SHAPE)
    fc1 = state["decoder.layers.1.mlp.linear_fc1.weight"]
    assert torch.equal(hf["model.layers.1.mlp.gate_proj.weight"], fc1[:10])
    assert torch.equal(hf["model.layers.1.mlp.up_proj.weight"], fc1[10:])
    # megatron-core's MLP: silu(first half) * second half == HF's silu(gate x) * up x
    x = torch.randn(5, 24, generator=torch.Generator().manual_seed(1))
    first, second = torch.chunk(x @ fc1.T, 2, dim=-1)
    hf_out = torch.nn.functional.silu(x @ hf["model.layers.1.mlp.gate_proj.weight"].T) * (
        x @ hf["model.layers.1.mlp.up_proj.weight"].T)
    torch.testing.assert_close(torch.nn.functional.silu(first) * second, hf_out, rtol=1e-5, atol=1e-6)


def test_padded_vocabulary_rows_are_dropped_on_export_and_zero_on_import():
    state = _megatron_state(SHAPE, 64)
    hf = megatron_to_hf(state, SHAPE)
    assert hf["model.embed_tokens.weight"].shape == (50, 24) and hf["lm_head.weight"].shape == (50, 24)
    assert torch.equal(hf["lm_head.weight"], state["output_layer.weight"][:50])
    back = hf_to_megatron(hf, SHAPE, 64)
    assert torch.equal(back["output_layer.weight"][:50], state["output_layer.weight"][:50])
    assert torch.count_nonzero(back["output_layer.weight"][50:]) == 0


def test_every_hf_tensor_has_the_shape_the_plan_implies_and_round_trips_exactly():
    state = _megatron_state(SHAPE, 50)
    hf = megatron_to_hf(state, SHAPE)
    assert {k: tuple(v.shape) for k, v in hf.items()} == expected_hf_shapes(SHAPE)
    back = hf_to_megatron(hf, SHAPE, 50)
    assert sorted(back) == sorted(state) and all(torch.equal(back[k], state[k]) for k in state)


def test_tied_embeddings_export_no_lm_head():
    tied = LlamaShape(**{**SHAPE.__dict__, "tied_embeddings": True})
    hf = megatron_to_hf(_megatron_state(tied, 64), tied)
    assert "lm_head.weight" not in hf and "lm_head.weight" not in expected_hf_shapes(tied)


def test_safetensors_shards_split_by_size_and_read_back(tmp_path):
    tensors = {f"t{i}": torch.full((100,), float(i)) for i in range(5)}  # 400 bytes each
    assert plan_shards(tensors, 900) == [["t0", "t1"], ["t2", "t3"], ["t4"]]
    files = write_weights(tmp_path, tensors, 900)
    assert files[-1] == "model.safetensors.index.json" and files[0] == "model-00001-of-00003.safetensors"
    back = read_weights(tmp_path)
    assert sorted(back) == sorted(tensors) and all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_config_of_the_tiny_plan_passes_its_own_check_and_a_changed_one_is_refused():
    plan = tiny_plan()
    config = hfconfig.llama_config(plan, 4096, eod_id=0)
    assert hfconfig.check_against_plan(config, plan, "config.json").vocab_size == 4096
    bad = {**config, "num_key_value_heads": 4, "rms_norm_eps": 1e-6}
    with pytest.raises(PlanInputError) as err:
        hfconfig.check_against_plan(bad, plan, "config.json")
    text = str(err.value)
    assert "num_key_value_heads: 4 does not match model.num_query_groups (2)" in text
    assert "rms_norm_eps: 1e-06 does not match megatron-core layernorm_epsilon (1e-05)" in text


def test_a_plan_outside_the_llama_family_is_refused_for_export():
    plan = tiny_plan()
    plan = plan.model_copy(update={"model": plan.model.model_copy(update={"position_embedding": "learned"})})
    with pytest.raises(PlanInputError, match="position_embedding: 'learned'; the Llama family needs 'rope'"):
        hfconfig.llama_config(plan, 4096, eod_id=0)


def test_model_card_counts_the_hours_of_every_stage_attempt_when_the_run_has_a_state(tmp_path):
    """Train for 30 min and prepare for 6 min, each times the devices its stage holds, priced at the
    plan's own rate (estimate.cost_usd / estimate.gpu_hours)."""
    from datetime import UTC, datetime, timedelta

    from exec_helpers import new_fake_run

    from executor.hf.card import model_card, spent
    from executor.rundir import Attempt, read_state, write_state

    plan, graph = new_fake_run(tmp_path)
    state = read_state(graph.run_dir)
    t0 = datetime(2026, 12, 1, tzinfo=UTC)
    for name, minutes in (("prepare", 6), ("train", 30)):
        state.stages[name].attempts = [Attempt(started_at=t0, ended_at=t0 + timedelta(minutes=minutes))]
    write_state(state)
    hours = 6 / 60 * state.stages["prepare"].num_devices + 30 / 60 * state.stages["train"].num_devices
    used = spent(plan, tmp_path / "run")
    assert used.device_hours == pytest.approx(hours, rel=1e-12)
    assert used.cost_usd == pytest.approx(hours * plan.estimate.cost_usd / plan.estimate.gpu_hours, rel=1e-12)
    card = model_card(plan, tmp_path / "run", 20, 4096)
    assert "run state (every stage attempt)" in card and "tokens trained (this checkpoint) | 40,960" in card
