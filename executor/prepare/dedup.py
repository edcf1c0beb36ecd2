"""Exact and near-duplicate detection.

Exact: a 64-bit key (BLAKE2b) of the normalised text; the first document with a key is kept.
Near: MinHash signatures (Broder 1997, "On the resemblance and containment of documents") of word
n-gram shingles, computed per shard with `datasketch.MinHash`, then one global clustering stage:
LSH with b bands of r rows (`datasketch.MinHashLSH`; a pair of Jaccard similarity s shares a band
with probability 1 - (1 - s^r)^b, Leskovec, Rajaraman & Ullman, "Mining of Massive Datasets",
section 3.4.2), union-find over colliding pairs, and the first document of each cluster kept.
This mirrors datatrove's signature -> buckets -> cluster -> filter stages, so a duplicate pair split
over two shards is found like any other.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import zlib
from collections.abc import Iterable

import numpy as np

from planner.schema.data import DedupSpec

PUNCT_RE = re.compile(r"[^\w\s]+")
SPACE_RE = re.compile(r"\s+")
DIGITS_RE = re.compile(r"\d+")


def normalise(text: str) -> str:
    """datatrove's `simplify_text` defaults: lowercase, punctuation removed, whitespace collapsed,
    diacritics stripped, digit runs replaced by 0."""
    text = PUNCT_RE.sub(" ", text.lower())
    text = SPACE_RE.sub(" ", text).strip()
    if not text.isascii():
        text = "".join(c for c in unicodedata.normalize("NFD", text) if unicodedata.category(c) != "Mn")
    return DIGITS_RE.sub("0", text)


def exact_key(normalised: str) -> int:
    return int.from_bytes(hashlib.blake2b(normalised.encode("utf-8"), digest_size=8).digest(), "little")


def shingles(normalised: str, n: int) -> list[bytes]:
    """Distinct word n-grams (the whole text when it has fewer than n words)."""
    words = normalised.split()
    if len(words) <= n:
        return [" ".join(words).encode("utf-8")]
    return list({" ".join(words[i:i + n]).encode("utf-8") for i in range(len(words) - n + 1)})


def bands_and_rows(spec: DedupSpec) -> tuple[int, int]:
    """(b, r) from the plan, or datasketch's optimum for `threshold` when num_bands is null."""
    if spec.num_bands is not None:
        return spec.num_bands, spec.num_perm // spec.num_bands
    from datasketch.lsh import _optimal_param  # deferred: datasketch imports scipy (~1.7 s)

    return _optimal_param(spec.threshold, spec.num_perm, 0.5, 0.5)


def detection_probability(similarity: float, bands: int, rows: int) -> float:
    """P(a pair of Jaccard `similarity` shares at least one band) = 1 - (1 - s^r)^b (MMDS 3.4.2)."""
    return 1.0 - (1.0 - similarity ** rows) ** bands


def signatures(normalised_texts: Iterable[str], spec: DedupSpec) -> np.ndarray:
    """MinHash signatures, one row of `num_perm` uint32 values per text (datasketch, affine32 scheme,
    CRC-32 of each shingle: deterministic across processes, unlike Python's `hash`)."""
    from datasketch import MinHash  # deferred: datasketch imports scipy (~1.7 s)

    rows = [m.hashvalues for m in MinHash.generator(
        (shingles(t, spec.ngram_size) for t in normalised_texts),
        num_perm=spec.num_perm, seed=spec.seed, hashfunc=zlib.crc32)]
    if not rows:
        return np.zeros((0, spec.num_perm), dtype=np.uint32)
    return np.asarray(rows, dtype=np.uint32)


class UnionFind:
    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, x: int) -> int:
        root = x
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[x] != root:
            self.parent[x], x = root, self.parent[x]
        return root

    def union(self, a: int, b: int) -> None:
        ra, rb = self.find(a), self.find(b)
        if ra != rb:
            self.parent[max(ra, rb)] = min(ra, rb)  # the root is always the earliest document


def exact_duplicates(keys: np.ndarray) -> np.ndarray:
    """Mask of documents whose key was seen earlier."""
    _, first = np.unique(keys, return_index=True)
    dup = np.ones(len(keys), dtype=bool)
    dup[first] = False
    return dup


def near_duplicates(sigs: np.ndarray, candidates: np.ndarray, spec: DedupSpec) -> np.ndarray:
    """Mask of documents that are not the first of their MinHash-LSH cluster.

    Only rows where `candidates` is True take part (exact duplicates are already gone)."""
    from datasketch import MinHash, MinHashLSH  # deferred: datasketch imports scipy (~1.7 s)

    bands, rows = bands_and_rows(spec)
    lsh = MinHashLSH(num_perm=spec.num_perm, params=(bands, rows))
    uf = UnionFind(len(sigs))
    for i in np.flatnonzero(candidates):
        m = MinHash(num_perm=spec.num_perm, seed=spec.seed, hashvalues=sigs[i], scheme="affine32")
        for j in lsh.query(m):
            uf.union(int(i), int(j))
        lsh.insert(int(i), m, check_duplication=False)
    dup = np.zeros(len(sigs), dtype=bool)
    for i in np.flatnonzero(candidates):
        dup[i] = uf.find(int(i)) != i
    return dup
