"""Training data: the prepared tokenizer and `.bin/.idx` prefixes -> Megatron `GPTDataset`s.

The data directory is what `llmplan prepare` writes: `<source>_text_document.bin/.idx` per source,
`tokenizer.json` (HF tokenizers) and `stats.json`. Datasets are built by megatron-core's
`BlendedMegatronDatasetBuilder` over the plan's sources and weights, with a validation split of
`plan.data.validation_fraction` of the documents (at least one document).

Sampling follows Megatron-LM's `MegatronPretrainingSampler`: optimizer step k consumes samples
[k*G, (k+1)*G) of the blended dataset (G the global batch); micro-batch m of data-parallel rank r
holds samples k*G + m*(b*d) + r*b + [0, b) (b the micro-batch size, d the DP size). A resumed run
starts at its `consumed_samples`, so no sample is repeated or skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch

from planner.errors import PlanInputError

EOD_CANDIDATES = ("<|endoftext|>", "<eod>", "<|eod|>", "</s>", "<eos>", "<|end_of_text|>")


@dataclass(frozen=True)
class TokenizerMeta:
    """What the trainer needs from the prepared tokenizer (also what GPTDataset reads)."""

    path: str
    vocab_size: int
    eod: int

    @property
    def pad(self) -> int:
        return -1  # no pad token: GPTDataset then never masks real tokens

    @property
    def unique_identifiers(self) -> dict:
        return {"class": "llmplan.TokenizerMeta", "path": self.path, "vocab_size": self.vocab_size}


def _eod_from_json(data_dir: Path) -> int | None:
    for name in ("manifest.json", "stats.json"):
        path = data_dir / name
        if path.is_file():
            meta = json.loads(path.read_text(encoding="utf-8"))
            for obj in (meta, meta.get("tokenizer", {}) if isinstance(meta.get("tokenizer"), dict) else {}):
                for key in ("eod_id", "eod_token_id", "eos_token_id"):
                    if isinstance(obj.get(key), int):
                        return obj[key]
    return None


def read_tokenizer_meta(data_dir: str | Path, eod_token: str | None = None) -> TokenizerMeta:
    """Vocabulary size and end-of-document id of `DATA/tokenizer.json`."""
    from tokenizers import Tokenizer  # deferred: tokenizers (Rust extension) only where a tokenizer is built or read

    data_dir = Path(data_dir)
    path = data_dir / "tokenizer.json"
    if not path.is_file():
        raise PlanInputError(f"--data {data_dir}: no tokenizer.json; run `llmplan prepare` first")
    tok = Tokenizer.from_file(str(path))
    eod = _eod_from_json(data_dir)
    if eod is None and eod_token is not None:
        eod = tok.token_to_id(eod_token)
    if eod is None:
        eod = next((tok.token_to_id(t) for t in EOD_CANDIDATES if tok.token_to_id(t) is not None), None)
    if eod is None:
        raise PlanInputError(
            f"{path}: no end-of-document token; expected one of {', '.join(EOD_CANDIDATES)} "
            "or eod_id in manifest.json/stats.json"
        )
    return TokenizerMeta(str(path.resolve()), tok.get_vocab_size(), int(eod))


def _manifest_blends(data_dir: Path) -> tuple[list, list] | None:
    """(train, valid) blends from `manifest.json` (written last by `llmplan prepare`), if present."""
    path = data_dir / "manifest.json"
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text(encoding="utf-8"))
    blends = []
    for split in ("train", "valid"):
        entry = manifest.get(split) or {}
        prefixes = [str(data_dir / p) for p in entry.get("prefixes", [])]
        weights = entry.get("weights")
        blends.append([prefixes, weights if weights and len(prefixes) > 1 else None])
    return blends[0], blends[1]


def data_blend(plan, data_dir: str | Path) -> tuple[list[str], list[float] | None]:
    """Training prefixes `DATA/<source>_text_document` with the plan's weights (all found if none match)."""
    data_dir = Path(data_dir)
    named = [(data_dir / f"{s.name}_text_document", s.weight) for s in plan.data.sources]
    found = [(p, w) for p, w in named if p.with_suffix(".idx").is_file()]
    if len(found) != len(named):
        found = [(p.with_suffix(""), 1.0) for p in sorted(data_dir.glob("*_text_document.idx"))
                 if not p.name.endswith("_val_text_document.idx")]
    if not found:
        missing = ", ".join(str(p) + ".idx" for p, _ in named)
        raise PlanInputError(f"--data {data_dir}: no prepared data ({missing}); run `llmplan prepare`")
    prefixes = [str(p) for p, _ in found]
    return prefixes, ([w for _, w in found] if len(found) > 1 else None)


def dataset_blends(plan, data_dir: str | Path) -> dict:
    """GPTDatasetConfig blend arguments: per-split prefixes when the data has a validation set
    (`<source>_val_text_document`), else one blend split by `data.validation_fraction`."""
    data_dir = Path(data_dir)
    blends = _manifest_blends(data_dir)
    if blends and blends[0][0] and blends[1][0]:
        return {"blend_per_split": [tuple(blends[0]), tuple(blends[1]), None]}
    prefixes, weights = data_blend(plan, data_dir)
    valid = [p.removesuffix("_text_document") + "_val_text_document" for p in prefixes]
    if all(Path(v + ".idx").is_file() for v in valid):
        return {"blend_per_split": [(prefixes, weights), (valid, weights), None]}
    split = split_string(plan.data.validation_fraction, min(num_documents(p) for p in prefixes))
    return {"blend": (prefixes, weights), "split": split}


def num_documents(prefix: str) -> int:
    from megatron.core.datasets.indexed_dataset import IndexedDataset  # deferred: megatron-core takes seconds to import

    return len(IndexedDataset(prefix).document_indices) - 1


def split_string(validation_fraction: float, min_documents: int) -> str:
    """Megatron's `split` weights, giving the validation split at least one whole document."""
    valid = max(validation_fraction, 1.5 / max(min_documents, 2))
    return f"{1.0 - valid:.6f},{valid:.6f},0"


def build_datasets(plan, data_dir, tokenizer: TokenizerMeta, cache_dir, *, build_on_rank) -> tuple:
    """(train, valid) GPTDatasets sized for the plan's steps and evaluations."""
    # deferred: megatron-core takes seconds to import
    from megatron.core.datasets.blended_megatron_dataset_builder import BlendedMegatronDatasetBuilder
    from megatron.core.datasets.gpt_dataset import GPTDataset, GPTDatasetConfig

    r, gbs = plan.recipe, plan.layout.layout.global_batch_size
    num_evals = r.train_steps // r.eval_interval_steps + 1
    config = GPTDatasetConfig(
        random_seed=r.seed, sequence_length=plan.model.seq_length, **dataset_blends(plan, data_dir),
        path_to_cache=str(cache_dir), tokenizer=tokenizer, reset_position_ids=False,
        reset_attention_mask=False, eod_mask_loss=False, create_attention_mask=False,
        mid_level_dataset_surplus=0.005,
    )
    sizes = [r.train_steps * gbs, r.eval_iters * gbs * (1 if num_evals else 0), 0]
    train, valid, _ = BlendedMegatronDatasetBuilder(GPTDataset, sizes, build_on_rank, config).build()
    return train, valid


def microbatch_indices(step: int, micro: int, *, global_batch: int, micro_batch: int,
                       dp_size: int, dp_rank: int, start_sample: int = 0) -> range:
    """Sample indices of one micro-batch (Megatron-LM's MegatronPretrainingSampler order)."""
    base = start_sample + step * global_batch + micro * micro_batch * dp_size + dp_rank * micro_batch
    return range(base, base + micro_batch)


def collate(dataset, indices: range) -> dict[str, torch.Tensor]:
    samples = [dataset[i] for i in indices]
    return {k: torch.stack([s[k] for s in samples]) for k in ("tokens", "labels", "loss_mask", "position_ids")}
