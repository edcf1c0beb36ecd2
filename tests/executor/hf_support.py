"""Shared by the tests/executor/test_hf_*.py files: tiny runs trained once, exported once.

Each run is a real `torchrun -m executor.train` of the tiny plan on the prepared pydoc data
(`test_train_support.prepared_data`), 20 steps. Trained runs are cached on disk under
LLMPLAN_TEST_CACHE, keyed by a hash of the plan and of the executor/train/ sources, so every HF test
file (and a re-run with unchanged trainer code) reuses them instead of training again. The export
(the code under test) is redone once per test session into a fresh directory.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from test_train_support import (  # noqa: F401 - prepared_data is a fixture
    _DATA_CACHE,
    ROOT,
    TINY_PLAN,
    plan_variant,
    prepared_data,
    run_train,
    test_env,
)

NUM_STEPS = 20
LAYOUTS = {"tp2": {}, "dp2": {"layout__layout__tensor_model_parallel_size": 1,
                              "layout__layout__data_parallel_size": 2}}


def _code_hash() -> str:
    h = hashlib.sha256(TINY_PLAN.read_bytes())
    for path in sorted((ROOT / "executor" / "train").glob("*.py")):
        h.update(path.read_bytes())
    return h.hexdigest()[:12]


def cached_run(layout: str, data: Path) -> Path:
    """RUN_DIR of the tiny plan at `layout` after 20 steps (trained once per trainer version)."""
    base = _DATA_CACHE.parent / f"hf-{layout}-{_code_hash()}"
    run, marker = base / "run", base / "DONE"
    if not marker.is_file():
        shutil.rmtree(base, ignore_errors=True)
        base.mkdir(parents=True)
        plan = plan_variant(base, **LAYOUTS[layout]) if LAYOUTS[layout] else TINY_PLAN
        run_train(2, plan, data, run, "--max-steps", str(NUM_STEPS))
        marker.write_text("ok")
    return run


def exported_run(layout: str, data: Path, tmp: Path) -> Path:
    """A copy of the cached run (checkpoints, metrics) with its fresh export in RUN_DIR/hf."""
    from exec_helpers import cli

    run = tmp / "run"
    shutil.copytree(cached_run(layout, data), run)
    code, out = cli("export-model", str(run), "--format", "hf", "-o", str(run / "hf"))
    assert code == 0, out
    return run


@pytest.fixture(scope="session")
def tp2_run(prepared_data, tmp_path_factory) -> Path:
    return exported_run("tp2", prepared_data, tmp_path_factory.mktemp("hf-tp2"))


@pytest.fixture(scope="session")
def dp2_run(prepared_data, tmp_path_factory) -> Path:
    return exported_run("dp2", prepared_data, tmp_path_factory.mktemp("hf-dp2"))


def megatron_model(run: Path):
    """(GPTModel at TP=1, TokenizerMeta) through the evaluator's loader."""
    from executor.train.checkpoint import load_for_inference

    return load_for_inference(run)


def hf_model(path: Path):
    import torch
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(str(path), dtype=torch.float32, attn_implementation="eager").eval()
