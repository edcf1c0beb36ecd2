"""Functions the bundled sample tasks name with `!function utils.<name>`.

Copied from lm-evaluation-harness (MIT license): `process_docs` from
lm_eval/tasks/hellaswag/utils.py and `process_results_mc2` from lm_eval/tasks/truthfulqa/utils.py
(without that module's sacrebleu/rouge imports, which the multiple-choice tasks do not need).
"""

import re

import numpy as np


def preprocess(text):
    text = text.strip()
    # NOTE: Brackets are artifacts of the WikiHow dataset portion of HellaSwag.
    text = text.replace(" [title]", ". ")
    text = re.sub("\\[.*?\\]", "", text)
    text = text.replace("  ", " ")
    return text


def process_docs(dataset):
    def _process_doc(doc):
        ctx = doc["ctx_a"] + " " + doc["ctx_b"].capitalize()
        out_doc = {
            "query": preprocess(doc["activity_label"] + ": " + ctx),
            "choices": [preprocess(ending) for ending in doc["endings"]],
            "gold": int(doc["label"]),
        }
        return out_doc

    return dataset.map(_process_doc)


def process_results_mc2(doc, results):
    ll, _ = zip(*results)
    ll = np.array(ll)
    # Convert log-likelihoods to probabilities, normalise, and sum the mass on true answers.
    probs = np.exp(ll)
    probs_norm = probs / np.sum(probs)
    labels = np.array(doc["mc2_targets"]["labels"])
    pm_true = np.sum(probs_norm[labels == 1])
    return {"acc": pm_true}
