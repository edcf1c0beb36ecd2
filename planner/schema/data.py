"""The plan's data section: sources, quality filters, deduplication, PII redaction and tokenizer.

Defaults follow the published recipes (datatrove's Gopher, C4 and FineWeb filters; MinHash with
5-gram shingles); see docs/data.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from planner.schema.base import Fraction, PositiveInt, SafeName, StrictModel

BUILTIN_CORPUS = "builtin:pydoc"
"""The embedded default corpus: CPython's pydoc topics, real English text shipped with Python."""


class DataSource(StrictModel):
    name: SafeName = "pydoc"
    path: str = Field(BUILTIN_CORPUS, description="local file, directory, glob, hub dataset name, or builtin:pydoc")
    format: Literal["auto", "jsonl", "json", "parquet", "csv", "text", "txtdir", "hub", "builtin"] = "auto"
    text_field: str = "text"
    weight: float = Field(1.0, gt=0)


class QualityFilters(StrictModel):
    gopher_quality: bool = True
    gopher_repetition: bool = True
    c4: bool = True
    fineweb: bool = True
    min_doc_words: PositiveInt = 50
    max_doc_words: PositiveInt = 100_000


class DedupSpec(StrictModel):
    exact: bool = True
    near: bool = True
    ngram_size: PositiveInt = 5
    num_perm: PositiveInt = 128
    num_bands: PositiveInt = 16
    threshold: Fraction = 0.8


class PIISpec(StrictModel):
    enabled: bool = True
    kinds: list[Literal["email", "phone", "ip", "credit_card", "iban", "secret"]] = [
        "email", "phone", "ip", "credit_card", "iban", "secret"
    ]
    public_ip_only: bool = True


class TokenizerSpec(StrictModel):
    kind: Literal["train-bpe", "file"] = "train-bpe"
    vocab_size: PositiveInt = 32_000
    path: str | None = None
    sample_docs: PositiveInt = 100_000


class DataSpec(StrictModel):
    sources: list[DataSource] = Field(default_factory=lambda: [DataSource()], min_length=1)
    filters: QualityFilters = Field(default_factory=QualityFilters)
    dedup: DedupSpec = Field(default_factory=DedupSpec)
    pii: PIISpec = Field(default_factory=PIISpec)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    validation_fraction: Fraction = 0.01
    num_workers: PositiveInt = 2
