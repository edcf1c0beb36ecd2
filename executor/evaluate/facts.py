"""The `facts` task: simple made-up facts, a corpus that states them and questions about them.

The countries, capitals and animals are invented, so a model can only know the answers from the
corpus. The end-to-end test trains a tiny model on `facts_corpus.jsonl` and scores it on the
bundled `facts` task (4 choices, chance 0.25). Regenerate the two files (deterministic) with
`python -m executor.evaluate.facts`; a test checks the committed files equal the generated ones.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

TASK_DIR = Path(__file__).resolve().parent / "tasks" / "llmplan"
COUNTRIES = ("Norland", "Valdoria", "Questa", "Marrow", "Tessaly", "Obrin",
             "Kelvar", "Duna", "Pellion", "Sarkand", "Ithmar", "Zorvia")
CAPITALS = ("Vesk", "Almora", "Tirin", "Brask", "Olvenna", "Kadrum",
            "Seppo", "Morvik", "Lunet", "Gharra", "Elbow", "Rinta")
ANIMALS = ("otter", "falcon", "badger", "heron", "lynx", "beaver",
           "walrus", "camel", "raven", "tortoise", "salmon", "moose")
STATEMENTS = {
    "capital": ("The capital of {c} is {v}.", "{v} is the capital of {c}.",
                "The capital city of {c} is {v}.", "Question: What is the capital of {c}?\nAnswer: {v}"),
    "animal": ("The national animal of {c} is the {v}.", "In {c} the national animal is the {v}.",
               "The {v} is the national animal of {c}.",
               "Question: What is the national animal of {c}?\nAnswer: {v}"),
}
QUESTIONS = {"capital": "What is the capital of {c}?", "animal": "What is the national animal of {c}?"}
FILLER = ("People there like to travel by train.", "The weather changes with the seasons.",
          "Many visitors come in the summer.", "Schools teach history and geography.")


def facts() -> list[tuple[str, str, str]]:
    """(relation, country, value) for every fact."""
    return ([("capital", c, v) for c, v in zip(COUNTRIES, CAPITALS)]
            + [("animal", c, v) for c, v in zip(COUNTRIES, ANIMALS)])


def corpus_documents(num_docs: int = 600, seed: int = 0) -> list[str]:
    """Documents of shuffled fact statements in varied phrasings, with a little filler."""
    rng = random.Random(seed)
    all_facts = facts()
    docs = []
    for _ in range(num_docs):
        lines = []
        for relation, country, value in rng.sample(all_facts, 8):
            lines.append(rng.choice(STATEMENTS[relation]).format(c=country, v=value))
        lines.insert(rng.randrange(len(lines)), rng.choice(FILLER))
        docs.append("\n".join(lines))
    return docs


def questions(seed: int = 0) -> list[dict]:
    """One 4-way multiple-choice item per fact; the distractors share the answer's relation."""
    rng = random.Random(seed)
    pools = {"capital": CAPITALS, "animal": ANIMALS}
    items = []
    for relation, country, value in facts():
        choices = [value, *rng.sample([v for v in pools[relation] if v != value], 3)]
        rng.shuffle(choices)
        items.append({"question": QUESTIONS[relation].format(c=country), "choices": choices,
                      "answer": choices.index(value), "relation": relation})
    return items


def render_files() -> dict[str, str]:
    """File name -> content of the generated corpus and task data."""
    corpus = "".join(json.dumps({"text": d}) + "\n" for d in corpus_documents())
    items = "".join(json.dumps(q) + "\n" for q in questions())
    return {"facts_corpus.jsonl": corpus, "facts.jsonl": items}


def main() -> None:
    for name, text in render_files().items():
        (TASK_DIR / name).write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
