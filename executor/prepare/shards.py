"""Per-shard stages and the files they leave in `OUT/work/`.

A shard's output is written into a temporary directory, renamed into place, and then marked done
with a JSON marker holding its counts; a re-run skips shards whose marker exists and redoes any
shard without one (its half-written temporary directory is discarded).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np

from executor.prepare.dedup import exact_key, normalise, signatures
from executor.prepare.filters import build_filters
from executor.prepare.pii import PIIRedactor
from executor.prepare.readers import read_shard
from executor.prepare.tokenize import Encoder
from executor.prepare.writer import ShardPrefixWriter, prefix_name
from planner.io import atomic_write_text
from planner.schema.data import DataSpec

BATCH_DOCS = 256


def shard_name(shard: int) -> str:
    return f"{shard:05d}"


def marker_path(stage_dir: Path, shard: int) -> Path:
    return stage_dir / f"{shard_name(shard)}.done"


def read_marker(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None


def _fresh_tmp(stage_dir: Path, shard: int) -> Path:
    """A private temporary directory, named by host and pid: a worker orphaned by a killed run (or a
    task on another node) may still be writing its own. Leftovers of dead local processes are removed."""
    stage_dir.mkdir(parents=True, exist_ok=True)
    host = socket.gethostname().replace("-", "_")
    for old in stage_dir.glob(f"{shard_name(shard)}.tmp-{host}-*"):
        pid = old.name.rsplit("-", 1)[-1]
        if not (pid.isdigit() and Path(f"/proc/{pid}").exists()):
            shutil.rmtree(old, ignore_errors=True)
    tmp = stage_dir / f"{shard_name(shard)}.tmp-{host}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    return tmp


def _commit(stage_dir: Path, shard: int, tmp: Path, counts: dict) -> dict:
    """fsync the shard's files, rename its directory into place, then write the marker."""
    for f in tmp.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())
    final = stage_dir / shard_name(shard)
    if marker_path(stage_dir, shard).exists():  # another process finished the same shard first
        shutil.rmtree(tmp, ignore_errors=True)
        return counts
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    atomic_write_text(marker_path(stage_dir, shard), json.dumps(counts, sort_keys=True, indent=1))
    return counts


def _save_npy(path: Path, array: np.ndarray) -> None:
    with open(path, "wb") as fh:
        np.save(fh, array)


def filter_shard(spec: DataSpec, work: Path, shard: int, num_shards: int) -> dict:
    """Read shard `shard` of every source, apply the quality filters, and store the kept texts with
    their exact-dedup keys and MinHash signatures."""
    stage_dir = work / "filter"
    tmp = _fresh_tmp(stage_dir, shard)
    filters = build_filters(spec.filters)
    docs_in: Counter[str] = Counter()
    dropped: dict[str, Counter[str]] = defaultdict(Counter)
    keys, sources, normed = [], [], []
    with open(tmp / "docs.jsonl", "w", encoding="utf-8") as out:
        for src_idx, src in enumerate(spec.sources):
            for text in read_shard(src, shard, num_shards, str(work / "hf-cache")):
                docs_in[src.name] += 1
                for step in filters:
                    text, reason = step.apply(text)
                    if text is None:
                        dropped[step.name][reason] += 1
                        break
                else:
                    norm = normalise(text)
                    keys.append(exact_key(norm))
                    sources.append(src_idx)
                    normed.append(norm)
                    out.write(json.dumps({"s": src_idx, "t": text}, ensure_ascii=False) + "\n")
    _save_npy(tmp / "keys.npy", np.asarray(keys, dtype=np.uint64))
    _save_npy(tmp / "sources.npy", np.asarray(sources, dtype=np.int32))
    _save_npy(tmp / "sigs.npy", signatures(normed, spec.dedup) if spec.dedup.near
              else np.zeros((len(keys), 0), dtype=np.uint32))
    lines = {f.name: dict(f.line_counts) for f in filters if getattr(f, "line_counts", None)}
    return _commit(stage_dir, shard, tmp, {
        "docs_in": dict(docs_in), "docs_kept": len(keys),
        "dropped": {k: dict(v) for k, v in dropped.items()}, "lines_removed": lines})


def iter_kept_docs(work: Path, shard: int, remove: np.ndarray, valid: np.ndarray, offset: int):
    """(source index, split, text) of the documents of a filtered shard that survive dedup."""
    with open(work / "filter" / shard_name(shard) / "docs.jsonl", encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if remove[offset + i]:
                continue
            row = json.loads(line)
            yield row["s"], ("valid" if valid[offset + i] else "train"), row["t"]


def tokenize_shard(spec: DataSpec, work: Path, shard: int, offset: int, tokenizer_path: Path) -> dict:
    """Redact PII, tokenize and write this shard's documents, one indexed dataset per source and split."""
    remove = np.load(work / "dedup" / "remove.npy")
    valid = np.load(work / "dedup" / "valid.npy")
    stage_dir = work / "tokenize"
    tmp = _fresh_tmp(stage_dir, shard)
    redactor = PIIRedactor(spec.pii)
    encoder = Encoder(tokenizer_path, spec.tokenizer.eod_token)
    writers: dict[tuple[int, str], ShardPrefixWriter] = {}
    batch: list[tuple[int, str, str]] = []

    def flush() -> None:
        for (src_idx, split, _), ids in zip(batch, encoder.encode([t for _, _, t in batch])):
            key = (src_idx, split)
            if key not in writers:
                writers[key] = ShardPrefixWriter(tmp / prefix_name(spec.sources[src_idx].name, split))
            writers[key].add(ids)
        batch.clear()

    for src_idx, split, text in iter_kept_docs(work, shard, remove, valid, offset):
        batch.append((src_idx, split, redactor.apply(text)))
        if len(batch) >= BATCH_DOCS:
            flush()
    flush()
    parts = {}
    for (src_idx, split), w in sorted(writers.items()):
        w.finalize()
        parts[prefix_name(spec.sources[src_idx].name, split)] = {"docs": w.num_docs, "tokens": w.num_tokens}
    return _commit(stage_dir, shard, tmp, {"pii_redactions": dict(redactor.counts), "parts": parts})
