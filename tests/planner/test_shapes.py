"""Monotone shapes (issue 13): layers and hidden size never decrease as the parameter count grows,
and the aspect ratio stays within the published models of that size (planner.model.architecture)."""

from __future__ import annotations

import pytest

from planner.model.architecture import PUBLISHED_SHAPES, aspect_ratio_band, derive_shape

SWEEP = [1e8 * 10 ** (i / 100) for i in range(401)]  # 100M .. 1T, 100 points per decade


@pytest.fixture(scope="module")
def shapes():
    return [derive_shape(n, vocab_size=32000, seq_length=4096) for n in SWEEP]


def test_layers_and_hidden_size_never_decrease_from_100m_to_1t(shapes):
    for small, large in zip(shapes, shapes[1:]):
        assert large.num_layers >= small.num_layers, (small, large)
        assert large.hidden_size >= small.hidden_size, (small, large)
    assert shapes[-1].num_layers > shapes[0].num_layers and shapes[-1].hidden_size > shapes[0].hidden_size


def test_every_shape_lands_within_two_percent_of_its_target(shapes):
    for target, shape in zip(SWEEP, shapes):
        assert shape.num_params == pytest.approx(target, rel=0.02)
        assert 2 * shape.hidden_size <= shape.ffn_hidden_size <= 4 * shape.hidden_size


def test_aspect_ratio_stays_within_published_models_of_that_size(shapes):
    for target, shape in zip(SWEEP, shapes):
        lo, hi = aspect_ratio_band(target)
        assert lo <= shape.hidden_size / shape.num_layers <= hi, (target, shape.num_layers, shape.hidden_size)


def test_the_published_band_spans_the_models_it_cites():
    ratios = [h / n for _, _, n, h in PUBLISHED_SHAPES]
    assert min(ratios) == pytest.approx(1024 / 24) and max(ratios) == pytest.approx(16384 / 80)
    assert aspect_ratio_band(7e9) == (pytest.approx(80.0), pytest.approx(142.2, rel=1e-3))


def test_the_issue_13_jumps_are_gone():
    """Derived layer counts used to go 32 (13B), 72 (20B), 72 (29B), 64 (34B), 56 (40B), 60 (65B)."""
    layers = [derive_shape(n, vocab_size=32000, seq_length=4096).num_layers for n in (13e9, 20e9, 29e9, 34e9, 40e9, 65e9)]
    assert layers == sorted(layers) and layers[0] >= 32


def test_the_tiny_demo_shape_is_unchanged():
    shape = derive_shape(1.8e6, vocab_size=4096, seq_length=256)
    assert (shape.num_layers, shape.hidden_size, shape.ffn_hidden_size, shape.num_params) == (4, 128, 352, 1_787_008)
