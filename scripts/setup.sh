#!/usr/bin/env bash
# Create .venv with llmplan and every extra. Idempotent: a second run installs nothing new.
# torch is pinned first to the CPU build (torch==2.13.0); the extras' `torch>=2.4` is then satisfied
# and pip does not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
stamp=.venv/.llmplan-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==${LLMPLAN_TORCH_VERSION:-2.13.0}"
  .venv/bin/python -m pip install -q -e ".[all]"
  touch "$stamp"
fi
