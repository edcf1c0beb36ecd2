"""Quality filters: each rule drops what Rae et al. 2021 (Gopher, Table A1), Raffel et al. 2020
(C4, section 2.2) and Penedo et al. 2024 (FineWeb) say it drops, with datatrove's reason names and
default thresholds taken from the plan."""

from __future__ import annotations

import random

from executor.prepare.filters import C4Quality, FineWebQuality, GopherQuality, GopherRepetition, build_filters
from executor.prepare.synthetic import document, vocabulary
from planner.schema.data import QualityFilters

CFG = QualityFilters()
PROSE = ("The committee met on Monday to review the plan and the budget for the coming year. "
         "It agreed that the school should have a new library with more books for the children. "
         "The mayor said that the town would pay for half of the cost of the building. "
         "Parents and teachers have asked for longer opening hours during the exam period. "
         "A final decision will be taken at the next meeting of the council in the spring.")


def test_defaults_are_datatrove_published_thresholds():
    assert (CFG.min_doc_words, CFG.max_doc_words, CFG.min_avg_word_length, CFG.max_avg_word_length) == (50, 100_000, 3, 10)
    assert (CFG.max_symbol_word_ratio, CFG.max_bullet_lines_ratio, CFG.max_ellipsis_lines_ratio) == (0.1, 0.9, 0.3)
    assert (CFG.max_non_alpha_words_ratio, CFG.min_stop_words) == (0.8, 2)
    assert (CFG.dup_line_frac, CFG.dup_para_frac, CFG.dup_line_char_frac, CFG.dup_para_char_frac) == (0.3, 0.3, 0.2, 0.2)
    assert CFG.top_n_grams == [(2, 0.2), (3, 0.18), (4, 0.16)]
    assert CFG.dup_n_grams == [(5, 0.15), (6, 0.14), (7, 0.13), (8, 0.12), (9, 0.11), (10, 0.10)]
    assert (CFG.c4_min_num_sentences, CFG.c4_min_words_per_line, CFG.c4_max_word_length) == (5, 3, 1000)
    assert (CFG.line_punct_thr, CFG.short_line_thr, CFG.short_line_length) == (0.12, 0.67, 30)
    assert (CFG.char_duplicates_ratio, CFG.new_line_ratio) == (0.01, 0.3)


def test_clean_prose_passes_every_filter():
    text = PROSE.replace(". ", ".\n")
    for f in build_filters(CFG):
        out, reason = f.apply(text)
        assert reason is None, f.name
        assert out == text


def test_gopher_quality_drops_short_documents_and_the_threshold_is_a_plan_field():
    text = "The cat sat on the mat and looked at the birds in the garden."
    assert GopherQuality(CFG).apply(text) == (None, "gopher_short_doc")
    assert GopherQuality(QualityFilters(min_doc_words=5)).apply(text) == (text, None)


def test_gopher_quality_drops_text_without_stop_words_or_with_few_alphabetic_words():
    no_stop = " ".join(["apple banana cherry orange melon grape lemon"] * 10)
    assert GopherQuality(CFG).apply(no_stop) == (None, "gopher_enough_stop_words")
    numbers = PROSE + " " + " ".join(str(10000 + i) for i in range(200))
    assert GopherQuality(CFG).apply(numbers) == (None, "gopher_below_alpha_threshold")


def test_gopher_quality_drops_hash_heavy_and_bullet_documents():
    hashes = PROSE + " #tag" * 20
    assert GopherQuality(CFG).apply(hashes) == (None, "gopher_too_many_hashes")
    bullets = "\n".join("- " + s for s in PROSE.split(". "))
    assert GopherQuality(CFG).apply(bullets) == (None, "gopher_too_many_bullets")


def test_gopher_repetition_drops_repeated_lines_and_ngrams():
    lines = PROSE.split(". ")
    repeated = "\n".join(lines + [lines[0]] * 4)
    assert GopherRepetition(CFG).apply(repeated)[1] == "dup_line_frac"
    looped = " ".join(["the same little phrase"] * 40)
    assert GopherRepetition(CFG).apply(looped)[1] in {"top_2_gram", "top_3_gram", "top_4_gram"}


def test_c4_keeps_only_lines_ending_in_terminal_punctuation_and_counts_the_rest():
    c4 = C4Quality(CFG)
    text = "Menu\nHome | About\n" + PROSE.replace(". ", ".\n") + "\nClick here to enable javascript now."
    out, reason = c4.apply(text)
    assert reason is None
    assert out == PROSE.replace(". ", ".\n")
    assert c4.line_counts == {"line-filter-no_terminal_punc": 2, "line-filter-javascript": 1}


def test_c4_drops_whole_pages_with_curly_brackets_lorem_ipsum_or_few_sentences():
    assert C4Quality(CFG).apply(PROSE + "\nUse a dict such as {1: 2} here.")[1] == "curly_bracket"
    assert C4Quality(CFG).apply(PROSE + "\nLorem ipsum dolor sit amet.")[1] == "lorem_ipsum"
    assert C4Quality(CFG).apply("One short line here. Two short lines here.")[1] == "too_few_sentences"


def test_fineweb_drops_list_like_and_unpunctuated_documents():
    words = PROSE.replace(".", "").split()
    listing = "\n".join(" ".join(words[i:i + 2]) + "." for i in range(0, len(words), 2))
    assert FineWebQuality(CFG).apply(listing)[1] in {"short_line_ratio", "list_ratio"}
    unpunctuated = "\n".join(" ".join(words[i:i + 8]) for i in range(0, len(words), 8))
    assert FineWebQuality(CFG).apply(unpunctuated)[1] == "line_punct_ratio"


def test_generated_test_documents_pass_every_filter():
    rng, vocab = random.Random(0), vocabulary()
    filters = build_filters(CFG)
    for _ in range(200):
        text = document(rng, vocab)
        for f in filters:
            text, reason = f.apply(text)
            assert reason is None, (f.name, reason)
