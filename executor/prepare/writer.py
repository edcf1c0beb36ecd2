"""Writer: Megatron-Core indexed datasets (`.bin` token ids + `.idx` index), one prefix per source
and split, built with `megatron.core.datasets.indexed_dataset.IndexedDatasetBuilder`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

TRAIN_SUFFIX = "_text_document"
VAL_SUFFIX = "_val_text_document"


def prefix_name(source: str, split: str) -> str:
    """`pydoc_text_document` for training data, `pydoc_val_text_document` for validation."""
    return source + (VAL_SUFFIX if split == "valid" else TRAIN_SUFFIX)


def token_dtype(vocab_size: int) -> type[np.number]:
    """uint16 when every id fits (Megatron's `DType.optimal_dtype`: vocab < 65500), else int32."""
    from megatron.core.datasets.indexed_dataset import DType  # deferred: megatron-core takes seconds to import

    return DType.optimal_dtype(vocab_size)


class ShardPrefixWriter:
    """One shard's documents of one prefix as plain arrays (`.tokens.npy` int32 ids, `.lengths.npy`),
    so shard workers need no torch/megatron import; the merge stage writes Megatron's format.
    `add(ids)` takes one document including its end-of-document id."""

    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.chunks: list[np.ndarray] = []
        self.lengths: list[int] = []

    @property
    def num_docs(self) -> int:
        return len(self.lengths)

    @property
    def num_tokens(self) -> int:
        return sum(self.lengths)

    def add(self, ids: list[int]) -> None:
        self.chunks.append(np.asarray(ids, dtype=np.int32))
        self.lengths.append(len(ids))

    def finalize(self) -> None:
        tokens = np.concatenate(self.chunks) if self.chunks else np.zeros(0, dtype=np.int32)
        for suffix, array in ((".tokens.npy", tokens), (".lengths.npy", np.asarray(self.lengths, dtype=np.int64))):
            with open(str(self.prefix) + suffix, "wb") as fh:
                np.save(fh, array)


def merge_prefixes(parts: list[Path], final: Path, dtype: type[np.number]) -> None:
    """Write the shards' documents, in shard order, with Megatron-Core's `IndexedDatasetBuilder`
    into temp files, then rename both into `final`.bin/.idx."""
    # deferred: megatron-core takes seconds to import
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    tmp = final.with_name(f".{final.name}.tmp")
    builder = IndexedDatasetBuilder(str(tmp) + ".bin", dtype=dtype)
    for part in parts:
        tokens = np.load(str(part) + ".tokens.npy", mmap_mode="r")
        lengths = np.load(str(part) + ".lengths.npy")
        ends = np.cumsum(lengths)
        for start, end in zip(ends - lengths, ends):
            # the lengths list holds the real length: [0] would write empty documents
            builder.add_document(tokens[start:end], [int(end - start)])
    builder.finalize(str(tmp) + ".idx")
    for ext in (".bin", ".idx"):
        with open(str(tmp) + ext, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(str(tmp) + ".bin", str(final) + ".bin")
    os.replace(str(tmp) + ".idx", str(final) + ".idx")
