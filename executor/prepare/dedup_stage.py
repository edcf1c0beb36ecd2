"""The global stages between the two per-shard passes: deduplication over all shards, the choice
of validation documents, and the tokenizer (trained on a sample of the surviving, redacted text)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np

from executor.prepare.dedup import bands_and_rows, detection_probability, exact_duplicates, near_duplicates
from executor.prepare.pii import PIIRedactor
from executor.prepare.tokenize import copy_tokenizer, train_bpe
from planner.io import atomic_write_text
from planner.schema.data import DataSpec
from executor.prepare import shards as sh


def _load(work: Path, num_shards: int, name: str) -> list[np.ndarray]:
    return [np.load(work / "filter" / sh.shard_name(i) / name) for i in range(num_shards)]


def choose_validation(keys: np.ndarray, sources: np.ndarray, remove: np.ndarray, fraction: float) -> np.ndarray:
    """Per source, round(fraction * kept) documents (at least one when a source keeps two or more)
    with the smallest content keys: a pseudo-random choice that does not depend on sharding."""
    valid = np.zeros(len(keys), dtype=bool)
    if fraction <= 0:
        return valid
    for src in np.unique(sources):
        idx = np.flatnonzero((sources == src) & ~remove)
        n_val = max(1, round(fraction * len(idx))) if len(idx) >= 2 else 0
        if n_val:
            valid[idx[np.argsort(keys[idx], kind="stable")[:n_val]]] = True
    return valid


def _save(path: Path, array: np.ndarray) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as fh:
        np.save(fh, array)
    tmp.replace(path)


def run_dedup(spec: DataSpec, work: Path, num_shards: int) -> dict:
    """Exact then near-duplicate removal across all shards; the first document of each cluster stays."""
    keys = np.concatenate(_load(work, num_shards, "keys.npy")).astype(np.uint64)
    sources = np.concatenate(_load(work, num_shards, "sources.npy")).astype(np.int32)
    exact = exact_duplicates(keys) if spec.dedup.exact else np.zeros(len(keys), dtype=bool)
    near = np.zeros(len(keys), dtype=bool)
    if spec.dedup.near and len(keys):
        sigs = np.concatenate(_load(work, num_shards, "sigs.npy"))
        near = near_duplicates(sigs, ~exact, spec.dedup)
    remove = exact | near
    valid = choose_validation(keys, sources, remove, spec.validation_fraction)
    (work / "dedup").mkdir(parents=True, exist_ok=True)
    _save(work / "dedup" / "remove.npy", remove)
    _save(work / "dedup" / "valid.npy", valid)
    bands, rows = bands_and_rows(spec.dedup)
    counts = {"docs": int(len(keys)), "exact_duplicates": int(exact.sum()), "near_duplicates": int(near.sum()),
              "validation_docs": int(valid.sum()), "lsh_bands": bands, "lsh_rows": rows,
              "p_detect_at_threshold": round(detection_probability(spec.dedup.threshold, bands, rows), 4)}
    atomic_write_text(work / "dedup.done", json.dumps(counts, sort_keys=True, indent=1))
    return counts


def _sample_texts(spec: DataSpec, work: Path, num_shards: int, offsets: list[int]):
    """The first `sample_docs` training documents in global order, PII-redacted."""
    remove = np.load(work / "dedup" / "remove.npy")
    valid = np.load(work / "dedup" / "valid.npy")
    redactor = PIIRedactor(spec.pii)
    docs = (t for i in range(num_shards) for _, split, t in sh.iter_kept_docs(work, i, remove, valid, offsets[i])
            if split == "train")
    return (redactor.apply(t) for t in itertools.islice(docs, spec.tokenizer.sample_docs))


def build_tokenizer(spec: DataSpec, work: Path, out: Path, num_shards: int, offsets: list[int]) -> None:
    target = out / "tokenizer.json"
    if spec.tokenizer.kind == "file":
        copy_tokenizer(spec.tokenizer, target)
    else:
        train_bpe(_sample_texts(spec, work, num_shards, offsets), spec.tokenizer, target)
    atomic_write_text(work / "tokenizer.done", "{}")
