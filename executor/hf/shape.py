"""The shape and tokens seen of a checkpoint to continue from (`llmplan plan --continue-from DIR`).

DIR is a Transformers Llama directory (its `config.json`; tokens seen only from `--tokens-seen`) or
an llmplan run or checkpoints directory (`checkpoints/plan.yaml`, `train_meta.json`, `latest`:
tokens seen = latest step x the plan's global batch tokens, plus what the run itself continued from).
Reads JSON and YAML only (no torch): planning stays light. The result is goals.continue_from data;
the planner (planner.model.continuation) does the arithmetic.
"""

from __future__ import annotations

import json
from pathlib import Path

from executor.hf import hfconfig
from planner.errors import PlanInputError
from planner.io import read_plan, validate_as
from planner.model.architecture import count_params, shape_params
from planner.schema import ModelShape

LATEST, META, IMPORTED = "latest", "train_meta.json", "imported_from.json"  # executor.train.checkpoint, importer


def _llama_problems(config: dict) -> list[str]:
    """What `import-model` would refuse in a config of its own shape (hfconfig.check_against_plan)."""
    lines = []
    if config.get("model_type") not in hfconfig.LLAMA_TYPES:
        lines.append(f"config.json model_type: {config.get('model_type')!r}; llmplan continues Llama-family models")
    if config.get("hidden_act", "silu") != "silu":
        lines.append(f"config.json hidden_act: {config.get('hidden_act')!r}; llmplan trains SwiGLU (silu)")
    heads, hidden = config.get("num_attention_heads") or 1, config.get("hidden_size") or 0
    if config.get("head_dim", hidden // heads) != hidden // heads:
        lines.append(f"config.json head_dim: {config.get('head_dim')!r}; megatron-core uses hidden_size / heads "
                     f"({hidden // heads})")
    if abs(float(config.get("rms_norm_eps", 1e-6)) - hfconfig.RMS_NORM_EPS) > 1e-12:
        lines.append(f"config.json rms_norm_eps: {config.get('rms_norm_eps', 1e-6)!r}; llmplan trains with "
                     f"megatron-core's {hfconfig.RMS_NORM_EPS:g}")
    if hfconfig._rope_theta(config) != hfconfig.ROPE_THETA:
        lines.append(f"config.json rope_theta: {hfconfig._rope_theta(config)!r}; llmplan trains with rotary base "
                     f"{hfconfig.ROPE_THETA:g}")
    if hfconfig._rope_scaling(config) is not None:
        lines.append(f"config.json rope_scaling: {hfconfig._rope_scaling(config)!r}; llmplan trains without it")
    if bool(config.get("attention_bias", False)) != bool(config.get("mlp_bias", config.get("attention_bias", False))):
        lines.append("config.json attention_bias and mlp_bias differ; megatron-core's add_bias_linear is one flag")
    return lines


def shape_from_hf_config(config: dict, source: str):
    """A planner ModelShape from a Transformers Llama `config.json` (PlanInputError naming each problem)."""
    lines = _llama_problems(config)
    fields = {"num_hidden_layers": "num_layers", "hidden_size": "hidden_size", "num_attention_heads":
              "num_attention_heads", "intermediate_size": "ffn_hidden_size", "vocab_size": "vocab_size",
              "max_position_embeddings": "seq_length"}
    lines += [f"config.json {key}: missing" for key in fields if not isinstance(config.get(key), int)]
    if lines:
        raise PlanInputError("the model cannot be continued by llmplan", lines, source)
    dims = {name: config[key] for key, name in fields.items()}
    dims.update(num_query_groups=config.get("num_key_value_heads") or config["num_attention_heads"],
                tied_embeddings=bool(config.get("tie_word_embeddings", False)),
                add_bias_linear=bool(config.get("attention_bias", False)),
                activation="swiglu", position_embedding="rope", normalization="RMSNorm")
    try:
        dims["num_params"] = count_params(**dims)
    except (TypeError, ValueError) as exc:
        raise PlanInputError("the model's config.json is not a shape llmplan builds", [str(exc)], source) from None
    return validate_as(ModelShape, dims, source)


def _checkpoints_root(path: Path) -> Path | None:
    for root in (path / "checkpoints", path):
        if (root / LATEST).is_file() and (root / "plan.yaml").is_file():
            return root
    return None


def _llmplan_checkpoint(root: Path) -> tuple[object, float]:
    """(shape, tokens seen) of an llmplan checkpoints directory."""
    plan = read_plan(root / "plan.yaml")
    latest = json.loads((root / LATEST).read_text(encoding="utf-8"))
    meta_path = root / META
    tokenizer = json.loads(meta_path.read_text(encoding="utf-8")).get("vocab_size", 0) if meta_path.is_file() else 0
    vocab = hfconfig.model_vocab_size(plan, tokenizer)  # the trainer's rows, before TP padding
    shape = plan.model.model_copy(update={"vocab_size": vocab})
    shape = shape.model_copy(update={"num_params": shape_params(shape)})
    before = 0.0
    if (root / IMPORTED).is_file():
        before = json.loads((root / IMPORTED).read_text(encoding="utf-8")).get("tokens_seen") or 0.0
    elif plan.goals.continue_from is not None:
        before = plan.goals.continue_from.tokens_seen
    trained = 0 if latest.get("weights_only") else int(latest["iteration"]) * plan.recipe.global_batch_tokens
    return shape, float(before) + trained


def continue_from(path: str | Path, tokens_seen: float | None) -> dict:
    """goals.continue_from for DIR: {checkpoint, tokens_seen, shape} (PlanInputError, exit 2, when
    DIR is neither kind, or a Transformers directory comes without --tokens-seen)."""
    path = Path(path)
    if not path.is_dir():
        raise PlanInputError(f"--continue-from: {str(path)!r} is not a directory", [
            "give an llmplan run directory (with checkpoints/) or a Transformers directory (with config.json)"])
    root = _checkpoints_root(path)
    if root is not None:
        shape, seen = _llmplan_checkpoint(root)
        seen = seen if tokens_seen is None else tokens_seen
    elif (path / "config.json").is_file():
        config = json.loads((path / "config.json").read_text(encoding="utf-8"))
        shape = shape_from_hf_config(config, str(path / "config.json"))
        if tokens_seen is None:
            raise PlanInputError("--tokens-seen: missing for a Transformers directory", [
                f"--continue-from {path}: a Transformers directory does not record how many tokens the model was "
                "trained on; state --tokens-seen N (its model card's figure; 0 for an untrained model)"])
        seen = tokens_seen
    else:
        raise PlanInputError(f"--continue-from: {str(path)!r} holds no checkpoint", [
            f"expected {path / 'checkpoints' / LATEST} with plan.yaml (an llmplan run) or {path / 'config.json'} "
            "(a Transformers directory)"])
    return {"checkpoint": str(path.resolve()), "tokens_seen": seen, "shape": shape.model_dump(mode="json")}


def tokenizer_spec(path: str | Path, vocab_size: int) -> dict | None:
    """data.tokenizer for the checkpoint's own tokenizer (`kind: file`), when DIR has a tokenizer.json."""
    path = Path(path)
    root = _checkpoints_root(path) or path
    file = root / "tokenizer.json"
    if not file.is_file():
        return None
    spec = {"kind": "file", "path": str(file.resolve()), "vocab_size": vocab_size}
    config = root / "tokenizer_config.json"
    if config.is_file():
        eos = json.loads(config.read_text(encoding="utf-8")).get("eos_token")
        eos = eos.get("content") if isinstance(eos, dict) else eos
        if isinstance(eos, str) and eos:
            spec["eod_token"] = eos
    return spec
