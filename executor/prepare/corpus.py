"""The embedded default corpus: CPython's `pydoc_data.topics`, real English text shipped with Python.

Each topic is split into its sections (a heading is a line underlined with `*`, `=`, `-` or `~`);
hard-wrapped prose paragraphs are joined into one line each, and indented blocks (grammar rules,
code examples, tables) are left out, so a document reads as running English prose, one paragraph
per line, the way web text reaches the C4 and FineWeb line rules. The reST markup pydoc keeps
(`"name"` for code literals, `*term*` for emphasis) is dropped, leaving the words.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pydoc_data.topics import topics

UNDERLINE = re.compile(r"^([*=\-~^])\1{2,}\s*$")
MIN_SECTION_WORDS = 20
LITERAL = re.compile(r'"([^"\n]{1,80})"')
EMPHASIS = re.compile(r"\*([^*\n]{1,80})\*")


def _sections(topic_text: str) -> Iterator[tuple[str, list[str]]]:
    """(heading, lines) for each section of one topic."""
    lines = topic_text.splitlines()
    heading, body = "", []
    i = 0
    while i < len(lines):
        nxt = lines[i + 1] if i + 1 < len(lines) else ""
        if lines[i].strip() and UNDERLINE.match(nxt) and len(nxt.strip()) >= len(lines[i].strip()) - 2:
            if body:
                yield heading, body
            heading, body = lines[i].strip(), []
            i += 2
            continue
        body.append(lines[i])
        i += 1
    if body:
        yield heading, body


def _paragraphs(lines: list[str]) -> list[str]:
    """Unindented prose paragraphs (and bullet items), each joined into a single line."""
    paras: list[str] = []
    current: list[str] = []
    for line in lines + [""]:
        indented = line.startswith((" ", "\t"))
        bullet = line.startswith(("* ", "- "))
        if not line.strip() or indented or bullet:
            if current:
                paras.append(" ".join(current))
                current = []
            if bullet:
                current = [line.strip()]
            elif indented and current == [] and paras and paras[-1].startswith(("* ", "- ")) and line.strip():
                paras[-1] += " " + line.strip()
            continue
        current.append(line.strip())
    return paras


def pydoc_documents() -> Iterator[str]:
    """The documents of the embedded corpus, in a fixed order (topic order, then section order)."""
    for name in sorted(topics):
        for heading, body in _sections(topics[name]):
            paras = _paragraphs(body)
            text = "\n".join(([heading] if heading else []) + paras).strip()
            text = EMPHASIS.sub(r"\1", LITERAL.sub(r"\1", text))
            if len(text.split()) >= MIN_SECTION_WORDS:
                yield text
