"""The prepared `.bin/.idx` files open with megatron-core's `IndexedDataset`, feed `GPTDataset`
through `BlendedMegatronDatasetBuilder` (the wheel's compiled helper, no `compile_helpers()`), and
decode back to the filtered, redacted text."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from executor.prepare import Pipeline
from executor.prepare.pii import PIIRedactor
from executor.prepare.synthetic import dedup_corpus, document, pii_document, pii_items, vocabulary
from planner.schema.data import DataSource, DataSpec, TokenizerSpec

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> tuple[Path, DataSpec, dict[str, str]]:
    root = tmp_path_factory.mktemp("megatron")
    rng, vocab = random.Random(55), vocabulary()
    corpus = dedup_corpus(num_originals=150, num_exact=20, num_near=20, seed=5)
    planted = pii_items(rng)
    texts = corpus.texts + [pii_document(rng, vocab, k, v) for k, v in planted.items()]
    texts.append("Too short to keep.")
    (root / "web.jsonl").write_text("".join(json.dumps({"content": t}) + "\n" for t in texts), encoding="utf-8")
    (root / "books").mkdir()
    for i in range(30):
        (root / "books" / f"book{i:02d}.txt").write_text(document(rng, vocab, num_lines=8), encoding="utf-8")
    spec = DataSpec(sources=[DataSource(name="web", path=str(root / "web.jsonl"), text_field="content", weight=0.7),
                             DataSource(name="books", path=str(root / "books"), weight=0.3)],
                    tokenizer=TokenizerSpec(vocab_size=1500), validation_fraction=0.05, num_shards=3)
    Pipeline(spec, root / "data", workers=1, quiet=True).run("all")
    return root / "data", spec, planted


def _expected(out: Path, spec: DataSpec) -> dict[str, list[str]]:
    """The filtered, deduplicated, redacted text of each prefix, in order, from the work files."""
    work = out / "work"
    remove, valid = np.load(work / "dedup" / "remove.npy"), np.load(work / "dedup" / "valid.npy")
    redactor = PIIRedactor(spec.pii)
    expected: dict[str, list[str]] = {}
    i = 0
    for shard in sorted(p for p in (work / "filter").iterdir() if p.is_dir()):
        for line in (shard / "docs.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            if not remove[i]:
                name = spec.sources[row["s"]].name + ("_val" if valid[i] else "") + "_text_document"
                expected.setdefault(name, []).append(redactor.apply(row["t"]))
            i += 1
    return expected


def test_every_document_decodes_back_to_the_filtered_redacted_text(prepared):
    from megatron.core.datasets.indexed_dataset import IndexedDataset
    from tokenizers import Tokenizer

    out, spec, planted = prepared
    manifest = json.loads((out / "manifest.json").read_text())
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))
    expected = _expected(out, spec)
    decoded = []
    assert sorted(expected) == sorted(manifest["train"]["prefixes"] + manifest["valid"]["prefixes"])
    for prefix, texts in expected.items():
        ds = IndexedDataset(str(out / prefix))
        assert ds.index.dtype == np.uint16
        assert len(ds) == len(texts)
        for i, text in enumerate(texts):
            ids = ds[i]
            assert ids[-1] == manifest["eod_token_id"]
            decoded.append(tok.decode(ids[:-1].tolist(), skip_special_tokens=False))
            assert decoded[-1] == text
    everything = "\n".join(decoded)
    assert [kind for kind, value in planted.items() if value in everything] == []
    assert "<EMAIL>" in everything and "<CREDIT_CARD>" in everything


def test_manifest_and_stats_describe_the_prefixes_weights_and_counts(prepared):
    out, _, _ = prepared
    manifest = json.loads((out / "manifest.json").read_text())
    stats = json.loads((out / "stats.json").read_text())
    assert manifest["train"] == {"prefixes": ["web_text_document", "books_text_document"], "weights": [0.7, 0.3]}
    assert manifest["valid"]["prefixes"] == ["web_val_text_document", "books_val_text_document"]
    assert manifest["eod_token_id"] == 0 and manifest["vocab_size"] == stats["vocab_size"] <= 1500
    assert stats["docs_in_by_source"] == {"web": 150 + 40 + 9 + 1, "books": 30}
    num_dropped = sum(n for reasons in stats["dropped"].values() for n in reasons.values())
    assert num_dropped == stats["docs_in"] - stats["docs_after_filters"] >= 1, stats["dropped"]
    assert stats["exact_duplicates"] == 20 and stats["near_duplicates"] >= 16  # recall is measured in test_prepare_dedup
    # the private key's lines end without punctuation, so the C4 line rule removes them before PII runs
    assert stats["lines_removed"]["c4"]["line-filter-no_terminal_punc"] >= 6
    assert set(stats["pii_redactions"]) == {"email", "phone", "ipv4", "ipv6", "credit_card", "iban",
                                            "aws_access_key", "bearer_token"}
    assert stats["docs_out"] == stats["docs_after_filters"] - stats["exact_duplicates"] - stats["near_duplicates"]
    for name in ("web", "books"):
        ds_tokens = sum((out / f"{p}.bin").stat().st_size // 2 for p in (f"{name}_text_document", f"{name}_val_text_document"))
        assert stats["tokens_out"][name] == ds_tokens


def test_gpt_dataset_built_through_the_blended_builder_samples_the_prepared_text(prepared):
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig
    from tokenizers import Tokenizer

    out, spec, _ = prepared
    manifest = json.loads((out / "manifest.json").read_text())
    tok = Tokenizer.from_file(str(out / "tokenizer.json"))

    class MegatronTok:  # the attributes GPTDataset reads
        eod = pad = manifest["eod_token_id"]
        vocab_size = manifest["vocab_size"]
        unique_identifiers = {"class": "llmplan-hf-bpe"}

    def blend(split: str):
        return [str(out / p) for p in manifest[split]["prefixes"]], manifest[split]["weights"]

    cfg = GPTDatasetConfig(random_seed=1234, sequence_length=64, blend_per_split=[blend("train"), blend("valid"), None],
                           tokenizer=MegatronTok(), reset_position_ids=False, reset_attention_mask=False,
                           eod_mask_loss=False, path_to_cache=None, mid_level_dataset_surplus=0.005)
    # path_to_cache=None: with a cache, BlendedDataset asks torch.distributed for the rank
    train, valid, _ = BlendedMegatronDatasetBuilder(GPTDataset, [200, 20, None], lambda: True, cfg).build()
    assert len(train) >= 200 and len(valid) >= 20
    corpus = "\n".join(t for texts in _expected(out, spec).values() for t in texts)
    for ds in (train, valid):
        tokens = np.concatenate([ds[0]["tokens"].numpy(), ds[0]["labels"].numpy()[-1:]])
        pieces = np.split(tokens, np.flatnonzero(tokens == manifest["eod_token_id"]))
        pieces = [p[p != manifest["eod_token_id"]] for p in pieces]
        decoded = [tok.decode(p.tolist()) for p in pieces if len(p) > 3]
        assert decoded and all(d.strip() in corpus for d in decoded)
