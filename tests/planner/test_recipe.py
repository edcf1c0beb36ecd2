"""Training recipe (planner/training/recipe.py).

Sources: DeepSeek-AI 2024, DeepSeek LLM, arXiv 2401.02954, Sec 3.1 Eq. (1)
(B_opt = 0.292 C^0.3271 tokens, eta_opt = 0.3118 C^-0.125); Touvron et al. 2023, Llama 2, Sec 2.2
(AdamW 0.9/0.95, wd 0.1, clip 1.0, 2000 warmup steps, cosine to 10%); Hu et al. 2024, MiniCPM (WSD);
Xue et al. 2023 and Muennighoff et al. 2023 (dropout when repeating data).
"""

from __future__ import annotations

import pytest

from planner.training.recipe import derive_recipe, global_batch_tokens, peak_lr, warmup_steps
import presets
from tests.planner.hardware_fixtures import LLAMA2_7B
from planner.schema import Goals, ModelShape

TINY = ModelShape(
    num_layers=4, hidden_size=128, num_attention_heads=4, num_query_groups=2,
    ffn_hidden_size=352, vocab_size=4096, seq_length=256, num_params=1_500_000,
)
H100 = presets.find_gpu("H100")
C_7B = 6 * 6.738e9 * 2e12  # ~8.1e22 FLOPs, Llama 2 7B on 2T tokens


def test_batch_size_law_matches_deepseek_eq1_by_hand():
    # C = 1e20: 0.292 * 10^(20 * 0.3271) = 0.292 * 10^6.542 = 0.292 * 3,483,373 = 1,017,145 tokens.
    assert global_batch_tokens(1e20) == pytest.approx(1_017_145, rel=1e-4)
    # C = 1e24: 0.292 * 10^7.8504 = 20,695,000 tokens.
    assert global_batch_tokens(1e24) == pytest.approx(2.0695e7, rel=1e-3)


def test_learning_rate_law_matches_deepseek_eq1_by_hand():
    # C = 1e20: 0.3118 * 10^-2.5 = 0.3118 * 0.0031623 = 9.860e-4.
    assert peak_lr(1e20) == pytest.approx(9.860e-4, rel=1e-3)
    # C = 1e24: 0.3118 * 10^-3 = 3.118e-4.
    assert peak_lr(1e24) == pytest.approx(3.118e-4, rel=1e-9)


def test_llama2_7b_compute_gives_a_batch_and_lr_near_what_meta_used():
    # Llama 2 7B used 4M-token batches and peak LR 3e-4 (Touvron et al. 2023, Sec 2.2); DeepSeek's laws
    # land within a factor of ~2.5 of both, inside their wide near-optimal band.
    assert 4e6 / 2.5 < global_batch_tokens(C_7B) < 4e6 * 2.5
    assert 3e-4 / 2 < peak_lr(C_7B) < 3e-4 * 2


def test_non_positive_compute_is_rejected():
    with pytest.raises(ValueError, match="total_flops must be a finite number above 1"):
        peak_lr(0.0)


def test_recipe_uses_the_layout_batch_and_counts_steps():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals())
    assert recipe.global_batch_tokens == 1024 * 4096
    assert recipe.global_batch_size == 1024
    assert recipe.train_steps == 476_838  # ceil(2e12 / 4,194,304)
    assert recipe.warmup_steps == 2000
    assert recipe.lr == pytest.approx(peak_lr(C_7B))
    assert recipe.min_lr == pytest.approx(0.1 * recipe.lr)
    assert recipe.optimal_batch_tokens == pytest.approx(global_batch_tokens(C_7B))


def test_recipe_has_the_llama2_optimizer_settings():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals())
    assert (recipe.adam_beta1, recipe.adam_beta2, recipe.adam_eps) == (0.9, 0.95, 1e-8)
    assert (recipe.weight_decay, recipe.clip_grad) == (0.1, 1.0)
    assert recipe.lr_decay_style == "cosine"
    assert recipe.precision == "bf16" and recipe.master_weights_fp32


def test_every_recipe_choice_has_a_reason_and_a_source():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals())
    fields = {c.field for c in recipe.choices}
    assert {"global_batch_tokens", "lr", "train_steps", "warmup_steps", "lr_decay_style", "hidden_dropout",
            "precision", "adam_beta1", "adam_eps", "weight_decay", "clip_grad", "batch_size_rampup"} <= fields
    for choice in recipe.choices:
        assert choice.reason and choice.source, choice


def test_short_runs_warm_up_for_ten_percent_of_their_steps():
    assert warmup_steps(200) == 20
    assert warmup_steps(500_000) == 2000
    assert warmup_steps(3) == 1


def test_single_epoch_pretraining_has_no_dropout_and_explains_the_quoted_values():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals(unique_tokens_available=3e12))
    assert recipe.hidden_dropout == 0.0 and recipe.attention_dropout == 0.0
    reason = next(c.reason for c in recipe.choices if c.field == "hidden_dropout")
    assert "0.2-0.5" in reason and "many epochs" in reason


def test_many_epochs_over_small_data_switch_dropout_on():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals(unique_tokens_available=2e11))
    assert recipe.hidden_dropout == 0.1
    assert "10.0 epochs" in next(c.reason for c in recipe.choices if c.field == "hidden_dropout")


def test_wsd_schedule_decays_over_the_last_tenth_of_steps():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals(), schedule="wsd")
    assert recipe.lr_decay_style == "wsd"
    assert recipe.lr_wsd_decay_steps == 47_684


def test_fp8_is_offered_on_a_gpu_that_has_it_and_cpu_runs_use_fp32():
    assert derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals(), gpu=H100).fp8_available
    cpu = derive_recipe(TINY, 4e5, 6 * 1.5e6 * 4e5, 8, Goals(gpu="CPU"))
    assert cpu.precision == "fp32" and not cpu.master_weights_fp32


def test_batch_rampup_sizes_are_multiples_of_the_data_parallel_granularity():
    recipe = derive_recipe(LLAMA2_7B, 2e12, C_7B, 1024, Goals(), batch_rampup=True, batch_granularity=32)
    start, increment, samples = recipe.rampup_batch_size
    assert recipe.batch_size_rampup
    assert start == 64 and start % 32 == 0 and increment % 32 == 0 and (1024 - start) % increment == 0
    assert samples == 976_563  # ceil(4e9 tokens / 4096)


def test_tiny_cpu_run_gets_a_valid_short_schedule():
    recipe = derive_recipe(TINY, 4e5, 6 * 1.5e6 * 4e5, 8, Goals(gpu="CPU"))
    assert recipe.train_steps == 196  # ceil(4e5 / 2048)
    assert 0 < recipe.warmup_steps < recipe.train_steps
    assert recipe.eval_interval_steps == 19
