"""lm-eval runs offline on the bundled task files; results are all-or-nothing; hub tasks are refused.

The model is a bigram table (logits for token t+1 depend on token t only), so the held-out
perplexity can be recomputed here from the table directly.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("lm_eval")
pytest.importorskip("megatron.core")

from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402

from executor.evaluate import facts, taskfiles  # noqa: E402
from executor.evaluate.runner import evaluate_run  # noqa: E402
from executor.evaluate.scoring import HFTokenizer, Scorer  # noqa: E402
from planner.schema.evaluation import STANDARD_TASKS, EvalSpec  # noqa: E402
from tui.cli import main  # noqa: E402

EOD = "<|endoftext|>"
LM_EVAL_TASKS = Path(__import__("lm_eval").__file__).parent / "tasks"
PROMPT_FIELDS = ("output_type", "doc_to_text", "doc_to_choice", "doc_to_target", "metric_list",
                 "description", "process_results", "process_docs")


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def bigram_scorer() -> Scorer:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(facts.corpus_documents(200), trainers.BpeTrainer(
        vocab_size=512, special_tokens=[EOD], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    torch.manual_seed(0)
    vocab = tok.get_vocab_size()
    table = torch.randn(vocab, vocab)
    return Scorer(logits_fn=lambda tokens: table[tokens], max_length=64, eod_id=tok.token_to_id(EOD),
                  tokenizer=HFTokenizer(tok))


def _prompt_fields(path: Path) -> dict:
    """The fields that decide prompts and scores; `!function` references by function name."""
    cfg = load_yaml(path, resolve_func=False)
    return {k: (cfg[k].rsplit(".", 1)[-1] if k.startswith("process_") and k in cfg else cfg.get(k))
            for k in PROMPT_FIELDS}


@pytest.mark.parametrize("ours, theirs", [
    ("arc_easy.yaml", "arc/arc_easy.yaml"), ("arc_challenge.yaml", "arc/arc_challenge.yaml"),
    ("hellaswag.yaml", "hellaswag/hellaswag.yaml"), ("truthfulqa_mc1.yaml", "truthfulqa/truthfulqa_mc1.yaml"),
    ("truthfulqa_mc2.yaml", "truthfulqa/truthfulqa_mc2.yaml"),
    ("mmlu_abstract_algebra.yaml", "mmlu/default/mmlu_abstract_algebra.yaml"),
    ("mmlu_high_school_geography.yaml", "mmlu/default/mmlu_high_school_geography.yaml"),
])
def test_bundled_sample_prompts_and_metrics_are_lm_evals_own(ours, theirs):
    mine = _prompt_fields(taskfiles.SAMPLES_DIR / ours)
    assert mine == _prompt_fields(LM_EVAL_TASKS / theirs)
    assert load_yaml(taskfiles.SAMPLES_DIR / ours, resolve_func=False)["dataset_path"] == "json"


def _sample_utils():
    """The bundled tasks' utils.py, loaded by path as lm-eval's `!function` loader does."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("samples_utils", taskfiles.SAMPLES_DIR / "utils.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_bundled_hellaswag_docs_are_processed_exactly_as_lm_eval_processes_them():
    import datasets

    from lm_eval.tasks.hellaswag import utils as theirs

    ours = _sample_utils()
    rows = [json.loads(line) for line in (taskfiles.SAMPLES_DIR / "hellaswag.jsonl").read_text().splitlines()]
    docs = datasets.Dataset.from_list(rows)
    assert ours.process_docs(docs).to_list() == theirs.process_docs(docs).to_list()
    assert "[header]" not in ours.process_docs(docs)[3]["query"]


def test_mc2_is_the_normalised_probability_mass_on_true_answers():
    """TruthfulQA MC2 (Lin et al. 2021, sec. 3): sum of normalised probabilities of true answers."""
    ours = _sample_utils()
    doc = {"mc2_targets": {"labels": [1, 1, 0, 0]}}
    got = ours.process_results_mc2(doc, [(math.log(0.4), False), (math.log(0.2), False),
                                         (math.log(0.1), False), (math.log(0.1), False)])
    assert got["acc"] == pytest.approx(0.6 / 0.8)


def test_committed_facts_files_are_the_generated_ones():
    for name, text in facts.render_files().items():
        assert (facts.TASK_DIR / name).read_text(encoding="utf-8") == text


def test_every_standard_task_runs_offline_and_writes_results_and_summary(tmp_path, bigram_scorer):
    spec = EvalSpec(tasks=[*STANDARD_TASKS, "facts"], batch_size=16)
    results = evaluate_run(tmp_path, spec, scorer=bigram_scorer)
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert saved["llmplan"]["complete"] is True
    assert saved["results"].keys() == results["results"].keys()
    for task in ("arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2", "facts"):
        assert 0.0 <= saved["results"][task]["acc,none"] <= 1.0
    assert saved["n-samples"]["facts"]["effective"] == 24
    header, *rows = (tmp_path / "eval" / "summary.tsv").read_text().splitlines()
    assert header == "task\tmetric\tvalue\tstderr\tsource"
    assert any(r.startswith("truthfulqa_mc2\tacc\t") and "bundled sample, 3 items" in r for r in rows)
    assert any(r.startswith("validation\tperplexity\tn/a") for r in rows), "reported even without a split"
    assert not list((tmp_path / "eval").glob(".staging-*"))


def test_limit_caps_the_items_per_task(tmp_path, bigram_scorer):
    results = evaluate_run(tmp_path, EvalSpec(tasks=["facts"], limit=5), scorer=bigram_scorer)
    assert results["n-samples"]["facts"]["effective"] == 5


def test_validation_perplexity_is_exp_of_the_mean_nll_of_the_held_out_tokens(tmp_path, bigram_scorer):
    """Perplexity = exp(-(1/N) sum log p(x_i | x_<i)) (Jelinek et al. 1977), recomputed here
    from the bigram table; documents are scored from the end-of-document token."""
    import numpy as np
    from megatron.core.datasets.indexed_dataset import IndexedDatasetBuilder

    data = tmp_path / "data"
    data.mkdir()
    docs = [bigram_scorer.tokenizer.encode(d) + [bigram_scorer.eod_id] for d in facts.corpus_documents(5, seed=9)]
    prefix = str(data / "facts_val_text_document")  # the held-out split `llmplan prepare` writes
    builder = IndexedDatasetBuilder(prefix + ".bin", dtype=np.uint16)
    for doc in docs:
        builder.add_document(np.asarray(doc), [len(doc)])
    builder.finalize(prefix + ".idx")
    evaluate_run(tmp_path, EvalSpec(tasks=["facts"], limit=2), scorer=bigram_scorer)
    table = bigram_scorer.logits_fn(torch.arange(512)).double().log_softmax(-1)
    nll, count = 0.0, 0
    for doc in docs:
        seq = [bigram_scorer.eod_id, *doc]
        nll -= sum(float(table[a, b]) for a, b in zip(seq, seq[1:]))
        count += len(doc)
    saved = json.loads((tmp_path / "eval" / "results.json").read_text())["llmplan"]["validation"]
    assert saved["num_tokens"] == count and saved["num_documents"] == 5
    assert saved["value"] == pytest.approx(math.exp(nll / count), rel=1e-6)


def test_a_task_directory_of_ones_own_yaml_runs_offline(tmp_path, bigram_scorer):
    tasks = tmp_path / "my_tasks"
    tasks.mkdir()
    (tasks / "mine.jsonl").write_text(json.dumps({"q": "What is the capital of Norland?",
                                                  "options": ["Vesk", "Brask"], "gold": 0}) + "\n")
    (tasks / "mine.yaml").write_text(
        "task: my_capitals\ndataset_path: json\ndataset_kwargs:\n  data_files:\n"
        "    test: \"@TASK_DIR@/mine.jsonl\"\ntest_split: test\noutput_type: multiple_choice\n"
        "doc_to_text: \"Question: {{q}}\\nAnswer:\"\ndoc_to_choice: \"{{options}}\"\ndoc_to_target: \"{{gold}}\"\n"
        "metric_list:\n  - metric: acc\n")
    results = evaluate_run(tmp_path, EvalSpec(tasks=["my_capitals"], task_dir=str(tasks)), scorer=bigram_scorer)
    assert results["n-samples"]["my_capitals"]["effective"] == 1


def test_a_hub_task_offline_exits_2_naming_task_reason_and_remedy_and_writes_nothing(tmp_path, capsys):
    previous = tmp_path / "eval" / "results.json"
    previous.parent.mkdir()
    previous.write_text("{\"from\": \"an earlier complete evaluation\"}\n")
    status = main(["evaluate", str(tmp_path), "--tasks", "arc_easy,mmlu_anatomy"])
    err = capsys.readouterr().err
    assert status == 2
    assert "'mmlu_anatomy' needs the Hugging Face hub" in err and "cais/mmlu" in err
    assert "--task-dir" in err and "dataset_path: json" in err
    assert "Traceback" not in err
    assert previous.read_text() == "{\"from\": \"an earlier complete evaluation\"}\n"
    assert sorted(p.name for p in previous.parent.iterdir()) == ["results.json"]


def test_an_unknown_task_is_named_as_unknown(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--tasks", "no_such_task_xyz"]) == 2
    assert "'no_such_task_xyz' is neither a bundled task nor an lm-eval task name" in capsys.readouterr().err


def test_a_failure_half_way_leaves_the_previous_results_and_no_partial_file(tmp_path, bigram_scorer):
    evaluate_run(tmp_path, EvalSpec(tasks=["facts"], limit=3), scorer=bigram_scorer)
    before = {p.name: p.read_bytes() for p in (tmp_path / "eval").iterdir()}
    calls = {"n": 0}

    def failing(tokens):
        calls["n"] += 1
        if calls["n"] > 2:
            raise RuntimeError("node lost")
        return bigram_scorer.logits_fn(tokens)

    broken = Scorer(failing, bigram_scorer.max_length, bigram_scorer.eod_id, bigram_scorer.tokenizer)
    with pytest.raises(RuntimeError, match="node lost"):
        evaluate_run(tmp_path, EvalSpec(tasks=["facts"], batch_size=2), scorer=broken)
    assert {p.name: p.read_bytes() for p in (tmp_path / "eval").iterdir()} == before


def test_evaluate_without_a_checkpoint_exits_2(tmp_path, capsys):
    assert main(["evaluate", str(tmp_path), "--tasks", "facts"]) == 2
    assert "no checkpoint" in capsys.readouterr().err
