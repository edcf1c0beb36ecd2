"""`model.safetensors`, or shards with `model.safetensors.index.json` above a size limit (HF's layout).

Shards are filled in the order of the tensor names, a new one started when the next tensor would pass
`max_shard_bytes` (transformers' `save_pretrained(max_shard_size=...)` rule; a tensor larger than
the limit gets a shard of its own). Names: `model-00001-of-00003.safetensors`.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from planner.errors import PlanInputError
from planner.io import atomic_write_text

SINGLE = "model.safetensors"
INDEX = "model.safetensors.index.json"
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9  # transformers' default max_shard_size "5GB"


def _nbytes(t: torch.Tensor) -> int:
    return t.numel() * t.element_size()


def plan_shards(tensors: dict[str, torch.Tensor], max_shard_bytes: int) -> list[list[str]]:
    shards: list[list[str]] = [[]]
    size = 0
    for name in sorted(tensors):
        n = _nbytes(tensors[name])
        if shards[-1] and size + n > max_shard_bytes:
            shards.append([])
            size = 0
        shards[-1].append(name)
        size += n
    return shards


def write_weights(out: Path, tensors: dict[str, torch.Tensor],
                  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> list[str]:
    """Write the tensors (contiguous, as they are) into OUT; returns the file names written."""
    from safetensors.torch import save_file  # deferred: safetensors is the optional hf extra (executor.hf.need)

    groups = plan_shards(tensors, max_shard_bytes)
    meta = {"format": "pt"}
    if len(groups) == 1:
        save_file({k: tensors[k].contiguous() for k in groups[0]}, str(out / SINGLE), metadata=meta)
        return [SINGLE]
    names, weight_map = [], {}
    for i, group in enumerate(groups, start=1):
        name = f"model-{i:05d}-of-{len(groups):05d}.safetensors"
        save_file({k: tensors[k].contiguous() for k in group}, str(out / name), metadata=meta)
        names.append(name)
        weight_map.update(dict.fromkeys(group, name))
    index = {"metadata": {"total_size": sum(_nbytes(t) for t in tensors.values())}, "weight_map": weight_map}
    atomic_write_text(out / INDEX, json.dumps(index, indent=2, sort_keys=True) + "\n")
    return [*names, INDEX]


def read_weights(hf_dir: Path) -> dict[str, torch.Tensor]:
    """All tensors of an HF directory (single file or sharded with an index)."""
    from safetensors.torch import load_file  # deferred: safetensors is the optional hf extra (executor.hf.need)

    if (hf_dir / INDEX).is_file():
        weight_map = json.loads((hf_dir / INDEX).read_text(encoding="utf-8"))["weight_map"]
        files = sorted(set(weight_map.values()))
    elif (hf_dir / SINGLE).is_file():
        files = [SINGLE]
    else:
        raise PlanInputError(f"{hf_dir}: no weights", [
            f"HF_DIR: expected {SINGLE} or {INDEX} (safetensors; convert .bin weights with transformers' "
            "save_pretrained(safe_serialization=True) first)"])
    tensors: dict[str, torch.Tensor] = {}
    for name in files:
        tensors.update(load_file(str(hf_dir / name)))
    return tensors
