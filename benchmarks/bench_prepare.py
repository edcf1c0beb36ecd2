"""Benchmark: llmplan's data preparation vs datatrove's equivalent on the same corpus, same run.

Both pipelines: Gopher repetition + Gopher quality + C4 + FineWeb filters -> MinHash near-dup
(word 5-grams, 16 bands x 8 rows) -> PII (llmplan: all kinds; datatrove: its PIIFormatter, e-mail
and IP) -> tokenization with the same tokenizer.json -> Megatron .bin/.idx. llmplan also runs its
exact-dedup stage. One worker each (datatrove: LocalPipelineExecutor(workers=1), every stage's
tasks run in-process; llmplan: Pipeline(workers=1)); libraries are imported and warmed up on a small
corpus first. Throughput is input MB per CPU-second of the process (MB/s per core), which stays
meaningful on a shared machine; wall-clock figures are printed too. Target: llmplan >= 1.5x.

Needs the `bench` extra (datatrove with spacy, orjson, xxhash).
Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_prepare.py [--docs 2000]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
NUM_BANDS, ROWS = 16, 8


def make_corpus(folder: Path, num_docs: int, seed: int) -> Path:
    from executor.prepare.synthetic import dedup_corpus, pii_document, pii_items, vocabulary

    rng, vocab = random.Random(seed), vocabulary()
    n_near, n_exact, n_pii = num_docs // 10, num_docs // 20, num_docs // 50
    texts = dedup_corpus(num_docs - n_near - n_exact - n_pii, n_exact, n_near, seed=seed).texts
    texts += [pii_document(rng, vocab, k, v) for k, v in (list(pii_items(rng).items())[i % 9] for i in range(n_pii))]
    folder.mkdir(parents=True)
    path = folder / "corpus.jsonl"
    path.write_text("".join(json.dumps({"text": t, "id": str(i)}) + "\n" for i, t in enumerate(texts)), encoding="utf-8")
    return path


def train_tokenizer(corpus: Path, out: Path) -> Path:
    from executor.prepare.tokenize import train_bpe
    from planner.schema.data import TokenizerSpec

    texts = (json.loads(line)["text"] for line in corpus.read_text(encoding="utf-8").splitlines())
    train_bpe(texts, TokenizerSpec(vocab_size=8000), out)
    return out


def run_llmplan(corpus: Path, tok: Path, out: Path) -> dict:
    from executor.prepare import Pipeline
    from planner.schema.data import DataSource, DataSpec, DedupSpec, TokenizerSpec

    spec = DataSpec(sources=[DataSource(name="bench", path=str(corpus))], num_shards=1, validation_fraction=0,
                    tokenizer=TokenizerSpec(kind="file", path=str(tok)),
                    dedup=DedupSpec(num_perm=NUM_BANDS * ROWS, num_bands=NUM_BANDS))
    stats = Pipeline(spec, out, workers=1, quiet=True).run("all")
    return {"docs_out": stats["docs_out"], "near_duplicates": stats["near_duplicates"],
            "tokens": sum(stats["tokens_out"].values())}


def _patch_datatrove_xxhash() -> None:
    """python-xxhash 4.x hashes only bytes; datatrove 0.10.1 passes str ("Strings must be encoded
    before hashing"). Encode first so datatrove keeps its default (and fastest) xxhash64."""
    import xxhash
    from datatrove.utils.hashes import xxhash as dt_xxhash

    dt_xxhash.xxhash32 = lambda data: xxhash.xxh32_intdigest(data.encode() if isinstance(data, str) else data)
    dt_xxhash.xxhash64 = lambda data: xxhash.xxh64_intdigest(data.encode() if isinstance(data, str) else data)


def run_datatrove(corpus: Path, tok: Path, out: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup import MinhashDedupBuckets, MinhashDedupCluster, MinhashDedupFilter, MinhashDedupSignature
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
    from datatrove.pipeline.formatters import PIIFormatter
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.tokens.megatron_tokenizer import MegatronDocumentTokenizer
    from datatrove.pipeline.writers import JsonlWriter

    _patch_datatrove_xxhash()
    cfg = MinhashConfig(n_grams=5, num_buckets=NUM_BANDS, hashes_per_bucket=ROWS)
    logs = out / "logs"

    def run(pipeline, name, tasks=1):
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(logs / name)).run()

    run([JsonlReader(str(corpus.parent), glob_pattern="corpus.jsonl"), GopherRepetitionFilter(), GopherQualityFilter(),
         C4QualityFilter(), FineWebQualityFilter(), JsonlWriter(str(out / "filtered"))], "filter")
    run([JsonlReader(str(out / "filtered")), MinhashDedupSignature(str(out / "sigs"), config=cfg)], "sigs")
    run([MinhashDedupBuckets(str(out / "sigs"), str(out / "buckets"), config=cfg)], "buckets", tasks=NUM_BANDS)
    run([MinhashDedupCluster(str(out / "buckets"), str(out / "remove"), config=cfg)], "cluster")
    run([JsonlReader(str(out / "filtered")), MinhashDedupFilter(str(out / "remove")), PIIFormatter(),
         MegatronDocumentTokenizer(str(out / "tokens"), tokenizer_name_or_path=str(tok))], "tokenize")
    stats = json.loads((logs / "tokenize" / "stats.json").read_text())
    by_name = {s["name"]: s["stats"] for s in stats}
    flt = next(v for k, v in by_name.items() if "Minhash" in k or "dedup" in k.lower())
    return {"docs_out": flt.get("forwarded", 0), "near_duplicates": flt.get("dropped", 0),
            "tokens": sum(p.stat().st_size for p in (out / "tokens").glob("*.bin")) // 2}


def filter_agreement(texts: list[str]) -> tuple[int, int, int]:
    """(documents where llmplan and datatrove make the same keep/drop decision, kept by llmplan,
    kept by datatrove), with the four filters in the same order and default thresholds."""
    from datatrove.data import Document
    from datatrove.pipeline.filters import C4QualityFilter, FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

    from executor.prepare.filters import build_filters
    from planner.schema.data import QualityFilters

    ours = build_filters(QualityFilters())
    theirs = [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(), FineWebQualityFilter()]
    same = kept_ours = kept_theirs = 0
    for i, text in enumerate(texts):
        mine = text
        for f in ours:
            mine, _ = f.apply(mine)
            if mine is None:
                break
        doc = Document(text=text, id=str(i))
        keep = all(f.filter(doc) is True for f in theirs)  # all() stops at the first drop, like a pipeline
        kept_ours += mine is not None
        kept_theirs += keep
        same += (mine is not None) == keep
    return same, kept_ours, kept_theirs


def timed(fn, *args) -> tuple[dict, float, float]:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
    return result, time.perf_counter() - wall, time.process_time() - cpu + child_cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench_prepare_"))
    try:
        warm = make_corpus(root / "warm", 300, seed=1)
        corpus = make_corpus(root / "corpus", args.docs, seed=2)
        tok = train_tokenizer(corpus, root / "tokenizer.json")
        run_llmplan(warm, tok, root / "warm_llmplan")  # imports and lazy loads (datasets, megatron, spacy)
        run_datatrove(warm, tok, root / "warm_datatrove")
        size_mb = corpus.stat().st_size / 1e6
        text_mb = sum(len(json.loads(line)["text"].encode()) for line in corpus.open(encoding="utf-8")) / 1e6
        print(f"corpus: {args.docs} documents, {size_mb:.2f} MB jsonl ({text_mb:.2f} MB of text)")
        rows = {}
        for name, fn in (("llmplan", run_llmplan), ("datatrove", run_datatrove)):
            result, wall_s, cpu_s = timed(fn, corpus, tok, root / name)
            rows[name] = cpu_s
            print(f"{name:10s} wall {wall_s:7.2f} s  cpu {cpu_s:7.2f} s  {size_mb / cpu_s:6.3f} MB/s per core "
                  f"(wall-clock {size_mb / wall_s:6.3f} MB/s)  docs_out {result['docs_out']}  "
                  f"near_dups {result['near_duplicates']}  tokens {result['tokens']}")
        print(f"ratio llmplan / datatrove (MB/s per core): {rows['datatrove'] / rows['llmplan']:.2f}x (target >= 1.5x)")
        from executor.prepare.corpus import pydoc_documents

        docs = list(pydoc_documents())
        same, kept_ours, kept_theirs = filter_agreement(docs)
        print(f"filter decisions on the {len(docs)} pydoc sections: same for {same} ({same / len(docs):.1%}); "
              f"kept by llmplan {kept_ours}, by datatrove {kept_theirs}")
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
