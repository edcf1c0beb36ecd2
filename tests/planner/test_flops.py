"""Training FLOPs per token (planner.model.flops), Megatron-LM accounting.

Sources: Narayanan et al. 2021 (arXiv 2104.04473) Appendix A model FLOPs 72·B·s·L·h²(1 + s/6h +
V/12Lh) and eq. 3 (96 with full recompute); Megatron-LM training.py (causal mask halves core
attention); Korthikanti et al. 2022 §5 (selective recompute re-runs core attention only).
"""

from __future__ import annotations

import pytest

from planner.model.architecture import make_shape
from planner.model.flops import (
    forward_flops_per_token,
    hardware_flops_per_token,
    model_flops_per_token,
    narayanan_model_flops_per_token,
    training_flops,
)
from presets import load_models

GPT3_NO_BIAS = dict(num_layers=96, hidden_size=12288, num_attention_heads=96, num_query_groups=96,
                    ffn_hidden_size=4 * 12288, vocab_size=50257, seq_length=2048, activation="gelu",
                    position_embedding="learned", normalization="LayerNorm", tied_embeddings=True)


def test_gpt3_shape_matches_narayanan_appendix_a_with_a_causal_mask():
    shape = make_shape(**GPT3_NO_BIAS)
    expected = narayanan_model_flops_per_token(96, 12288, 2048, 50257)
    assert model_flops_per_token(shape) == pytest.approx(expected, rel=1e-12)


def test_gpt3_training_flops_are_close_to_the_papers_3_14e23():
    # Brown et al. 2020 Table D.1: 3.14e23 FLOPs for 300B tokens (6ND, no attention term)
    shape = make_shape(**GPT3_NO_BIAS)
    assert training_flops(shape, 300e9) == pytest.approx(3.14e23, rel=0.05)


def test_llama2_7b_flops_per_token_by_hand():
    # per layer forward: 2·(4·4096² + 3·4096·11008) = 404,750,336; causal core 2·4096·4096 = 33,554,432
    # logits 2·4096·32000 = 262,144,000; training = 3 x forward
    shape = load_models()["Llama-2-7B"]
    expected = 3 * (32 * (404_750_336 + 33_554_432) + 262_144_000)
    assert model_flops_per_token(shape, 4096) == expected


def test_model_flops_are_about_6n_plus_attention():
    shape = load_models()["Llama-2-70B"]
    six_n = 6 * shape.num_params
    assert six_n < model_flops_per_token(shape) < 1.05 * six_n


def test_full_recompute_adds_one_forward_of_the_layers_as_narayanan_eq3():
    shape = make_shape(**GPT3_NO_BIAS)
    fwd = forward_flops_per_token(shape)
    full = hardware_flops_per_token(shape, "full")
    assert full - model_flops_per_token(shape) == pytest.approx(fwd.layer_matmul + fwd.core_attention)
    # layer part only: 96/72 = 4/3 of the model FLOPs (Narayanan eq. 3 vs Appendix A)
    layers_model = 3 * (fwd.layer_matmul + fwd.core_attention)
    assert (full - 3 * fwd.logits) / layers_model == pytest.approx(4 / 3)


def test_selective_recompute_adds_only_core_attention_and_none_adds_nothing():
    shape = load_models()["Llama-2-7B"]
    fwd = forward_flops_per_token(shape)
    assert hardware_flops_per_token(shape, "none") == model_flops_per_token(shape)
    assert hardware_flops_per_token(shape, "selective") - model_flops_per_token(shape) == pytest.approx(fwd.core_attention)


def test_unknown_recompute_mode_is_refused():
    with pytest.raises(ValueError, match="recompute must be one of"):
        hardware_flops_per_token(load_models()["Llama-2-7B"], "partial")
