"""`llmplan prepare` from the command line, the readers, and the data section's validation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydantic import ValidationError

from executor.prepare.corpus import pydoc_documents
from executor.prepare.readers import read_shard, resolve_format
from planner.schema.data import DataSource, DedupSpec, TokenizerSpec
from tui.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_tiny_plan_prepares_the_embedded_corpus_from_the_command_line(tmp_path, tiny_plan_path):
    out = tmp_path / "data"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}
    start = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "tui.cli", "prepare", str(tiny_plan_path), "--out", str(out)],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    print(f"\ntiny plan prepare: {time.monotonic() - start:.1f}s wall")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "prepared" in proc.stdout
    stats = json.loads((out / "stats.json").read_text())
    manifest = json.loads((out / "manifest.json").read_text())
    assert stats["docs_in"] == len(list(pydoc_documents()))
    assert stats["docs_out"] >= 40 and stats["tokens_out"]["pydoc"] >= 10_000
    assert manifest["train"] == {"prefixes": ["pydoc_text_document"], "weights": [1.0]}
    assert manifest["valid"] == {"prefixes": ["pydoc_val_text_document"], "weights": [1.0]}
    assert manifest["vocab_size"] <= 4096 and manifest["dtype"] == "uint16" and manifest["eod_token_id"] == 0
    for name in ("pydoc_text_document", "pydoc_val_text_document"):
        assert (out / f"{name}.bin").stat().st_size > 0 and (out / f"{name}.idx").exists()


@pytest.mark.parametrize("argv, words", [
    (["prepare", "--input", "no/such/file.jsonl", "--out", "X"], ["no such file", "path"]),
    (["prepare", "--out", "X"], ["nothing to prepare"]),
    (["prepare", "--input", "a.txt", "--out", "X", "--shard-index", "4", "--num-shards", "4"], ["--shard-index", "0 to 3"]),
    (["prepare", "--input", "a.txt", "--out", "X", "--stage", "dedup", "--shard-index", "0", "--num-shards", "2"],
     ["--stage dedup", "--shard-index"]),
])
def test_bad_input_exits_2_with_one_message_naming_the_option(argv, words, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.txt").write_text("Some text.\n")
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("error:") == 1 and "Traceback" not in err
    assert not (tmp_path / "X").exists()
    assert all(w in err for w in words), err


def test_plan_and_inputs_together_are_refused(tiny_plan_path, tmp_path, capsys):
    assert main(["prepare", str(tiny_plan_path), "--input", "x.jsonl", "--out", str(tmp_path)]) == 2
    assert "not both" in capsys.readouterr().err


def test_readers_give_every_document_once_in_order_over_shards(tmp_path):
    import pandas as pd

    texts = [f"Document number {i} says hello." for i in range(23)]
    (tmp_path / "a.jsonl").write_text("".join(json.dumps({"body": t}) + "\n" for t in texts))
    pd.DataFrame({"text": texts}).to_parquet(tmp_path / "a.parquet")
    pd.DataFrame({"text": texts}).to_csv(tmp_path / "a.csv", index=False)
    (tmp_path / "a.txt").write_text("\n\n".join(texts))
    (tmp_path / "dir").mkdir()
    for i, t in enumerate(texts):
        (tmp_path / "dir" / f"{i:03d}.txt").write_text(t)
    cases = {"a.jsonl": "body", "a.parquet": "text", "a.csv": "text", "a.txt": "text", "dir": "text"}
    for name, field in cases.items():
        src = DataSource(name="s", path=str(tmp_path / name), text_field=field)
        got = [t.strip() for shard in range(4) for t in read_shard(src, shard, 4, str(tmp_path / "cache"))]
        assert got == texts, (name, resolve_format(src))


def test_hub_names_are_refused_offline_with_a_clear_message(monkeypatch):
    from planner.errors import PlanInputError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    src = DataSource(name="web", path="HuggingFaceFW/fineweb")
    assert resolve_format(src) == "hub"
    with pytest.raises(PlanInputError, match="offline"):
        list(read_shard(src, 0, 1, "unused"))


def test_builtin_corpus_is_sections_of_english_prose():
    docs = list(pydoc_documents())
    assert len(docs) >= 150
    assert all(len(d.split()) >= 20 for d in docs)
    assert sum(" the " in d for d in docs) >= 0.9 * len(docs)


def test_schema_checks_bands_against_permutations_and_file_tokenizers_need_a_path():
    with pytest.raises(ValidationError, match="must divide num_perm"):
        DedupSpec(num_perm=128, num_bands=10)
    with pytest.raises(ValidationError, match="needs path"):
        TokenizerSpec(kind="file")


def test_a_source_that_loses_every_document_is_reported_with_the_reasons(tmp_path, capsys):
    (tmp_path / "tiny.jsonl").write_text("".join(json.dumps({"text": f"Just {i} words here."}) + "\n" for i in range(5)))
    out = tmp_path / "data"
    assert main(["prepare", "--input", str(tmp_path / "tiny.jsonl"), "--out", str(out), "--workers", "1",
                 "--num-shards", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no training documents left for source(s) tiny" in err and "data.filters" in err
    assert json.loads((out / "stats.json").read_text())["docs_after_filters"] == 0
    assert not (out / "manifest.json").exists()
