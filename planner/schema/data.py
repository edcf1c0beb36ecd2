"""The plan's data section: sources, quality filters, deduplication, PII redaction and tokenizer.

Defaults follow the published recipes: the quality-filter thresholds are datatrove's class defaults
(`GopherQualityFilter`, `GopherRepetitionFilter`, `C4QualityFilter`, `FineWebQualityFilter`;
Rae et al. 2021 "Scaling Language Models: Methods, Analysis & Insights from Training Gopher",
Table A1; Raffel et al. 2020 C4 section 2.2; Penedo et al. 2024 FineWeb), MinHash on word 5-grams
(datatrove `MinhashConfig(n_grams=5)`). See docs/data.md.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schema.base import Fraction, PositiveInt, SafeName, StrictModel

BUILTIN_CORPUS = "builtin:pydoc"
"""The embedded default corpus: CPython's pydoc topics, real English text shipped with Python."""

NGramThresholds = list[tuple[PositiveInt, Fraction]]


class DataSource(StrictModel):
    name: SafeName = "pydoc"
    path: str = Field(BUILTIN_CORPUS, description="local file, directory, glob, hub dataset name, or builtin:pydoc")
    format: Literal["auto", "jsonl", "json", "parquet", "csv", "text", "txtdir", "hub", "builtin"] = "auto"
    text_field: str = "text"
    weight: float = Field(1.0, gt=0)
    split: str = Field("train", description="dataset split for files and hub datasets")
    max_docs: PositiveInt | None = Field(None, description="read at most this many documents")


class QualityFilters(StrictModel):
    """Which quality filters run, with datatrove's default thresholds (docs/data.md names the source of each)."""

    gopher_quality: bool = True
    gopher_repetition: bool = True
    c4: bool = True
    fineweb: bool = True
    # GopherQualityFilter (Rae et al. 2021, Table A1)
    min_doc_words: PositiveInt = 50
    max_doc_words: PositiveInt = 100_000
    min_avg_word_length: float = Field(3, ge=0)
    max_avg_word_length: float = Field(10, gt=0)
    max_symbol_word_ratio: Fraction = 0.1
    max_bullet_lines_ratio: Fraction = 0.9
    max_ellipsis_lines_ratio: Fraction = 0.3
    max_non_alpha_words_ratio: Fraction = Field(
        0.8, description="datatrove's name; a minimum: drop if fewer than this fraction of words hold a letter")
    min_stop_words: int = Field(2, ge=0)
    # GopherRepetitionFilter (Rae et al. 2021, Table A1)
    dup_line_frac: Fraction = 0.3
    dup_para_frac: Fraction = 0.3
    dup_line_char_frac: Fraction = 0.2
    dup_para_char_frac: Fraction = 0.2
    top_n_grams: NGramThresholds = [(2, 0.2), (3, 0.18), (4, 0.16)]
    dup_n_grams: NGramThresholds = [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    # C4QualityFilter (Raffel et al. 2020, section 2.2)
    c4_remove_citations: bool = True
    c4_filter_no_terminal_punct: bool = True
    c4_min_num_sentences: int = Field(5, ge=0)
    c4_min_words_per_line: int = Field(3, ge=0)
    c4_max_word_length: PositiveInt = 1000
    c4_filter_lorem_ipsum: bool = True
    c4_filter_javascript: bool = True
    c4_filter_curly_bracket: bool = True
    c4_filter_policy: bool = True
    # FineWebQualityFilter (Penedo et al. 2024)
    line_punct_thr: Fraction = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: Fraction = 0.67
    short_line_length: PositiveInt = 30
    char_duplicates_ratio: Fraction = 0.01
    new_line_ratio: Fraction = 0.3

    @model_validator(mode="after")
    def _ranges_are_ordered(self) -> "QualityFilters":
        if self.min_doc_words > self.max_doc_words:
            raise ValueError(f"min_doc_words ({self.min_doc_words}) must not exceed max_doc_words "
                             f"({self.max_doc_words})")
        if self.min_avg_word_length > self.max_avg_word_length:
            raise ValueError(f"min_avg_word_length ({self.min_avg_word_length}) must not exceed "
                             f"max_avg_word_length ({self.max_avg_word_length})")
        return self


class DedupSpec(StrictModel):
    """Exact dedup on normalised text, then MinHash-LSH on word n-grams (Broder 1997; Leskovec et al.,
    Mining of Massive Datasets, ch. 3.4: a pair of Jaccard s collides with P = 1 - (1 - s^r)^b)."""

    exact: bool = True
    near: bool = True
    ngram_size: PositiveInt = 5
    num_perm: PositiveInt = 128
    num_bands: PositiveInt | None = Field(
        16, description="LSH bands b (rows r = num_perm / b); null derives b and r from threshold")
    threshold: Fraction = Field(0.8, description="Jaccard similarity the LSH is designed to catch")
    seed: int = Field(1, ge=0)

    @model_validator(mode="after")
    def _bands_divide_perms(self) -> "DedupSpec":
        if self.num_bands is not None and (self.num_bands > self.num_perm or self.num_perm % self.num_bands):
            divisors = [d for d in range(1, self.num_perm + 1) if self.num_perm % d == 0]
            raise ValueError(f"num_bands ({self.num_bands}) must divide num_perm ({self.num_perm}); "
                             f"try one of {divisors}")
        return self


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
    min_frequency: PositiveInt = 2
    eod_token: str = "<|endoftext|>"

    @model_validator(mode="after")
    def _file_needs_path(self) -> "TokenizerSpec":
        if self.kind == "file" and not self.path:
            raise ValueError("kind 'file' needs path: the tokenizer.json to load")
        return self


class DataSpec(StrictModel):
    sources: list[DataSource] = Field(default_factory=lambda: [DataSource()], min_length=1)
    filters: QualityFilters = Field(default_factory=QualityFilters)
    dedup: DedupSpec = Field(default_factory=DedupSpec)
    pii: PIISpec = Field(default_factory=PIISpec)
    tokenizer: TokenizerSpec = Field(default_factory=TokenizerSpec)
    validation_fraction: Fraction = 0.01
    num_workers: PositiveInt = 2
    num_shards: PositiveInt = Field(8, description="work units; a re-run skips finished shards")

    @model_validator(mode="after")
    def _source_names_unique(self) -> "DataSpec":
        names = [s.name for s in self.sources]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"source names must be unique (they name the output files); repeated: {dup}")
        return self
