"""Generated corpora for tests and benchmarks: English-like documents (words drawn from the
embedded pydoc corpus) with planted exact duplicates, near duplicates of a chosen word 5-gram
Jaccard similarity, planted PII of every kind, and clean documents full of numbers that look like
PII but are not (dates, versions, prices, ids)."""

from __future__ import annotations

import ipaddress
import random
import re
import string
from dataclasses import dataclass, field

from executor.prepare.corpus import pydoc_documents
from executor.prepare.dedup import normalise, shingles
from executor.prepare.pii import luhn_valid

STOP = ["the", "the", "of", "and", "to", "a", "in", "that", "is", "with", "for", "be", "have"]


def vocabulary() -> list[str]:
    """Distinct lowercase words (3-12 letters) of the pydoc corpus, sorted."""
    words = {w for d in pydoc_documents() for w in re.findall(r"\b[a-z]{3,12}\b", d)}
    return sorted(words)


def sentence(rng: random.Random, vocab: list[str], num_words: int) -> str:
    words = [rng.choice(STOP) if rng.random() < 0.3 else rng.choice(vocab) for _ in range(num_words)]
    return " ".join(words).capitalize() + "."


def document(rng: random.Random, vocab: list[str], num_lines: int = 5) -> str:
    """num_lines paragraphs (one per line) of 2-3 sentences of 10-18 words."""
    return "\n".join(" ".join(sentence(rng, vocab, rng.randint(10, 18)) for _ in range(rng.randint(2, 3)))
                     for _ in range(num_lines))


def jaccard(a: str, b: str, n: int = 5) -> float:
    sa, sb = set(shingles(normalise(a), n)), set(shingles(normalise(b), n))
    return len(sa & sb) / len(sa | sb)


def near_duplicate(text: str, rng: random.Random, vocab: list[str], low: float, high: float) -> tuple[str, float]:
    """A copy of `text` with words replaced until its 5-gram Jaccard to `text` falls in [low, high]."""
    target = rng.uniform(low, high)
    lines = [line.split(" ") for line in text.split("\n")]
    spots = [(i, j) for i, line in enumerate(lines) for j in range(len(line) - 1)]
    rng.shuffle(spots)
    current, sim = text, 1.0
    for i, j in spots:
        old = lines[i][j]
        lines[i][j] = rng.choice(vocab)
        candidate = "\n".join(" ".join(line) for line in lines)
        new_sim = jaccard(text, candidate)
        if new_sim < low:
            lines[i][j] = old
            continue
        current, sim = candidate, new_sim
        if sim <= target:
            break
    return current, sim


@dataclass
class DedupCorpus:
    texts: list[str]
    exact_dup_idx: set[int] = field(default_factory=set)
    near_dup_idx: set[int] = field(default_factory=set)
    similarities: list[float] = field(default_factory=list)


def dedup_corpus(num_originals: int = 800, num_exact: int = 100, num_near: int = 200, seed: int = 0,
                 low: float = 0.8, high: float = 0.95) -> DedupCorpus:
    """Originals, then exact copies and near copies (Jaccard in [low, high]) of distinct originals,
    each inserted at a random position after its original."""
    rng = random.Random(seed)
    vocab = vocabulary()
    texts = [document(rng, vocab) for _ in range(num_originals)]
    kinds = ["exact"] * num_exact + ["near"] * num_near
    sources = rng.sample(range(num_originals), len(kinds))
    planted: list[tuple[int, str, str, float]] = []
    for src, kind in zip(sources, kinds):
        if kind == "exact":
            planted.append((src, kind, texts[src], 1.0))
        else:
            copy, sim = near_duplicate(texts[src], rng, vocab, low, high)
            planted.append((src, kind, copy, sim))
    items: list[tuple[str, str | None, float]] = [(t, None, 0.0) for t in texts]
    for src, kind, copy, sim in sorted(planted, key=lambda p: -p[0]):
        pos = rng.randint(src + 1, len(texts))
        texts.insert(pos, copy)
        items.insert(pos, (copy, kind, sim))
    corpus = DedupCorpus(texts=texts)
    for i, (_, kind, sim) in enumerate(items):
        if kind == "exact":
            corpus.exact_dup_idx.add(i)
        elif kind == "near":
            corpus.near_dup_idx.add(i)
            corpus.similarities.append(sim)
    return corpus


# -- PII -----------------------------------------------------------------------------------------

def luhn_complete(prefix_and_body: str) -> str:
    """Append the Luhn check digit."""
    return next(prefix_and_body + d for d in string.digits if luhn_valid(prefix_and_body + d))


def iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


def _group(s: str, size: int = 4) -> str:
    return " ".join(s[i:i + size] for i in range(0, len(s), size))


def pii_items(rng: random.Random) -> dict[str, str]:
    """One fresh PII value of each kind."""
    digits = lambda n: "".join(rng.choice(string.digits) for _ in range(n))  # noqa: E731
    alnum = string.ascii_uppercase + string.digits
    while True:
        v4 = ipaddress.IPv4Address(rng.getrandbits(32))
        if v4.is_global:
            break
    v6 = ipaddress.IPv6Address((0x2001 << 112) | (0x0db9 << 96) | rng.getrandbits(96))  # 2001:db9:: is global
    card_kind = rng.choice(["visa", "mc", "amex"])
    if card_kind == "amex":
        n = luhn_complete(rng.choice(["34", "37"]) + digits(12))
        card = rng.choice([f"{n[:4]} {n[4:10]} {n[10:]}", n])
    else:
        n = luhn_complete((rng.choice(["4"]) if card_kind == "visa" else str(rng.randint(51, 55))) + digits(14 if card_kind == "visa" else 13))
        card = rng.choice([_group(n), "-".join(n[i:i + 4] for i in range(0, 16, 4)), n])
    country, bban = rng.choice([("DE", digits(18)), ("GB", "WEST" + digits(14)), ("FR", digits(10) + "ABCDE" + digits(8)[:5] + digits(3)[:2]),
                                ("NL", "ABNA" + digits(10))])
    code = iban(country, bban)
    phone = rng.choice([f"+1 {digits(3)}-555-{digits(4)}", f"({rng.randint(201, 989)}) 555-{digits(4)}",
                        f"+44 20 {digits(4)} {digits(4)}", f"{rng.randint(201, 989)}.555.{digits(4)}",
                        f"+49 30 {digits(4)} {digits(4)}"])
    key_body = "\n".join("".join(rng.choice(string.ascii_letters + string.digits + "+/") for _ in range(64)) for _ in range(4))
    return {
        "email": f"{rng.choice(['john', 'maria', 'li', 'ana'])}.{rng.choice(['doe', 'smith', 'wang'])}{digits(2)}@"
                 f"{rng.choice(['gmail.com', 'example.org', 'mail.co.uk', 'uni-bonn.de'])}",
        "phone": phone,
        "ipv4": str(v4),
        "ipv6": str(v6),
        "credit_card": card,
        "iban": rng.choice([code, _group(code)]),
        "aws_access_key": "AKIA" + "".join(rng.choice(alnum) for _ in range(16)),
        "private_key": f"-----BEGIN RSA PRIVATE KEY-----\n{key_body}\n-----END RSA PRIVATE KEY-----",
        "bearer_token": "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(40)),
    }


PII_SENTENCES = {
    "email": "Send the report to {} before the end of the week.",
    "phone": "You can call the office at {} during working hours.",
    "ipv4": "The server at {} answered the request.",
    "ipv6": "The host listens on {} for new connections.",
    "credit_card": "The payment was made with card {} last month.",
    "iban": "Please transfer the fee to account {} by Friday.",
    "aws_access_key": "The deployment used the access key {} for uploads.",
    "private_key": "The old key was pasted here:\n{}\nand then removed.",
    "bearer_token": "The client sent the header Authorization: Bearer {} with each call.",
}

CLEAN_SENTENCES = [
    "Python {ver} was released on {date} at {time}.", "The price went from ${p1} to ${p2} in {year}.",
    "About {pct} percent of the {n} samples passed the test.", "Read pages {a}-{b} of chapter {c}.",
    "Order number {order} shipped on {date2}.", "The commit {sha} fixed issue #{issue}.",
    "The ratio was {a}:{b} and the mean was {f}.", "Version {ver} of the library depends on {ver2}.",
    "Room {room} is open from {time} until {time2}.", "The population grew to {big} in {year}.",
    "Set the timeout to {n} seconds and retry {c} times.", "The coordinates were {f}, {f2}.",
    "The book has ISBN {isbn} on its back cover.", "The request id was {uuid} in the log.",
    "The adapter with MAC address {mac} was replaced.", "Call {short} for help or write to the help desk.",
]


def clean_sentence(rng: random.Random) -> str:
    r = rng.randint
    return rng.choice(CLEAN_SENTENCES).format(
        ver=f"{r(1, 4)}.{r(0, 14)}.{r(0, 9)}", ver2=f"{r(1, 9)}.{r(0, 30)}", date=f"{r(1990, 2026)}-{r(1, 12):02d}-{r(1, 28):02d}",
        date2=f"{r(1, 28)}/{r(1, 12)}/{r(1990, 2026)}", time=f"{r(0, 23):02d}:{r(0, 59):02d}",
        time2=f"{r(0, 23):02d}:{r(0, 59):02d}:{r(0, 59):02d}", p1=f"{r(1, 999)}.{r(0, 99):02d}",
        p2=f"{r(1, 9)},{r(100, 999)}.{r(0, 99):02d}", year=r(1900, 2026), pct=f"{r(1, 99)}.{r(0, 9)}",
        n=r(2, 5000), a=r(1, 400), b=r(401, 900), c=r(1, 30), order=r(10000, 99999999),
        sha="".join(rng.choice("0123456789abcdef") for _ in range(10)), issue=r(1, 99999),
        f=f"{rng.uniform(-90, 90):.4f}", f2=f"{rng.uniform(-180, 180):.4f}", room=r(100, 999),
        big=f"{r(1, 999)},{r(100, 999)},{r(100, 999)}", isbn=f"978-{r(0, 9)}-{r(10, 99)}-{r(100000, 999999)}-{r(0, 9)}",
        uuid="-".join("".join(rng.choice("0123456789abcdef") for _ in range(k)) for k in (8, 4, 4, 4, 12)),
        mac=":".join(f"{r(0, 255):02X}" for _ in range(6)), short=rng.choice(["911", "112", "999", "411"]))


def clean_document(rng: random.Random, vocab: list[str]) -> str:
    lines = document(rng, vocab).split("\n")
    return "\n".join(line + " " + clean_sentence(rng) + " " + clean_sentence(rng) for line in lines)


def pii_document(rng: random.Random, vocab: list[str], kind: str, value: str) -> str:
    lines = document(rng, vocab).split("\n")
    lines.insert(rng.randint(0, len(lines)), PII_SENTENCES[kind].format(value))
    return "\n".join(lines)
