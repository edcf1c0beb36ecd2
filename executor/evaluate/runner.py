"""Evaluate a run: lm-eval tasks and the held-out perplexity, written to RUN_DIR/eval/.

Outputs (all or nothing): `results.json` (lm-eval's results JSON plus an `llmplan` block with the
validation perplexity, the task sources and `"complete": true`), `summary.tsv` and `summary.md`
(task, metric, value, stderr, source). Everything is computed first; the files are then written
to a staging directory inside eval/, fsynced, and renamed into place with results.json last. Bad
input (an unknown or hub-only task while offline, no checkpoint) is detected before the model is
loaded and leaves eval/ untouched; a failure half-way leaves no new file behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from executor.evaluate import hf_model as hf_eval
from executor.evaluate.checkpoint import scorer_from_run_dir
from executor.evaluate.scoring import Scorer, score_documents
from executor.evaluate.taskfiles import check_tasks, task_manager
from planner.io import atomic_write_text
from planner.schema.evaluation import EvalSpec

VAL_GLOB = "*_val_text_document.idx"
OUTPUT_FILES = ("summary.tsv", "summary.md", "results.json")


@dataclass(frozen=True)
class Perplexity:
    """Per-token perplexity exp(-(1/N) sum_i log p(x_i | x_<i)) over N held-out tokens, each
    document scored from the end-of-document token (the definition lm-eval's `perplexity`
    metric uses; Jelinek et al. 1977). `value` is None when there is no held-out split."""

    value: float | None
    nll_per_token: float | None
    num_documents: int
    num_tokens: int
    source: str


def set_offline() -> None:
    """Hub access off for this process: the environment variables and the already-imported
    `datasets`/`huggingface_hub` constants (they read the variables at import time)."""
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        import datasets.config  # deferred: datasets reads HF_*_OFFLINE once, at import

        datasets.config.HF_DATASETS_OFFLINE = True
        datasets.config.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover - datasets comes with lm-eval
        pass
    try:
        import huggingface_hub.constants  # deferred: huggingface_hub reads HF_HUB_OFFLINE once, at import

        huggingface_hub.constants.HF_HUB_OFFLINE = True
    except ImportError:  # pragma: no cover
        pass


def held_out_documents(data_dir: Path, max_tokens: int) -> tuple[list[list[int]], str]:
    """The first documents of the prepared validation prefixes, up to `max_tokens` tokens."""
    from megatron.core.datasets.indexed_dataset import IndexedDataset  # deferred: megatron-core takes seconds to import

    prefixes = sorted(data_dir.glob(VAL_GLOB))
    documents: list[list[int]] = []
    total = 0
    for idx in prefixes:
        dataset = IndexedDataset(str(idx.with_suffix("")))
        for i in range(len(dataset)):
            if total >= max_tokens:
                break
            tokens = [int(t) for t in dataset[i][: max_tokens - total]]
            documents.append(tokens)
            total += len(tokens)
    return documents, ", ".join(p.with_suffix("").name for p in prefixes)


def validation_perplexity(scorer: Scorer, data_dir: Path, max_tokens: int, batch_size: int) -> Perplexity:
    documents, source = held_out_documents(data_dir, max_tokens) if data_dir.is_dir() else ([], "")
    if not documents:
        return Perplexity(None, None, 0, 0, f"no held-out split ({data_dir / VAL_GLOB})")
    scores = score_documents(scorer, documents, batch_size)
    num_tokens = sum(s.num_tokens for s in scores)
    nll = -sum(s.logprob for s in scores) / num_tokens
    return Perplexity(math.exp(nll), nll, len(documents), num_tokens, f"{data_dir.name}/{source}")


def _source_of(config: dict) -> str:
    meta = config.get("metadata") or {}
    if meta.get("llmplan_bundled_sample"):
        return "bundled sample"
    return "llmplan task" if meta.get("llmplan_task") else "lm-eval or task_dir task"


def summary_rows(results: dict, ppl: Perplexity) -> list[dict]:
    """(task, metric, value, stderr, source) rows: each lm-eval metric, then the perplexity."""
    rows = []
    configs = results.get("configs", {})
    samples = results.get("n-samples", {})
    for task, metrics in results.get("results", {}).items():
        count = samples.get(task, {}).get("effective") or metrics.get("sample_len")
        source = _source_of(configs.get(task, {})) if task in configs else "group of the above"
        source += f", {count} items" if count else ""
        for key, value in metrics.items():
            if "," not in key or "_stderr," in key or not isinstance(value, int | float):
                continue
            metric, flt = key.split(",", 1)
            stderr = metrics.get(f"{metric}_stderr,{flt}")
            rows.append({"task": task, "metric": metric if flt == "none" else key, "value": float(value),
                         "stderr": float(stderr) if isinstance(stderr, int | float) else None,
                         "source": source})
    for metric, value in (("perplexity", ppl.value), ("nll_per_token", ppl.nll_per_token)):
        rows.append({"task": "validation", "metric": metric, "value": value, "stderr": None,
                     "source": f"{ppl.source}, {ppl.num_documents} docs, {ppl.num_tokens} tokens"})
    return rows


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def render_tsv(rows: list[dict]) -> str:
    lines = ["task\tmetric\tvalue\tstderr\tsource"]
    lines += [f"{r['task']}\t{r['metric']}\t{_fmt(r['value'])}\t{_fmt(r['stderr'])}\t{r['source']}" for r in rows]
    return "\n".join(lines) + "\n"


def render_markdown(rows: list[dict], header: str) -> str:
    lines = [header, "", "| task | metric | value | stderr | source |", "|---|---|---:|---:|---|"]
    lines += [f"| {r['task']} | {r['metric']} | {_fmt(r['value'])} | {_fmt(r['stderr'])} | {r['source']} |"
              for r in rows]
    return "\n".join(lines) + "\n"


def write_outputs(eval_dir: Path, texts: dict[str, str]) -> None:
    """Stage every file in eval/, then rename them into place in OUTPUT_FILES order (results last)."""
    eval_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=eval_dir))
    try:
        for name in OUTPUT_FILES:
            atomic_write_text(staging / name, texts[name])
            os.chmod(staging / name, 0o644)
        for name in OUTPUT_FILES:
            os.replace(staging / name, eval_dir / name)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def run_lm_eval(scorer: Scorer, spec: EvalSpec, manager, model=None, log_samples: bool = False) -> dict:
    """lm-eval on the native adapter over `scorer`, or on `model` (an lm-eval `LM`, e.g. HFLM)."""
    import lm_eval  # deferred: lm_eval imports datasets, which must see HF_*_OFFLINE (set_offline) first

    from executor.evaluate.adapter import LlmplanLM  # deferred: the adapter imports lm_eval (see above)

    model = model or LlmplanLM(scorer=scorer, batch_size=spec.batch_size)
    results = lm_eval.simple_evaluate(model=model, tasks=list(spec.tasks), num_fewshot=spec.num_fewshot,
                                      limit=spec.limit, task_manager=manager, log_samples=log_samples,
                                      bootstrap_iters=1000)
    if results is None:  # non-zero ranks; this runs in one process
        raise RuntimeError("lm-eval returned no results")
    return results


def evaluate_run(run_dir: str | Path, spec: EvalSpec, scorer: Scorer | None = None, backend: str = "native",
                 log_samples: bool = False) -> dict:
    """Run the plan's tasks and the held-out perplexity on the run's latest checkpoint (or on
    `scorer`); write RUN_DIR/eval/ and return the `results.json` content. `backend="hf"`: lm-eval's
    own `hf` model on the run's Transformers export (executor/evaluate/hf_model.py), written to eval-hf/."""
    # deferred: lm_eval imports datasets, which must see HF_*_OFFLINE (set_offline) first
    from lm_eval.utils import handle_non_serializable

    run_dir = Path(run_dir)
    if spec.offline:
        set_offline()
    with tempfile.TemporaryDirectory(prefix="llmplan-tasks-") as staging:
        manager = task_manager(spec.offline, spec.task_dir, Path(staging))
        check_tasks(list(spec.tasks), manager, spec.offline, spec.task_dir)
        lm = None
        if backend == "hf":
            hf_dir = hf_eval.export_for_eval(run_dir)
            hf_model = hf_eval.load_hf(hf_dir)
            scorer, lm = hf_eval.hf_scorer(hf_model, hf_dir), hf_eval.hf_lm(hf_model, hf_dir, spec.batch_size)
        elif scorer is None:
            scorer = scorer_from_run_dir(run_dir)
        results = run_lm_eval(scorer, spec, manager, lm, log_samples)
    samples = results.pop("samples", None)
    ppl = validation_perplexity(scorer, run_dir / "data", spec.validation_max_tokens, spec.batch_size)
    rows = summary_rows(results, ppl)
    finished = datetime.now(UTC).replace(microsecond=0).isoformat()
    results["llmplan"] = {"complete": True, "finished_at": finished, "run_dir": str(run_dir.resolve()),
                          "evaluation": spec.model_dump(mode="json"), "validation": ppl.__dict__,
                          "summary": rows, "backend": backend}
    header = f"# Evaluation of {run_dir.name} ({finished}, offline={spec.offline}, backend={backend})"
    write_outputs(run_dir / ("eval-hf" if backend == "hf" else "eval"), {
        "summary.tsv": render_tsv(rows),
        "summary.md": render_markdown(rows, header),
        "results.json": json.dumps(results, indent=2, default=handle_non_serializable, ensure_ascii=False) + "\n",
    })
    if samples is not None:
        results["samples"] = samples  # to the caller only (log_samples), not into results.json
    return results
