"""Deduplication: exact duplicates on normalised text, near duplicates by MinHash-LSH on word
5-grams, found across shards, the first document of each cluster kept.

LSH detection probability 1 - (1 - s^r)^b: Leskovec, Rajaraman & Ullman, Mining of Massive
Datasets, section 3.4.2; datatrove's 14 bands x 8 rows figures are in its minhash docs."""

from __future__ import annotations

import json

import numpy as np
import pytest

from executor.prepare import Pipeline
from executor.prepare.dedup import (detection_probability, exact_duplicates, exact_key, near_duplicates,
                                    normalise)
from executor.prepare.synthetic import dedup_corpus
from planner.schema.data import DataSource, DataSpec, DedupSpec


def test_lsh_detection_probability_matches_the_banding_formula():
    # datatrove's default 14 bands x 8 rows, published as 0.57 at s=0.70, 0.77 at 0.75, 0.92 at 0.80,
    # 0.99 at 0.85 (two-digit figures; by hand 0.5645, 0.7716, 0.9236, 0.9884)
    got = [detection_probability(s, 14, 8) for s in (0.70, 0.75, 0.80, 0.85)]
    assert got == pytest.approx([0.57, 0.77, 0.92, 0.99], abs=0.01)
    assert got == pytest.approx([0.5645, 0.7716, 0.9236, 0.9884], abs=1e-4)
    assert detection_probability(0.8, 16, 8) == pytest.approx(1 - (1 - 0.8 ** 8) ** 16, rel=1e-12)


def test_exact_duplicates_compare_normalised_text():
    texts = ["Hello, World!  Again.", "hello world again", "Hello world, once more."]
    keys = np.array([exact_key(normalise(t)) for t in texts], dtype=np.uint64)
    assert exact_duplicates(keys).tolist() == [False, True, False]


def test_a_chain_of_near_duplicates_keeps_only_its_first_document():
    # 4 permutations in 2 bands of 2 rows: doc0~doc1 share band 0, doc1~doc2 share band 1, doc0 !~ doc2
    sigs = np.array([[1, 2, 3, 4], [1, 2, 9, 9], [7, 7, 9, 9], [5, 5, 5, 5]], dtype=np.uint32)
    spec = DedupSpec(num_perm=4, num_bands=2)
    assert near_duplicates(sigs, np.ones(4, dtype=bool), spec).tolist() == [False, True, True, False]


def test_planted_duplicates_are_found_across_shards_with_high_recall_and_precision(tmp_path):
    corpus = dedup_corpus(num_originals=800, num_exact=100, num_near=200, seed=3)
    path = tmp_path / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": t}) + "\n" for t in corpus.texts), encoding="utf-8")
    spec = DataSpec(sources=[DataSource(name="gen", path=str(path))], num_shards=4, validation_fraction=0)
    pipe = Pipeline(spec, tmp_path / "out", workers=1, quiet=True)
    pipe.run("filter")
    pipe.run("dedup")
    markers = pipe.markers("filter")
    assert sum(m["docs_kept"] for m in markers) == len(corpus.texts), "generated documents must pass the filters"
    removed = set(np.flatnonzero(np.load(tmp_path / "out" / "work" / "dedup" / "remove.npy")).tolist())
    exact_found = corpus.exact_dup_idx & removed
    near_found = corpus.near_dup_idx & removed
    wrong = removed - corpus.exact_dup_idx - corpus.near_dup_idx
    near_recall = len(near_found) / len(corpus.near_dup_idx)
    precision = (len(exact_found) + len(near_found)) / len(removed)
    bounds = np.cumsum([m["docs_kept"] for m in markers])
    split_pairs = sum(np.searchsorted(bounds, i, side="right") != np.searchsorted(bounds, corpus.texts.index(corpus.texts[i]), side="right")
                      for i in corpus.exact_dup_idx)
    print(f"\nexact: {len(exact_found)}/{len(corpus.exact_dup_idx)} found ({split_pairs} split over shards); "
          f"near (5-gram Jaccard {min(corpus.similarities):.2f}-{max(corpus.similarities):.2f}): "
          f"{len(near_found)}/{len(corpus.near_dup_idx)} recall {near_recall:.3f}; "
          f"precision {precision:.3f} ({len(wrong)} originals removed wrongly)")
    assert exact_found == corpus.exact_dup_idx
    assert split_pairs > 0
    assert near_recall >= 0.95
    assert precision >= 0.99
    done = json.loads((tmp_path / "out" / "work" / "dedup.done").read_text())
    assert done["exact_duplicates"] == len(corpus.exact_dup_idx)
    assert done["near_duplicates"] == len(near_found) + len(wrong)
