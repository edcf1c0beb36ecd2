"""Shared helpers for the trainer tests: prepared data, torchrun launching, metrics reading.

Prepared data comes from `llmplan prepare` when that command exists;
otherwise from a small stand-in written here with the same real components: the pydoc corpus,
a byte-level BPE trained with HF `tokenizers`, and megatron's `IndexedDatasetBuilder`.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
TINY_PLAN = ROOT / "tests" / "fixtures" / "tiny_plan.yaml"
PYTHON = sys.executable
_DATA_CACHE = Path(os.environ.get("LLMPLAN_TEST_CACHE", "/tmp/llmplan-test-cache")) / "train-data-v1"


def _prepare_with_llmplan(out: Path) -> bool:
    """`llmplan prepare` on the tiny plan, when the data pipeline is installed."""
    probe = subprocess.run([PYTHON, "-m", "tui.cli", "prepare", "--help"], cwd=ROOT,
                           capture_output=True, text=True, env=test_env())
    if probe.returncode != 0:
        return False
    run = subprocess.run([PYTHON, "-m", "tui.cli", "prepare", str(TINY_PLAN), "--out", str(out)],
                         cwd=ROOT, capture_output=True, text=True, env=test_env(), timeout=600)
    return run.returncode == 0 and any(out.glob("*_text_document.idx"))


def _prepare_stand_in(out: Path) -> None:
    """pydoc topics -> byte-level BPE (4096) -> pydoc_text_document.bin/.idx, with an EOD token."""
    import numpy as np
    import pydoc_data.topics
    import torch
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    docs = [text for _, text in sorted(pydoc_data.topics.topics.items())]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=4096, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(docs, trainer)
    tok.save(str(out / "tokenizer.json"))
    eod = tok.token_to_id("<|endoftext|>")
    builder = IndexedDatasetBuilder(str(out / "pydoc_text_document.bin"), dtype=np.uint16)
    for text in docs:
        ids = tok.encode(text).ids + [eod]
        builder.add_document(torch.tensor(ids), [len(ids)])
    builder.finalize(str(out / "pydoc_text_document.idx"))
    (out / "stats.json").write_text(json.dumps({"eod_id": eod, "num_documents": len(docs)}))


@pytest.fixture(scope="session")
def prepared_data() -> Path:
    """A prepared data directory for the tiny plan (built once, cached across test sessions)."""
    marker = _DATA_CACHE / "DONE"
    if not marker.is_file():
        shutil.rmtree(_DATA_CACHE, ignore_errors=True)
        _DATA_CACHE.mkdir(parents=True)
        if not _prepare_with_llmplan(_DATA_CACHE):
            shutil.rmtree(_DATA_CACHE)
            _DATA_CACHE.mkdir(parents=True)
            _prepare_stand_in(_DATA_CACHE)
        marker.write_text("ok")
    return _DATA_CACHE


def unigram_entropy_nats(data_dir: Path) -> float:
    """H = -sum_t p(t) ln p(t) over the token frequencies of the prepared corpus (Shannon 1948)."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    counts: Counter = Counter()
    for prefix in sorted(data_dir.glob("*_text_document.idx")):
        ds = IndexedDataset(str(prefix.with_suffix("")))
        for i in range(len(ds)):
            counts.update(ds[i].tolist())
    total = sum(counts.values())
    return -sum(c / total * math.log(c / total) for c in counts.values())


def test_env(**extra: str) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), HF_DATASETS_OFFLINE="1",
               HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")
    env.update(extra)
    return env


test_env.__test__ = False  # a helper, not a test


def plan_variant(tmp: Path, name: str = "plan.yaml", **changes) -> Path:
    """The tiny plan with `section.field` values changed (e.g. layout.layout.tensor_model_parallel_size)."""
    data = yaml.safe_load(TINY_PLAN.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for key in parents:
            node = node[key]
        node[leaf] = value
    path = tmp / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def torchrun_argv(nproc: int, plan: Path, data: Path, out: Path, *extra: str) -> list[str]:
    return [PYTHON, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
            "-m", "executor.train", str(plan), "--data", str(data), "--out", str(out), *extra]


def run_train(nproc: int, plan: Path, data: Path, out: Path, *extra: str, timeout_s: float = 900):
    proc = subprocess.run(torchrun_argv(nproc, plan, data, out, *extra), cwd=ROOT, env=test_env(),
                          capture_output=True, text=True, timeout=timeout_s)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    return proc


def read_metrics(out: Path) -> list[dict]:
    lines = (out / "metrics.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def losses(out: Path) -> dict[int, float]:
    return {m["step"]: m["loss"] for m in read_metrics(out)}


def wait_for(predicate, proc, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert proc.poll() is None, "the job ended before the condition was met"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def latest_iteration(out) -> int | None:
    path = out / "checkpoints" / "latest"
    return json.loads(path.read_text())["iteration"] if path.is_file() else None


def test_prepared_data_is_a_readable_megatron_indexed_dataset_with_a_tokenizer(prepared_data):
    from megatron.core.datasets.indexed_dataset import IndexedDataset

    prefix = sorted(prepared_data.glob("*_text_document.idx"))[0].with_suffix("")
    ds = IndexedDataset(str(prefix))
    assert len(ds) > 10
    assert sum(len(ds[i]) for i in range(len(ds))) > 10_000
    assert (prepared_data / "tokenizer.json").is_file()
