"""Continued pretraining goals (goals.continue_from, planner.model.continuation, executor.hf.shape): the
checkpoint's shape is kept and only the tokens still to train are planned."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from executor.hf.shape import continue_from, shape_from_hf_config
from planner.model import sizing
from planner.model.architecture import derive_shape
from planner.derive import derive_plan
from planner.errors import PlanInputError
from planner.io import read_plan, validate_as
from planner.resolve import resolve
from planner.schema import Goals
from presets import load_catalog

TINY_PLAN = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "tiny_plan.yaml"
ONE_B = derive_shape(1.0e9, vocab_size=32000, seq_length=4096)
TINY_CONFIG = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "vocab_size": 4096, "hidden_size": 128,
               "intermediate_size": 352, "num_hidden_layers": 4, "num_attention_heads": 4, "num_key_value_heads": 2,
               "max_position_embeddings": 256, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
               "tie_word_embeddings": False, "hidden_act": "silu"}


def goals(seen: float, shape=ONE_B, **extra) -> Goals:
    return Goals(continue_from={"checkpoint": "/ckpt", "tokens_seen": seen, "shape": shape.model_dump()}, **extra)


def test_the_plan_keeps_the_checkpoints_shape_and_trains_the_objectives_total_minus_tokens_seen():
    plan = derive_plan(resolve(goals(10e9), load_catalog()))
    assert plan.model == ONE_B  # exactly the checkpoint's shape, no derived one
    assert plan.tokens.num_tokens == pytest.approx(20 * ONE_B.num_params - 10e9)
    assert plan.tokens.tokens_seen == 10e9
    assert plan.binding_constraint.startswith("continue_from (rule-of-thumb-20x total minus")
    seen = next(a for a in plan.assumptions if a.name == "tokens_seen")
    assert seen.value == 10e9 and "/ckpt" in seen.source
    # the predicted loss counts the tokens already seen: L(N, seen + D), here 20 N in all
    assert plan.estimate.predicted_loss == pytest.approx(sizing.DEFAULT_FIT.loss(ONE_B.num_params, 20 * ONE_B.num_params))


def test_compute_optimal_total_minus_seen():
    plan = derive_plan(resolve(goals(5e9, objective="compute-optimal"), load_catalog()))
    total = sizing.compute_optimal_tokens_for_params(ONE_B.num_params)
    assert plan.tokens.num_tokens == pytest.approx(total - 5e9)


def test_a_budget_smaller_than_the_remaining_tokens_binds_and_is_spent_without_changing_the_shape():
    plan = derive_plan(resolve(goals(10e9, budget_usd=50), load_catalog()))
    assert plan.model == ONE_B
    assert plan.binding_constraint.startswith("budget_usd (continue_from: buys less than")
    assert plan.tokens.num_tokens < 20 * ONE_B.num_params - 10e9
    assert plan.estimate.total_cost_usd <= 50


def test_fixed_size_takes_the_tokens_of_this_run_from_the_budget_even_past_the_objective():
    plan = derive_plan(resolve(goals(30e9, objective="fixed-size", budget_gpu_hours=2000), load_catalog()))
    assert plan.model == ONE_B and plan.binding_constraint.startswith("budget_gpu_hours (continue_from: fixed-size")
    assert plan.estimate.gpu_hours <= 2000 and plan.tokens.num_tokens > 1e10


def test_target_tokens_are_the_tokens_of_this_run():
    plan = derive_plan(resolve(goals(30e9, target_tokens=4e9), load_catalog()))
    assert plan.tokens.num_tokens == 4e9 and plan.tokens.tokens_seen == 30e9


def test_a_checkpoint_that_has_seen_more_than_the_objective_trains_is_refused_with_the_numbers():
    with pytest.raises(PlanInputError) as err:
        derive_plan(resolve(goals(30e9), load_catalog()))
    text = str(err.value)
    assert "continue_from.tokens_seen: 30,000,000,000" in text
    assert f"{20 * ONE_B.num_params:,.0f} tokens in all for {ONE_B.num_params:,} parameters" in text
    assert "objective fixed-size with a budget" in text


def test_target_params_that_conflict_are_refused_naming_both_and_agreeing_ones_are_accepted():
    with pytest.raises(PlanInputError) as err:
        derive_plan(resolve(goals(1e9, target_params=7e9), load_catalog()))
    assert "target_params: 7,000,000,000" in str(err.value)
    assert f"continue_from.shape.num_params: {ONE_B.num_params:,}" in str(err.value)
    assert derive_plan(resolve(goals(1e9, target_params=1e9), load_catalog())).model == ONE_B  # within 2%: the same model


def test_the_shape_sets_vocab_and_context_a_conflicting_vocabulary_is_an_error_and_no_shape_cannot_plan():
    g = goals(0)
    assert g.vocab_size == 32000 and g.seq_len == 4096
    longer = goals(0, seq_len=8192)  # RoPE: continued pretraining at a longer context
    assert derive_plan(resolve(longer, load_catalog())).model.seq_length == 8192
    with pytest.raises(PlanInputError, match="continue_from.shape.vocab_size: 32,000"):
        derive_plan(resolve(goals(0, vocab_size=50000), load_catalog()))
    with pytest.raises(PlanInputError, match="continue_from.shape: missing"):
        derive_plan(resolve(Goals(continue_from={"checkpoint": "/ckpt", "tokens_seen": 0}), load_catalog()))
    with pytest.raises(PlanInputError, match="continue_from.shape.num_params"):
        derive_plan(resolve(goals(0, shape=ONE_B.model_copy(update={"num_params": 5})), load_catalog()))
    with pytest.raises(PlanInputError, match="tokens_seen"):
        validate_as(Goals, {"continue_from": {"checkpoint": "/x", "tokens_seen": -1}}, "goals.yaml")


def test_a_plan_with_continue_from_round_trips_through_yaml(tmp_path):
    from planner.io import write_model

    plan = derive_plan(resolve(goals("10B"), load_catalog()))
    write_model(plan, tmp_path / "plan.yaml")
    back = read_plan(tmp_path / "plan.yaml")
    assert back.goals.continue_from == plan.goals.continue_from and back.tokens.tokens_seen == 10e9


def test_a_transformers_config_gives_the_shape_import_model_checks_against(tmp_path):
    from executor.hf import hfconfig

    (tmp_path / "config.json").write_text(json.dumps(TINY_CONFIG))
    data = continue_from(tmp_path, 1e6)
    assert data["shape"]["num_params"] == 1_787_008  # the tiny demo model (tests/fixtures/tiny_plan.yaml)
    plan = derive_plan(resolve(Goals(continue_from=data, gpu="CPU", num_gpus=2, price_per_gpu_hour_usd=0.05), load_catalog()))
    hfconfig.check_against_plan(TINY_CONFIG, plan, "config.json")  # import-model accepts this plan's shape
    for change, field in (({"model_type": "gpt2"}, "model_type"), ({"rope_theta": 5e5}, "rope_theta"),
                          ({"rms_norm_eps": 1e-6}, "rms_norm_eps")):
        with pytest.raises(PlanInputError, match=field):
            shape_from_hf_config({**TINY_CONFIG, **change}, "config.json")
    with pytest.raises(PlanInputError, match="--tokens-seen: missing"):
        continue_from(tmp_path, None)


def test_an_llmplan_checkpoint_gives_its_plans_shape_and_the_tokens_its_steps_trained(tmp_path):
    root = tmp_path / "run" / "checkpoints"
    root.mkdir(parents=True)
    (root / "plan.yaml").write_text(TINY_PLAN.read_text())
    (root / "latest").write_text(json.dumps({"iteration": 150, "dir": "iter_0000150"}))
    (root / "train_meta.json").write_text(json.dumps({"vocab_size": 2285}))
    tiny = yaml.safe_load(TINY_PLAN.read_text())
    data = continue_from(tmp_path / "run", None)
    assert data["shape"]["num_params"] == tiny["model"]["num_params"]
    assert data["tokens_seen"] == 150 * tiny["recipe"]["global_batch_tokens"]
    (root / "imported_from.json").write_text(json.dumps({"hf_dir": "/hf", "tokens_seen": 1e6}))
    assert continue_from(tmp_path / "run", None)["tokens_seen"] == 1e6 + 150 * tiny["recipe"]["global_batch_tokens"]
    assert continue_from(tmp_path / "run", 5.0)["tokens_seen"] == 5.0  # --tokens-seen wins
    with pytest.raises(PlanInputError, match="holds no checkpoint"):
        continue_from(tmp_path, None)
