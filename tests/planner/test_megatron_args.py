"""Megatron arguments of a plan parse with Megatron-LM's own argument parser.

Where `megatron.training` imports (a Megatron-LM checkout on the path), its `parse_args` parses
them. Otherwise they are parsed by an argparse parser rebuilt from tests/planner/megatron_arguments.json:
every option of that parser (name, nargs, type, choices) at NVIDIA/Megatron-LM commit d98e8a6
(d98e8a64ddf34856e74b24714e3bedb2f5a39553), recorded by scripts/megatron_arguments.py, which calls the
real `megatron.training.arguments.parse_args` of that commit. The cross-argument rules checked after
parsing are those of its `validate_args` (arguments.py @ d98e8a6, lines 1024-1029 and 1441-1442).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pytest

from executor.prepare.writer import TRAIN_SUFFIX, VAL_SUFFIX
from planner.derive import derive_plan
from planner.training.megatron_args import megatron_argv, render_megatron_args
from planner.resolve import resolve
from planner.schema import Goals
from presets import load_catalog
from presets import load_goals_preset

REFERENCE = json.loads((Path(__file__).parent / "megatron_arguments.json").read_text(encoding="utf-8"))
TYPES = {"int": int, "float": float, "str": str, None: None}
PATHS = ["--tokenizer-type", "HuggingFaceTokenizer", "--tokenizer-model", "TOKENIZER",
         "--save", "CHECKPOINT_DIR", "--load", "CHECKPOINT_DIR"]


def reference_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(allow_abbrev=False, exit_on_error=False, add_help=False)
    for name, spec in REFERENCE["options"].items():
        if spec["nargs"] == 0:
            parser.add_argument(name, action="store_true")
            continue
        kwargs = {"type": TYPES[spec["type"]]}
        if spec["nargs"] is not None:
            kwargs["nargs"] = spec["nargs"]
        if spec["choices"] and spec["type"] in (None, "str"):
            kwargs["choices"] = spec["choices"]
        parser.add_argument(name, **kwargs)
    return parser


def parse(argv: list[str]) -> argparse.Namespace:
    """Megatron-LM's own parser when importable, else the recorded one; unknown flags are errors."""
    try:
        from megatron.training.arguments import parse_args
    except ImportError:
        args, unknown = reference_parser().parse_known_args(argv + PATHS)
        assert unknown == [], f"not Megatron-LM arguments at {REFERENCE['commit'][:7]}: {unknown}"
        return args
    saved, sys.argv = sys.argv, ["pretrain_gpt.py", *argv, *PATHS]
    try:
        return parse_args(ignore_unknown_args=False)
    finally:
        sys.argv = saved


def megatron_rules(args: argparse.Namespace) -> list[str]:
    """The cross-argument rules of Megatron's validate_args that these flags touch."""
    problems = []
    if args.overlap_param_gather and not (args.use_distributed_optimizer and args.overlap_grad_reduce):
        problems.append("--overlap-param-gather needs --use-distributed-optimizer and --overlap-grad-reduce")
    if args.tp_comm_overlap and not args.sequence_parallel:
        problems.append("--tp-comm-overlap needs --sequence-parallel")
    if args.tp_comm_overlap and args.transformer_impl != "transformer_engine":
        problems.append("--tp-comm-overlap needs Transformer Engine")
    return problems


def goals(preset: str = "default", **changes) -> Goals:
    base = load_goals_preset(preset).model_dump(mode="json")
    training = {**base.get("training", {}), **changes.pop("training", {})}
    return Goals.model_validate({**base, **changes, "training": training})


@pytest.fixture(scope="module")
def plans():
    default = derive_plan(resolve(goals(), load_catalog()))
    cp_layout = default.layout.layout.model_copy(update={"context_parallel_size": 2, "data_parallel_size": 16})
    return {
        "default": default,
        "wsd-rampup": derive_plan(resolve(goals(training={"lr_schedule": "wsd", "batch_rampup": True}), load_catalog())),
        "tiny-cpu": derive_plan(resolve(load_goals_preset("tiny-cpu"), load_catalog())),
        "context-parallel": default.model_copy(update={"layout": default.layout.model_copy(
            update={"layout": cp_layout})}),
    }


@pytest.mark.parametrize("name", ["default", "wsd-rampup", "tiny-cpu", "context-parallel"])
def test_every_argument_parses_with_megatrons_parser_and_passes_its_rules(plans, name):
    plan = plans[name]
    args = parse(megatron_argv(plan))
    assert megatron_rules(args) == []
    lay = plan.layout.layout
    assert (args.tensor_model_parallel_size, args.pipeline_model_parallel_size, args.context_parallel_size) == (
        lay.tensor_model_parallel_size, lay.pipeline_model_parallel_size, lay.context_parallel_size)
    assert args.train_iters == plan.recipe.train_steps and args.eval_interval == plan.recipe.eval_interval_steps


def test_the_plans_checkpoint_interval_is_the_save_interval(plans):
    for plan in plans.values():
        args = parse(megatron_argv(plan))
        assert args.save_interval == plan.reliability.checkpoint_interval_steps


def test_the_overlap_the_step_time_model_assumes_is_switched_on(plans):
    args = parse(megatron_argv(plans["default"]))
    lay = plans["default"].layout.layout
    assert lay.tensor_model_parallel_size > 1 and lay.sequence_parallel  # the preset's layout exercises TP overlap
    assert args.tp_comm_overlap and args.overlap_grad_reduce and args.overlap_param_gather
    cp = parse(megatron_argv(plans["context-parallel"]))
    assert cp.cp_comm_type == ["p2p"]
    tiny = parse(megatron_argv(plans["tiny-cpu"]))
    assert not tiny.tp_comm_overlap  # no tensor parallelism, nothing to overlap


def test_ramp_up_and_wsd_reach_the_parser(plans):
    plan = plans["wsd-rampup"]
    args = parse(megatron_argv(plan))
    assert args.rampup_batch_size == [str(v) for v in plan.recipe.rampup_batch_size] or \
        args.rampup_batch_size == list(plan.recipe.rampup_batch_size)
    assert args.lr_decay_style == "WSD" and args.lr_wsd_decay_iters == plan.recipe.lr_wsd_decay_steps


def test_the_data_blend_names_the_prefixes_llmplan_prepare_writes(plans):
    plan = plans["default"]
    args = parse(megatron_argv(plan))
    names = [s.name for s in plan.data.sources]
    assert args.train_data_path[1::2] == [f"DATA_DIR/{n}{TRAIN_SUFFIX}" for n in names]
    assert args.valid_data_path[1::2] == [f"DATA_DIR/{n}{VAL_SUFFIX}" for n in names]
    assert [float(w) for w in args.train_data_path[0::2]] == [s.weight for s in plan.data.sources]


def test_the_rendered_snippet_is_the_same_arguments(plans):
    text = render_megatron_args(plans["default"])
    flags = [tok for tok in text.replace("\\\n", " ").split() if tok.startswith("--")]
    assert [f for f in megatron_argv(plans["default"]) if f.startswith("--")] == flags[:-4]
    assert "--save-interval" in flags and "--tp-comm-overlap" in flags


def test_a_flag_megatron_does_not_know_is_caught():
    with pytest.raises(AssertionError, match="--save-every"):
        parse(["--save-every", "10"])
