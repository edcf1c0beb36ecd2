"""The merge stage: per-shard datasets concatenated into one prefix per source and split, and the
run's `stats.json` and `manifest.json` (the file the trainer reads)."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

from planner.errors import PlanInputError
from planner.io import atomic_write_text
from planner.schema.data import DataSpec
from executor.prepare import shards as sh
from executor.prepare.writer import merge_prefixes, prefix_name, token_dtype


def _sum_nested(markers: list[dict], key: str) -> dict[str, dict[str, int]]:
    total: dict[str, Counter[str]] = defaultdict(Counter)
    for m in markers:
        for name, counts in m.get(key, {}).items():
            total[name].update(counts)
    return {k: dict(sorted(v.items())) for k, v in sorted(total.items())}


def _merge_prefixes(spec: DataSpec, work: Path, out: Path, tok_markers: list[dict], dtype) -> dict:
    done: dict[str, dict[str, int]] = {}
    for src in spec.sources:
        for split in ("train", "valid"):
            name = prefix_name(src.name, split)
            parts = [work / "tokenize" / sh.shard_name(i) / name
                     for i, m in enumerate(tok_markers) if m["parts"].get(name, {}).get("docs")]
            if not parts:
                continue
            merge_prefixes(parts, out / name, dtype)
            done[name] = {k: sum(m["parts"].get(name, {}).get(k, 0) for m in tok_markers)
                          for k in ("docs", "tokens")}
    return done


def merge_outputs(spec: DataSpec, work: Path, out: Path, filter_markers: list[dict],
                  tok_markers: list[dict]) -> dict:
    from tokenizers import Tokenizer  # deferred: tokenizers (Rust extension) only where a tokenizer is built or read

    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    vocab_size = tok.get_vocab_size()
    dtype = token_dtype(vocab_size)
    prefixes = _merge_prefixes(spec, work, out, tok_markers, dtype)
    dedup = json.loads((work / "dedup.done").read_text(encoding="utf-8"))
    docs_in = Counter()
    for m in filter_markers:
        docs_in.update(m["docs_in"])
    pii = Counter()
    for m in tok_markers:
        pii.update(m["pii_redactions"])
    by_source = {s.name: {split: prefixes.get(prefix_name(s.name, split), {"docs": 0, "tokens": 0})
                          for split in ("train", "valid")} for s in spec.sources}
    stats = {
        "docs_in": sum(docs_in.values()),
        "docs_in_by_source": {s.name: docs_in.get(s.name, 0) for s in spec.sources},
        "dropped": _sum_nested(filter_markers, "dropped"),
        "lines_removed": _sum_nested(filter_markers, "lines_removed"),
        "docs_after_filters": sum(m["docs_kept"] for m in filter_markers),
        "exact_duplicates": dedup["exact_duplicates"],
        "near_duplicates": dedup["near_duplicates"],
        "near_dedup_lsh": {k: dedup[k] for k in ("lsh_bands", "lsh_rows", "p_detect_at_threshold")},
        "pii_redactions": dict(sorted(pii.items())),
        "docs_out": sum(v["docs"] for v in prefixes.values()),
        "docs_out_by_source": {k: {s: v[s]["docs"] for s in v} for k, v in by_source.items()},
        "tokens_out": {k: v["train"]["tokens"] + v["valid"]["tokens"] for k, v in by_source.items()},
        "tokens_out_by_split": {k: {s: v[s]["tokens"] for s in v} for k, v in by_source.items()},
        "vocab_size": vocab_size,
        "eod_token_id": tok.token_to_id(spec.tokenizer.eod_token),
        "dtype": str(dtype.__name__),
        "num_shards": len(filter_markers),
        "outputs": sorted(f"{p}{ext}" for p in prefixes for ext in (".bin", ".idx")),
    }
    atomic_write_text(out / "stats.json", json.dumps(stats, indent=1) + "\n")
    _require_training_data(stats, out)
    atomic_write_text(out / "manifest.json", json.dumps(manifest(spec, prefixes, stats), indent=1) + "\n")
    return stats


def _require_training_data(stats: dict, out: Path) -> None:
    """A source left without training documents cannot be blended: say why, with the top reasons."""
    empty = [name for name, splits in stats["docs_out_by_source"].items() if not splits["train"]]
    if empty:
        reasons = Counter({f"{f}:{r}": n for f, rs in stats["dropped"].items() for r, n in rs.items()})
        top = ", ".join(f"{k} {n}" for k, n in reasons.most_common(4)) or "none"
        raise PlanInputError(
            f"no training documents left for source(s) {', '.join(empty)} (see {out / 'stats.json'})",
            [f"data.filters: most documents dropped by {top}; relax those thresholds or add data"])


def manifest(spec: DataSpec, prefixes: dict, stats: dict) -> dict:
    """What the trainer needs: prefixes (relative to this directory) and weights per split, the
    tokenizer file, vocabulary size and end-of-document id."""
    def split(name: str) -> dict | None:
        pairs = [(prefix_name(s.name, name), s.weight) for s in spec.sources if prefix_name(s.name, name) in prefixes]
        return {"prefixes": [p for p, _ in pairs], "weights": [w for _, w in pairs]} if pairs else None

    return {
        "format": "megatron-indexed-dataset",
        "tokenizer": "tokenizer.json",
        "tokenizer_library": "huggingface-tokenizers",
        "vocab_size": stats["vocab_size"],
        "eod_token": spec.tokenizer.eod_token,
        "eod_token_id": stats["eod_token_id"],
        "dtype": stats["dtype"],
        "train": split("train"),
        "valid": split("valid"),
        "sources": [{"name": s.name, "weight": s.weight, **stats["docs_out_by_source"][s.name],
                     "tokens": stats["tokens_out"][s.name]} for s in spec.sources],
    }
