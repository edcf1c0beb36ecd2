"""PII redaction with placeholders: e-mail addresses, phone numbers, IPv4/IPv6 addresses,
credit-card numbers (Luhn-checked), IBANs (ISO 13616 mod-97 checked) and secrets (AWS access keys,
PEM private-key blocks, HTTP bearer tokens).

Patterns are regular expressions in the spirit of datatrove's `PIIFormatter` and dolma's
`pii_regex_v2` tagger; numbers are validated (Luhn for cards, mod-97 for IBANs, `ipaddress` for IPs)
so dates, versions and long numbers in ordinary text are left alone. Redaction is deterministic:
the same text always gives the same output, so shards and re-runs agree.
"""

from __future__ import annotations

import ipaddress
import re
from collections import Counter
from collections.abc import Callable

from planner.schema.data import PIISpec

PLACEHOLDERS = {
    "private_key": "<PRIVATE_KEY>",
    "aws_access_key": "<AWS_ACCESS_KEY>",
    "bearer_token": "<BEARER_TOKEN>",
    "email": "<EMAIL>",
    "iban": "<IBAN>",
    "credit_card": "<CREDIT_CARD>",
    "ipv6": "<IP_ADDRESS>",
    "ipv4": "<IP_ADDRESS>",
    "phone": "<PHONE>",
}
"""Redaction kinds in the order they are applied (longest, most specific patterns first)."""

KIND_GROUPS = {
    "secret": ("private_key", "aws_access_key", "bearer_token"),
    "email": ("email",),
    "iban": ("iban",),
    "credit_card": ("credit_card",),
    "ip": ("ipv6", "ipv4"),
    "phone": ("phone",),
}
"""Plan-level kinds (`PIISpec.kinds`) to the kinds counted in stats.json."""

PATTERNS = {
    "private_key": re.compile(
        r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    "aws_access_key": re.compile(r"\b(?:AKIA|ASIA|AIDA|AROA|ANPA|AIPA)[0-9A-Z]{16}\b"),
    "bearer_token": re.compile(r"(?<=\bBearer )[A-Za-z0-9\-._~+/]{16,}=*", re.IGNORECASE),
    "email": re.compile(r"\b[A-Za-z0-9._%+\-]+@(?:[A-Za-z0-9\-]+\.)+[A-Za-z]{2,}\b"),
    "iban": re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b"),
    "credit_card": re.compile(r"(?<![\d.\-])\d(?:[ \-]?\d){12,18}(?![\d\-]|\.\d)"),
    "ipv6": re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}(?:[0-9A-Fa-f]{0,4}|\d+\.\d+\.\d+\.\d+)(?![\w:])"),
    "ipv4": re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w]|\.\d)"),
    "phone": re.compile(
        r"(?<![\w+\-])(?<!\d )(?:\+\d{1,3}[ .\-]?)?(?:\(\d{2,4}\)[ .\-]?|\d{2,4}[ .\-])\d{3,4}[ .\-]\d{3,4}"
        r"(?![\w\-]|[. ]\d)"),
}


def luhn_valid(number: str) -> bool:
    """Luhn (mod 10) checksum, ISO/IEC 7812-1 Annex B."""
    digits = [int(c) for c in number if c.isdigit()]
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616: move the first four characters to the end, letters to 10..35, mod 97 == 1."""
    s = candidate.replace(" ", "")
    if not 15 <= len(s) <= 34:
        return False
    digits = "".join(str(int(c, 36)) for c in s[4:] + s[:4])
    return int(digits) % 97 == 1


def _ip_ok(public_only: bool) -> Callable[[str], bool]:
    def check(text: str) -> bool:
        try:
            addr = ipaddress.ip_address(text)
        except ValueError:
            return False
        return addr.is_global if public_only else True
    return check


CARD_GROUPS = {(4, 6, 5), (4, 6, 4), (4, 4, 4, 1)}
r"""Printed card groupings with a group outside 3-5 digits (Amex 15 and Diners 14 as 4-6-x, 13-digit
Visa as 4-4-4-1). Besides these, a number written in groups of 3 to 5 digits separated by spaces or
hyphens is a card candidate (`4111 1111 1111 1111`, a 15-digit card as `3782 8224 6310 005`), as
Presidio's CreditCardRecognizer accepts `\d{3,4}[- ]?\d{3,4}[- ]?\d{3,5}` groupings. Other groupings
(ISBNs `978-0-306-40615-7`, dates, ids with 1- or 2-digit parts) are not card numbers even when their
digits pass the Luhn check."""


def _card_ok(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    groups = tuple(len(g) for g in re.split(r"[ \-]", text))
    if len(groups) > 1 and groups not in CARD_GROUPS and not all(3 <= g <= 5 for g in groups):
        return False
    return 13 <= len(digits) <= 19 and len(set(digits)) > 1 and luhn_valid(digits)


PRINTED_GROUPS = CARD_GROUPS | {(4, 4, 4, 4), (4, 4, 4, 3), (4, 4, 4, 4, 3)}
"""Groupings printed on cards, searched for inside a longer match (`card_span`)."""


def card_span(text: str) -> tuple[int, int] | None:
    """The span of a card-pattern match that is a card number, or None.

    The whole match first; failing that, a run of its groups printed the way cards are
    (PRINTED_GROUPS), since the pattern is greedy: in `order 123 4111 1111 1111 1111` the order
    number is matched too, and only the card after it is redacted. Only printed groupings are
    searched, so a long grouped id gets one Luhn chance per printed run, not one per sub-run.
    """
    if _card_ok(text):
        return 0, len(text)
    groups = [m.span() for m in re.finditer(r"\d+", text)]
    for size in range(min(len(groups) - 1, 5), 2, -1):
        for first in range(len(groups) - size + 1):
            start, end = groups[first][0], groups[first + size - 1][1]
            run = text[start:end]
            if tuple(len(g) for g in re.split(r"[ \-]", run)) in PRINTED_GROUPS and _card_ok(run):
                return start, end
    return None


def _phone_ok(text: str) -> bool:
    return 9 <= sum(c.isdigit() for c in text) <= 15


class PIIRedactor:
    """Replaces each PII match with its placeholder; `counts` tallies redactions by kind."""

    name = "pii"

    def __init__(self, spec: PIISpec) -> None:
        wanted = {k for group in spec.kinds for k in KIND_GROUPS[group]} if spec.enabled else set()
        validators: dict[str, Callable[[str], bool]] = {
            "iban": iban_valid, "phone": _phone_ok,
            "ipv4": _ip_ok(spec.public_ip_only), "ipv6": _ip_ok(spec.public_ip_only),
        }
        self.rules = [(kind, PATTERNS[kind], validators.get(kind)) for kind in PLACEHOLDERS if kind in wanted]
        self.counts: Counter[str] = Counter()

    def apply(self, text: str) -> str:
        for kind, pattern, valid in self.rules:
            placeholder = PLACEHOLDERS[kind]

            def replace(m: re.Match, kind: str = kind, valid=valid, placeholder: str = placeholder) -> str:
                found = m.group(0)
                if kind == "credit_card":  # the card may be a part of the match (card_span)
                    span = card_span(found)
                    if span is None:
                        return found
                    self.counts[kind] += 1
                    return found[:span[0]] + placeholder + found[span[1]:]
                if valid is not None and not valid(found):
                    return found
                self.counts[kind] += 1
                return placeholder

            text = pattern.sub(replace, text)
        return text
