"""Reader: one source's documents for one shard.

Local files (jsonl/json/parquet/csv/text) and directories of .txt files are read with Hugging Face
`datasets` (cached as Arrow under the output's work directory, so shard tasks share one copy);
hub dataset names are streamed when online; `builtin:pydoc` is the embedded corpus. Shards are
contiguous ranges of a source's documents (strided for streamed hub data), so concatenating the
shards in order gives the source in its own order, whatever the number of shards.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator
from pathlib import Path

from executor.prepare.corpus import pydoc_documents
from planner.errors import PlanInputError
from planner.schema.data import BUILTIN_CORPUS, DataSource

FILE_BUILDERS = {".jsonl": "json", ".json": "json", ".parquet": "parquet", ".csv": "csv", ".txt": "text",
                 ".gz": "json"}
FORMAT_BUILDERS = {"jsonl": "json", "json": "json", "parquet": "parquet", "csv": "csv", "text": "text"}


def resolve_format(src: DataSource) -> str:
    """The concrete format of a source: builtin, txtdir, hub, or a file format."""
    if src.format != "auto":
        return src.format
    if src.path == BUILTIN_CORPUS or src.path.startswith("builtin:"):
        return "builtin"
    path = Path(src.path)
    if path.is_dir():
        return "txtdir"
    files = sorted(glob.glob(src.path)) if any(c in src.path for c in "*?[") else [src.path]
    if files and Path(files[0]).exists():
        ext = Path(files[0]).suffix.lower()
        if ext == ".gz":
            ext = Path(Path(files[0]).stem).suffix.lower()
        if ext in FILE_BUILDERS:
            return {"json": "jsonl", "text": "text"}.get(FILE_BUILDERS[ext], FILE_BUILDERS[ext])
        raise PlanInputError(f"cannot tell the format of {src.path!r}",
                             [f"data.sources[{src.name}].format: set one of jsonl, json, parquet, csv, text"])
    if src.path.count("/") == 1 and not src.path.startswith((".", "/")):
        return "hub"
    raise PlanInputError(f"no such file or directory: {src.path!r}",
                         [f"data.sources[{src.name}].path: a local file, directory, glob, hub name "
                          f"(org/name) or {BUILTIN_CORPUS}"])


def _data_files(src: DataSource, fmt: str) -> list[str]:
    if fmt == "txtdir":
        files = sorted(glob.glob(os.path.join(src.path, "**", "*.txt"), recursive=True))
    else:
        files = sorted(glob.glob(src.path)) if any(c in src.path for c in "*?[") else [src.path]
    if not files:
        raise PlanInputError(f"no input files for source {src.name!r}",
                             [f"data.sources[{src.name}].path: {src.path!r} matches no files"])
    return files


def load_local(src: DataSource, cache_dir: str):
    """The source as a `datasets.Dataset` (memory-mapped Arrow), or None for builtin/hub sources."""
    fmt = resolve_format(src)
    if fmt in ("builtin", "hub"):
        return None
    import datasets  # deferred: datasets takes seconds to import, only for Hub or Arrow sources

    datasets.disable_progress_bars()
    files = _data_files(src, fmt)
    builder = "text" if fmt == "txtdir" else FORMAT_BUILDERS[fmt]
    kwargs = {"sample_by": "document" if fmt == "txtdir" else "paragraph"} if builder == "text" else {}
    ds = datasets.load_dataset(builder, data_files={"train": files}, split="train", cache_dir=cache_dir,
                               **kwargs)
    field = "text" if builder == "text" else src.text_field
    if field not in ds.column_names:
        raise PlanInputError(f"source {src.name!r} has no field {field!r}",
                             [f"data.sources[{src.name}].text_field: one of {ds.column_names}"])
    if src.max_docs is not None:
        ds = ds.select(range(min(src.max_docs, len(ds))))
    return ds.select_columns([field]).rename_column(field, "text") if field != "text" else ds.select_columns(["text"])


def _builtin(src: DataSource) -> list[str]:
    if src.path not in (BUILTIN_CORPUS, "builtin:"):
        raise PlanInputError(f"unknown builtin corpus {src.path!r}",
                             [f"data.sources[{src.name}].path: the builtin corpus is {BUILTIN_CORPUS}"])
    docs = list(pydoc_documents())
    return docs[: src.max_docs] if src.max_docs else docs


def _shard_range(total: int, shard_index: int, num_shards: int) -> range:
    start = total * shard_index // num_shards
    return range(start, total * (shard_index + 1) // num_shards)


def _hub(src: DataSource, shard_index: int, num_shards: int) -> Iterator[str]:
    import datasets  # deferred: datasets takes seconds to import, only for Hub or Arrow sources

    if os.environ.get("HF_DATASETS_OFFLINE") == "1" or os.environ.get("HF_HUB_OFFLINE") == "1":
        raise PlanInputError(f"source {src.name!r} is a hub dataset but the hub is offline",
                             [f"data.sources[{src.name}].path: {src.path!r} (unset HF_HUB_OFFLINE or use a local file)"])
    stream = datasets.load_dataset(src.path, split=src.split, streaming=True)
    for i, row in enumerate(stream):
        if src.max_docs is not None and i >= src.max_docs:
            return
        if i % num_shards == shard_index:
            yield str(row[src.text_field] or "")


def read_shard(src: DataSource, shard_index: int, num_shards: int, cache_dir: str) -> Iterator[str]:
    """The texts of one shard of one source, in source order."""
    fmt = resolve_format(src)
    if fmt == "builtin":
        docs = _builtin(src)
        for i in _shard_range(len(docs), shard_index, num_shards):
            yield docs[i]
        return
    if fmt == "hub":
        yield from _hub(src, shard_index, num_shards)
        return
    ds = load_local(src, cache_dir)
    part = ds.select(_shard_range(len(ds), shard_index, num_shards))
    for batch in part.iter(batch_size=1000):
        for text in batch["text"]:
            yield text if isinstance(text, str) else ("" if text is None else str(text))
