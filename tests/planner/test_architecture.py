"""Exact parameter counts and derived shapes (planner.model.architecture).

Sources: Llama 2 7B and 70B released checkpoints (meta-llama/Llama-2-7b-hf: 6,738,415,616;
Llama-2-70b-hf: 68,976,648,192); GPT-3 175B, Brown et al. 2020 Table D.1 (174.6B); Pythia,
Biderman et al. 2023 (EleutherAI/pythia-70m: 70,426,624; pythia-6.9b: 6,857,302,016).
"""

from __future__ import annotations

import pytest

from planner.model.architecture import count_params, derive_shape, shape_params, swiglu_ffn_size
from presets import load_models

LLAMA = dict(activation="swiglu", position_embedding="rope", normalization="RMSNorm",
             tied_embeddings=False, add_bias_linear=False)


def test_llama2_7b_shape_counts_to_its_released_checkpoint():
    n = count_params(num_layers=32, hidden_size=4096, num_attention_heads=32, num_query_groups=32,
                     ffn_hidden_size=11008, vocab_size=32000, seq_length=4096, **LLAMA)
    assert n == 6_738_415_616


def test_llama2_70b_shape_with_gqa_counts_to_its_released_checkpoint():
    n = count_params(num_layers=80, hidden_size=8192, num_attention_heads=64, num_query_groups=8,
                     ffn_hidden_size=28672, vocab_size=32000, seq_length=4096, **LLAMA)
    assert n == 68_976_648_192


def test_gpt3_175b_lands_within_half_a_percent_of_the_paper():
    n = count_params(num_layers=96, hidden_size=12288, num_attention_heads=96, num_query_groups=96,
                     ffn_hidden_size=4 * 12288, vocab_size=50257, seq_length=2048, activation="gelu",
                     position_embedding="learned", normalization="LayerNorm", tied_embeddings=True,
                     add_bias_linear=True)
    assert n == pytest.approx(174.6e9, rel=0.005)


@pytest.mark.parametrize("name,released", [
    ("Pythia-70M", 70_426_624), ("Pythia-410M", 405_334_016), ("Pythia-1.4B", 1_414_647_808),
    ("Pythia-6.9B", 6_857_302_016), ("Llama-3-8B", 8_030_261_248), ("Llama-2-13B", 13_015_864_320),
])
def test_reference_presets_count_to_their_released_checkpoints(name, released):
    shape = load_models()[name]
    assert shape.num_params == released
    assert shape_params(shape) == released


def test_every_reference_preset_stores_its_exact_count():
    for name, shape in load_models().items():
        assert shape_params(shape) == shape.num_params, name


def test_swiglu_width_follows_llamas_multiple_of_rule():
    assert swiglu_ffn_size(4096) == 11008  # Llama 2 7B
    assert swiglu_ffn_size(128) == 352     # 8*128/3 = 341.3 rounded up to a multiple of 32


@pytest.mark.parametrize("target", [2e6, 2e7, 1.25e8, 1e9, 7e9, 13e9, 70e9, 175e9, 405e9, 1e12])
def test_derived_shape_lands_within_two_percent_and_divides_cleanly(target):
    vocab = 4096 if target < 1e7 else 32000
    shape = derive_shape(target, vocab_size=vocab, seq_length=2048)
    assert shape.num_params == pytest.approx(target, rel=0.02)
    assert shape_params(shape) == shape.num_params
    assert shape.hidden_size % shape.num_attention_heads == 0
    assert shape.num_attention_heads % shape.num_query_groups == 0
    if shape.num_layers >= 24:  # pipeline stages divide the layers (issue 13: even from 12, x4 from 24)
        assert shape.num_layers % 4 == 0
    elif shape.num_layers >= 12:
        assert shape.num_layers % 2 == 0


def test_tiny_target_gives_the_demo_shape():
    shape = derive_shape(1.8e6, vocab_size=4096, seq_length=256)
    assert (shape.num_layers, shape.hidden_size, shape.num_attention_heads, shape.num_query_groups,
            shape.ffn_hidden_size, shape.num_params) == (4, 128, 4, 2, 352, 1_787_008)


def test_a_target_smaller_than_the_embeddings_is_refused_with_the_reason():
    with pytest.raises(ValueError, match="embeddings alone"):
        derive_shape(1e5, vocab_size=32000, seq_length=256)
