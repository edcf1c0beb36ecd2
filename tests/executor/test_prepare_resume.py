"""Resume: a real `llmplan prepare` killed with SIGKILL mid-run and run again produces files
byte-identical to an uninterrupted run; finished shards are not redone; Slurm array tasks, process
pools and shard counts all give the same datasets."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from executor.prepare.synthetic import dedup_corpus, pii_document, pii_items, vocabulary
from tui.cli import main

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]
FINAL = ["gen_text_document.bin", "gen_text_document.idx", "gen_val_text_document.bin",
         "gen_val_text_document.idx", "tokenizer.json", "stats.json", "manifest.json"]
ARGS = ["--vocab-size", "800", "--quiet"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("resume") / "gen.jsonl"
    rng, vocab = random.Random(9), vocabulary()
    texts = dedup_corpus(num_originals=900, num_exact=40, num_near=40, seed=9).texts
    texts += [pii_document(rng, vocab, k, v) for _ in range(5) for k, v in pii_items(rng).items()]
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def reference(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reference") / "data"
    assert main(["prepare", "--input", str(corpus), "--out", str(out), "--workers", "1", "--num-shards", "6", *ARGS]) == 0
    return out


def _same_files(a: Path, b: Path, names=FINAL) -> None:
    for name in names:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def _run_and_kill(cmd: list[str], marker: Path, timeout_s: float = 120) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    try:
        while not marker.exists():
            if proc.poll() is not None:
                raise AssertionError(f"prepare ended before {marker.name}: {proc.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker} after {timeout_s}s")
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)  # the whole run, as a node failure would
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize("stage", ["filter", "tokenize"])
def test_sigkill_mid_run_then_rerun_gives_byte_identical_files(stage, corpus, reference, tmp_path):
    out = tmp_path / "data"
    cmd = [sys.executable, "-m", "tui.cli", "prepare", "--input", str(corpus), "--out", str(out),
           "--workers", "1", "--num-shards", "6", *ARGS]
    _run_and_kill(cmd, out / "work" / stage / "00001.done")
    assert not (out / "manifest.json").exists()
    finished = {p: p.stat().st_mtime_ns for p in (out / "work").rglob("*.done")}
    assert main(cmd[3:]) == 0
    _same_files(out, reference)
    assert all(p.stat().st_mtime_ns == t for p, t in finished.items()), "finished shards were redone"


def test_a_finished_run_is_not_redone_and_other_settings_are_refused(corpus, reference, capsys):
    before = {p: p.stat().st_mtime_ns for p in reference.rglob("*") if p.is_file()}
    same = ["prepare", "--input", str(corpus), "--out", str(reference), "--workers", "1", "--num-shards", "6"]
    assert main([*same, *ARGS]) == 0
    assert main([*same, "--vocab-size", "900", "--quiet"]) == 2
    assert "different data settings" in capsys.readouterr().err
    assert {p: p.stat().st_mtime_ns for p in reference.rglob("*") if p.is_file()} == before


def test_slurm_array_tasks_then_one_finishing_run_match_the_local_run(corpus, reference, tmp_path, monkeypatch):
    out = tmp_path / "data"
    common = ["prepare", "--input", str(corpus), "--out", str(out), *ARGS]
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "6")
    for task in range(6):
        monkeypatch.setenv("SLURM_ARRAY_TASK_ID", str(task))
        assert main(common) == 0
        assert (out / "work" / "filter" / f"{task:05d}.done").exists()
    assert not (out / "work" / "dedup.done").exists()
    monkeypatch.delenv("SLURM_ARRAY_TASK_ID")
    monkeypatch.delenv("SLURM_ARRAY_TASK_COUNT")
    assert main([*common, "--num-shards", "6", "--workers", "1"]) == 0
    _same_files(out, reference)


def test_process_pool_and_shard_count_do_not_change_the_datasets(corpus, reference, tmp_path):
    out = tmp_path / "data"
    assert main(["prepare", "--input", str(corpus), "--out", str(out), "--workers", "2", "--num-shards", "3", *ARGS]) == 0
    _same_files(out, reference, [n for n in FINAL if n != "stats.json"])
    assert json.loads((out / "stats.json").read_text())["num_shards"] == 3
