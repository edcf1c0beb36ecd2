"""`llmplan evaluate --backend hf` (lm-eval's own `hf` model on the export) against the native adapter
on the same tiny TP=2 checkpoint: every bundled task, every loglikelihood request."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("lm_eval")
pytest.importorskip("megatron.core")

from exec_helpers import cli  # noqa: E402
from hf_support import prepared_data, tp2_run  # noqa: E402, F401 - fixtures

pytestmark = pytest.mark.slow

BUNDLED = ["arc_easy", "arc_challenge", "hellaswag", "mmlu", "truthfulqa_mc1", "truthfulqa_mc2", "facts"]
TOL = 1e-4


def _loglikelihoods(results: dict) -> dict:
    """(task, doc_id, request index) -> (loglikelihood, is_greedy) from lm-eval's logged samples."""
    out = {}
    for task, samples in results["samples"].items():
        for sample in samples:
            for i, resp in enumerate(sample["resps"]):
                value = resp[0]
                out[(task, sample["doc_id"], i)] = (float(value[0]), bool(value[1]))
    return out


def test_hf_backend_and_native_adapter_agree_within_1e_4_on_the_bundled_tasks(tp2_run, prepared_data):
    from executor.evaluate.runner import evaluate_run
    from planner.schema.evaluation import EvalSpec

    (tp2_run / "data").symlink_to(prepared_data)  # the held-out split, as `llmplan execute` lays it out
    spec = EvalSpec(tasks=BUNDLED, limit=None, batch_size=8, offline=True, validation_max_tokens=5000)
    native = evaluate_run(tp2_run, spec, log_samples=True)
    hf = evaluate_run(tp2_run, spec, backend="hf", log_samples=True)
    a, b = _loglikelihoods(native), _loglikelihoods(hf)
    assert sorted(a) == sorted(b) and len(a) > 150
    worst = max(abs(a[k][0] - b[k][0]) for k in a)
    greedy_same = sum(a[k][1] == b[k][1] for k in a)
    metrics = [(task, key) for task, values in native["results"].items() for key in values
               if "," in key and "stderr" not in key and isinstance(values[key], int | float)]
    worst_metric = max(abs(native["results"][t][k] - hf["results"][t][k]) for t, k in metrics)
    ppl_native, ppl_hf = (r["llmplan"]["validation"]["nll_per_token"] for r in (native, hf))
    print(f"FIGURE lm-eval hf vs native: {len(a)} loglikelihoods, max |diff| {worst:.3g}, is_greedy equal "
          f"{greedy_same}/{len(a)}; {len(metrics)} task metrics, max |diff| {worst_metric:.3g}; "
          f"validation nll/token {ppl_native:.6f} vs {ppl_hf:.6f}")
    assert worst <= TOL and greedy_same == len(a) and worst_metric <= TOL
    assert abs(ppl_native - ppl_hf) <= TOL
    assert (tp2_run / "eval" / "results.json").is_file() and (tp2_run / "eval-hf" / "results.json").is_file()


def test_evaluate_backend_hf_on_the_command_line_writes_eval_hf(tp2_run, tmp_path):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(tp2_run, run, ignore=shutil.ignore_patterns("hf", "eval*", "data"))
    code, out = cli("evaluate", str(run), "--backend", "hf", "--tasks", "facts", "--limit", "4")
    assert code == 0, out
    saved = json.loads((run / "eval-hf" / "results.json").read_text())
    assert saved["llmplan"]["backend"] == "hf" and "facts" in saved["results"]
    assert (run / "hf" / "iter_0000020" / "config.json").is_file() and not (run / "eval").exists()


def test_evaluate_backend_hf_without_a_checkpoint_exits_2(tmp_path):
    (tmp_path / "run").mkdir()
    code, out = cli("evaluate", str(tmp_path / "run"), "--backend", "hf", "--tasks", "facts")
    assert code == 2 and "no checkpoint" in out
