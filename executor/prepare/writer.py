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
    from megatron.core.datasets.indexed_dataset import DType

    return DType.optimal_dtype(vocab_size)


class PrefixWriter:
    """Documents of one prefix; `add(ids)` takes one document including its end-of-document id."""

    def __init__(self, prefix: Path, dtype: type[np.number]) -> None:
        from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

        self.prefix = prefix
        self.builder = IndexedDatasetBuilder(str(prefix) + ".bin", dtype=dtype)
        self.num_docs = 0
        self.num_tokens = 0

    def add(self, ids: list[int]) -> None:
        # the lengths list holds the real length: [0] would write empty documents
        self.builder.add_document(np.asarray(ids), [len(ids)])
        self.num_docs += 1
        self.num_tokens += len(ids)

    def finalize(self) -> None:
        self.builder.finalize(str(self.prefix) + ".idx")


def merge_prefixes(parts: list[Path], final: Path, dtype: type[np.number]) -> None:
    """Concatenate shard datasets in order into `final`, writing temp files then renaming both."""
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    tmp = final.with_name(f".{final.name}.tmp")
    builder = IndexedDatasetBuilder(str(tmp) + ".bin", dtype=dtype)
    for part in parts:
        builder.add_index(str(part))
    builder.finalize(str(tmp) + ".idx")
    for ext in (".bin", ".idx"):
        with open(str(tmp) + ext, "rb") as fh:
            os.fsync(fh.fileno())
    os.replace(str(tmp) + ".bin", str(final) + ".bin")
    os.replace(str(tmp) + ".idx", str(final) + ".idx")
