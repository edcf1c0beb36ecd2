"""Quality filters: Gopher quality, Gopher repetition, C4 line rules and FineWeb-style rules.

Each rule and default threshold follows datatrove's implementation (`datatrove.pipeline.filters`,
v0.10): Rae et al. 2021 ("Scaling Language Models ... Gopher", Appendix A, Table A1) for the Gopher
rules; Raffel et al. 2020 (T5, section 2.2, "Colossal Clean Crawled Corpus") for the C4 line rules;
Penedo et al. 2024 (FineWeb, section 3.3 "custom filters") for the FineWeb rules. Two deliberate
differences, both for speed: words are split by a regular expression that approximates spaCy's
English tokenizer (datatrove's default word tokenizer) and C4 counts sentences by terminal
punctuation (datatrove: spaCy's sentencizer).

A filter's `apply(text)` returns `(text, None)` to keep the (possibly edited) document or
`(None, reason)` to drop it; reasons are datatrove's names so counts compare across tools.
"""

from __future__ import annotations

import re
from collections import Counter

from planner.schema.data import QualityFilters

WORD_RE = re.compile(r"\d+(?:[.,:\-/]\d+)*|[^\W_]+(?:['’\-][^\W_]+)*|\.\.\.|[^\w\s]+|_")
"""Words as spaCy's English tokenizer (datatrove's default) roughly splits them: numbers with their
separators, words with apostrophes and hyphens, punctuation runs, and each underscore on its own
(`__init__` -> `_ _ init _ _`). On the 198 pydoc sections the four filters then make the same
keep/drop decision as datatrove's for 190 (benchmarks/bench_prepare.py prints the agreement)."""
STOP_WORDS = frozenset(["the", "be", "to", "of", "and", "that", "have", "with"])
CITATION_RE = re.compile(r"\[\d*]|\[edit]|\[citation needed]")
END_PUNCTUATION = (".", "?", "!", '"', "'")
SENTENCE_END_RE = re.compile(r"[.!?]+[\"')\]]*(?=\s|$)")
POLICY_SUBSTRINGS = ("terms of use", "privacy policy", "cookie policy", "uses cookies", "use of cookies",
                     "use cookies")
TERMINAL_PUNCTUATION = (".", "!", "?", "。", "！", "？", "…", '"', "'", "”", "’", ":", ";")
PARAGRAPH_RE = re.compile(r"\n{2,}")
LINES_RE = re.compile(r"\n+")


def split_words(text: str) -> list[str]:
    return WORD_RE.findall(text)


def _has_alpha(word: str) -> bool:
    return any(c.isalpha() for c in word)


def find_duplicates(items: list[str]) -> tuple[int, int]:
    """(number of repeated items, characters in repeated items), first occurrences not counted."""
    seen: set[str] = set()
    num_dup = chars_dup = 0
    for item in items:
        if item in seen:
            num_dup += 1
            chars_dup += len(item)
        else:
            seen.add(item)
    return num_dup, chars_dup


class GopherQuality:
    """Rae et al. 2021, Table A1: word count, mean word length, symbol ratios, bullets, ellipses,
    alphabetic words, stop words."""

    name = "gopher_quality"

    def __init__(self, cfg: QualityFilters) -> None:
        self.cfg = cfg

    def apply(self, text: str) -> tuple[str | None, str | None]:
        c = self.cfg
        words = split_words(text)
        content = [w for w in words if w[0].isalnum() or w[0] == "_" or _has_alpha(w)]
        if len(content) < c.min_doc_words:
            return None, "gopher_short_doc"
        if len(content) > c.max_doc_words:
            return None, "gopher_long_doc"
        mean_len = sum(map(len, content)) / len(content)
        if mean_len < c.min_avg_word_length:
            return None, "gopher_below_avg_threshold"
        if mean_len > c.max_avg_word_length:
            return None, "gopher_above_avg_threshold"
        n_words = len(words)
        if text.count("#") / n_words > c.max_symbol_word_ratio:
            return None, "gopher_too_many_hashes"
        if (text.count("...") + text.count("…")) / n_words > c.max_symbol_word_ratio:
            return None, "gopher_too_many_ellipsis"
        lines = text.splitlines() or [""]
        if sum(s.lstrip().startswith(("•", "-")) for s in lines) / len(lines) > c.max_bullet_lines_ratio:
            return None, "gopher_too_many_bullets"
        if sum(s.rstrip().endswith(("...", "…")) for s in lines) / len(lines) > c.max_ellipsis_lines_ratio:
            return None, "gopher_too_many_end_ellipsis"
        if sum(map(_has_alpha, words)) / n_words < c.max_non_alpha_words_ratio:
            return None, "gopher_below_alpha_threshold"
        if len(STOP_WORDS.intersection(words)) < c.min_stop_words:
            return None, "gopher_enough_stop_words"
        return text, None


def _top_ngram_chars(words: list[str], n: int) -> int:
    grams = Counter(" ".join(words[i:i + n]) for i in range(len(words) - n + 1))
    if not grams:
        return 0
    gram, count = grams.most_common(1)[0]
    return len(gram) * count


def _duplicate_ngram_chars(words: list[str], n: int) -> int:
    """Characters inside repeated n-grams, skipping past each repeat (datatrove `find_all_duplicate`)."""
    seen: set[tuple[str, ...]] = set()
    repeated = idx = 0
    while idx < len(words) - n + 1:
        gram = tuple(words[idx:idx + n])
        if gram in seen:
            repeated += sum(map(len, gram))
            idx += n
        else:
            seen.add(gram)
            idx += 1
    return repeated


class GopherRepetition:
    """Rae et al. 2021, Table A1: duplicated lines/paragraphs and n-gram repetition."""

    name = "gopher_repetition"

    def __init__(self, cfg: QualityFilters) -> None:
        self.cfg = cfg

    def apply(self, text: str) -> tuple[str | None, str | None]:
        c = self.cfg
        if not text:
            return None, "empty"
        paragraphs = PARAGRAPH_RE.split(text.strip())
        num_dup, chars_dup = find_duplicates(paragraphs)
        if num_dup / len(paragraphs) > c.dup_para_frac:
            return None, "dup_para_frac"
        if chars_dup / len(text) > c.dup_para_char_frac:
            return None, "dup_para_char_frac"
        lines = LINES_RE.split(text)
        num_dup, chars_dup = find_duplicates(lines)
        if num_dup / len(lines) > c.dup_line_frac:
            return None, "dup_line_frac"
        if chars_dup / len(text) > c.dup_line_char_frac:
            return None, "dup_line_char_frac"
        words = split_words(text)
        for n, frac in c.top_n_grams:
            if _top_ngram_chars(words, n) / len(text) > frac:
                return None, f"top_{n}_gram"
        for n, frac in c.dup_n_grams:
            if _duplicate_ngram_chars(words, n) / len(text) > frac:
                return None, f"duplicated_{n}_n_grams"
        return text, None


class C4Quality:
    """Raffel et al. 2020, section 2.2: keep lines that end in terminal punctuation and hold >= 3
    words; drop lines mentioning javascript or cookie/terms policies; drop pages with 'lorem ipsum',
    a curly bracket, or fewer than 5 sentences. `line_counts` tallies removed lines by reason."""

    name = "c4"

    def __init__(self, cfg: QualityFilters) -> None:
        self.cfg = cfg
        self.line_counts: Counter[str] = Counter()

    def _line_reason(self, line: str, words: list[str]) -> str | None:
        c = self.cfg
        if any(len(w) > c.c4_max_word_length for w in words):
            return "line-filter-too_long_word"
        if c.c4_filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith("...")):
            return "line-filter-no_terminal_punc"
        if len(words) < c.c4_min_words_per_line:
            return "line-filter-too_few_words"
        return None

    def apply(self, text: str) -> tuple[str | None, str | None]:
        c = self.cfg
        kept: list[str] = []
        num_sentences = 0
        for raw in text.splitlines():
            line = raw.strip()
            words = line.split()
            if c.c4_remove_citations:
                line = CITATION_RE.sub("", line)
            reason = self._line_reason(line, words)
            if reason is None:
                lower = line.lower()
                if c.c4_filter_lorem_ipsum and "lorem ipsum" in lower:
                    return None, "lorem_ipsum"
                if c.c4_filter_javascript and "javascript" in lower:
                    reason = "line-filter-javascript"
                elif c.c4_filter_curly_bracket and "{" in line:
                    return None, "curly_bracket"
                elif c.c4_filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                    reason = "line-filter-policy"
            if reason is not None:
                self.line_counts[reason] += 1
                continue
            num_sentences += max(1, len(SENTENCE_END_RE.findall(line)))
            kept.append(line)
        if num_sentences < c.c4_min_num_sentences:
            return None, "too_few_sentences"
        return "\n".join(kept).strip(), None


class FineWebQuality:
    """Penedo et al. 2024 (FineWeb), section 3.3: share of lines ending in punctuation, share of
    short lines, characters in duplicated lines, newlines per word."""

    name = "fineweb"

    def __init__(self, cfg: QualityFilters) -> None:
        self.cfg = cfg

    def apply(self, text: str) -> tuple[str | None, str | None]:
        c = self.cfg
        lines = [line for line in text.split("\n") if line.strip()]
        if not lines:
            return None, "empty"
        ratio = sum(line.endswith(TERMINAL_PUNCTUATION) for line in lines) / len(lines)
        if ratio < c.line_punct_thr and not (ratio == 0 and c.line_punct_exclude_zero):
            return None, "line_punct_ratio"
        if sum(len(line) <= c.short_line_length for line in lines) / len(lines) > c.short_line_thr:
            return None, "short_line_ratio"
        if find_duplicates(lines)[1] / max(1, len(text.replace("\n", ""))) > c.char_duplicates_ratio:
            return None, "char_dup_ratio"
        if text.count("\n") / max(1, len(split_words(text))) > c.new_line_ratio:
            return None, "list_ratio"
        return text, None


def build_filters(cfg: QualityFilters) -> list:
    """The enabled filters in the FineWeb recipe's order: repetition, quality, C4, FineWeb."""
    steps: list = []
    if cfg.gopher_repetition:
        steps.append(GopherRepetition(cfg))
    if cfg.gopher_quality:
        steps.append(GopherQuality(cfg))
    if cfg.c4:
        steps.append(C4Quality(cfg))
    if cfg.fineweb:
        steps.append(FineWebQuality(cfg))
    return steps
