"""PII redaction: every planted item of each kind is replaced by its placeholder; clean text full
of dates, versions, prices and ids is left alone (false-redaction rate reported, target < 0.5%)."""

from __future__ import annotations

import random

import pytest

from executor.prepare.pii import PLACEHOLDERS, PIIRedactor, iban_valid, luhn_valid
from executor.prepare.synthetic import clean_document, pii_document, pii_items, vocabulary
from planner.schema.data import PIISpec


@pytest.fixture(scope="module")
def vocab():
    return vocabulary()


def test_luhn_and_iban_checks_accept_published_examples_and_reject_typos():
    assert luhn_valid("4111111111111111") and luhn_valid("378282246310005")  # test cards (Stripe, Amex)
    assert not luhn_valid("4111111111111112")
    assert iban_valid("GB82WEST12345698765432") and iban_valid("DE89370400440532013000")  # ISO 13616 examples
    assert iban_valid("GB82 WEST 1234 5698 7654 32")
    assert not iban_valid("GB82WEST12345698765433")


def test_every_planted_pii_item_of_each_kind_is_redacted(vocab):
    rng = random.Random(7)
    redactor = PIIRedactor(PIISpec())
    missed = []
    per_kind = 150
    for _ in range(per_kind):
        for kind, value in pii_items(rng).items():
            out = redactor.apply(pii_document(rng, vocab, kind, value))
            if value in out or PLACEHOLDERS[kind] not in out:
                missed.append((kind, value))
    print(f"\nplanted {per_kind} of each of {len(PLACEHOLDERS)} kinds; missed {len(missed)}; "
          f"redactions {dict(redactor.counts)}")
    assert missed == []
    assert set(redactor.counts) == set(PLACEHOLDERS)
    assert all(redactor.counts[k] == per_kind for k in PLACEHOLDERS)


def test_false_redaction_rate_on_1000_clean_documents_is_below_half_a_percent(vocab):
    rng = random.Random(11)
    redactor = PIIRedactor(PIISpec())
    docs = [clean_document(rng, vocab) for _ in range(1000)]
    changed = sum(redactor.apply(d) != d for d in docs)
    rate = changed / len(docs)
    print(f"\nfalse redactions: {changed} of {len(docs)} clean documents ({rate:.2%}); {dict(redactor.counts)}")
    assert rate < 0.005


def test_card_numbers_that_fail_luhn_and_isbn_groupings_are_kept():
    redactor = PIIRedactor(PIISpec())
    text = "Card 4111 1111 1111 1112 was declined; the book ISBN is 978-0-306-40615-7."
    assert redactor.apply(text) == text


def test_private_ips_are_kept_unless_every_ip_is_to_be_redacted():
    text = "Router 192.168.1.1 and loopback ::1 forward to 8.8.8.8 and 2001:4860:4860::8888."
    public_only = PIIRedactor(PIISpec()).apply(text)
    assert public_only == "Router 192.168.1.1 and loopback ::1 forward to <IP_ADDRESS> and <IP_ADDRESS>."
    everything = PIIRedactor(PIISpec(public_ip_only=False)).apply(text)
    assert "192.168.1.1" not in everything and "::1" not in everything


def test_kinds_left_out_of_the_plan_are_not_redacted():
    text = "Mail ana.smith@example.org from 8.8.8.8."
    assert PIIRedactor(PIISpec(kinds=["ip"])).apply(text) == "Mail ana.smith@example.org from <IP_ADDRESS>."
    assert PIIRedactor(PIISpec(enabled=False)).apply(text) == text
