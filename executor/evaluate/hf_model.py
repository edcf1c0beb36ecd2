"""`llmplan evaluate RUN_DIR --backend hf`: lm-eval's own `hf` model (`HFLM`) on the run's export.

The export is the harness's reference path: tokenization, batching and scoring are lm-eval's
(`TemplateLM` / `HFLM`), the weights are the run's checkpoint after `executor.hf.export`. Comparing
its scores with the native adapter's (`--backend native`) checks the conversion and the adapter
against each other. The export is written once per checkpoint, RUN_DIR/hf/iter_NNNNNNN (kept);
results go to RUN_DIR/eval-hf/ so the native RUN_DIR/eval/ stays as it is.
"""

from __future__ import annotations

from pathlib import Path

import torch

from executor.evaluate.scoring import HFTokenizer, Scorer
from executor.hf.export import checkpoint_path, export_hf
from executor.train.checkpoint import _checkpoint_root


def export_for_eval(run_dir: Path) -> Path:
    """RUN_DIR/hf/iter_N of the latest checkpoint, exported unless it is there already."""
    _, target = _checkpoint_root(checkpoint_path(run_dir, None))
    out = run_dir / "hf" / target.name
    if not (out / "config.json").is_file():
        export_hf(run_dir, out)
    return out


def load_hf(hf_dir: Path):
    from transformers import AutoModelForCausalLM  # deferred: transformers is the optional hf extra (executor.hf.need)

    return AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32, attn_implementation="eager").eval()


def hf_scorer(model, hf_dir: Path) -> Scorer:
    """The HF model behind the evaluator's `Scorer` (for the validation perplexity)."""

    def logits_fn(tokens: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return model(tokens).logits

    tokenizer = HFTokenizer.from_file(str(hf_dir / "tokenizer.json"))
    return Scorer(logits_fn=logits_fn, max_length=int(model.config.max_position_embeddings),
                  eod_id=int(model.config.eos_token_id), tokenizer=tokenizer)


def hf_lm(model, hf_dir: Path, batch_size: int):
    """lm-eval's `HFLM` on the loaded model (float32, CPU) with the export's tokenizer."""
    # deferred: lm_eval's hf model and transformers (hf extra) only for --backend hf
    from lm_eval.models.huggingface import HFLM
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(hf_dir))
    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size,
                max_length=int(model.config.max_position_embeddings))
