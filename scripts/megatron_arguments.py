"""Write the options of Megatron-LM's own `pretrain_gpt.py` argument parser to a JSON file.

    git clone https://github.com/NVIDIA/Megatron-LM /tmp/Megatron-LM   # then check out the commit
    .venv/bin/python scripts/megatron_arguments.py /tmp/Megatron-LM tests/planner/megatron_arguments.json

The parser is the real one: `megatron.training.arguments.parse_args` is called with argparse's
parse methods intercepted, so every option it adds (including those generated from the
TransformerConfig, TrainingConfig, CheckpointConfig ... dataclasses) is recorded with its nargs,
type and choices. Modules that need `triton` at import (GPU kernels, not argument definitions) are
replaced by empty stand-ins, and `typing.override` (Python 3.12) is supplied on 3.11. Needs torch
and megatron-core's own dependencies (the `train` extra).
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import json
import subprocess
import sys
import types
import typing
from pathlib import Path

TRITON_ONLY_MODULES = ("megatron.core.transformer.moe.ops.paged_stash",
                       "megatron.core.ssm.ops.common.causal_conv1d_varlen",
                       "megatron.core.ssm.ops.mamba2.batch_invariant_decode")


class _Stub(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return _Stub(f"{self.__name__}.{name}")

    def __call__(self, *args, **kwargs):
        return args[0] if len(args) == 1 and callable(args[0]) and not kwargs else _Stub("call")


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name in TRITON_ONLY_MODULES:
            return importlib.machinery.ModuleSpec(name, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _Stub(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module) -> None:
        pass


class _Captured(Exception):
    pass


def megatron_parser(checkout: Path) -> argparse.ArgumentParser:
    sys.path.insert(0, str(checkout))
    if not hasattr(typing, "override"):
        typing.override = lambda f: f
    sys.meta_path.insert(0, _StubFinder())
    from megatron.training import arguments

    captured: dict[str, argparse.ArgumentParser] = {}

    def capture(self, *args, **kwargs):
        captured["parser"] = self
        raise _Captured

    argparse.ArgumentParser.parse_args = capture
    argparse.ArgumentParser.parse_known_args = capture
    try:
        arguments.parse_args(ignore_unknown_args=False)
    except _Captured:
        pass
    return captured["parser"]


def options(parser: argparse.ArgumentParser) -> dict[str, dict]:
    flags = (argparse._StoreTrueAction, argparse._StoreFalseAction, argparse._StoreConstAction)
    out = {}
    for action in parser._actions:
        for opt in action.option_strings:
            if opt.startswith("--"):
                out[opt] = {"nargs": 0 if isinstance(action, flags) else action.nargs,
                            "type": getattr(action.type, "__name__", None) if action.type in (int, float, str) else None,
                            "choices": [str(c) for c in action.choices] if action.choices else None}
    return out


def main() -> None:
    checkout, out = Path(sys.argv[1]), Path(sys.argv[2])
    commit = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or sys.argv[3]
    found = options(megatron_parser(checkout))
    head = {"repository": "https://github.com/NVIDIA/Megatron-LM", "commit": commit,
            "source": "megatron/training/arguments.py parse_args()"}
    lines = [f"{json.dumps(name)}: {json.dumps(spec, sort_keys=True)}" for name, spec in sorted(found.items())]
    text = json.dumps(head, indent=1)[:-2] + ',\n "options": {\n  ' + ",\n  ".join(lines) + "\n }\n}\n"
    json.loads(text)
    out.write_text(text, encoding="utf-8")
    print(f"{len(found)} options from Megatron-LM @ {commit} written to {out}")


if __name__ == "__main__":
    main()
