#!/usr/bin/env bash
# Create .venv with llmplan and every extra. Idempotent: a second run installs nothing new.
# torch is pinned first to the CPU build (torch==2.13.0); the extras' `torch>=2.4` is then satisfied
# and pip does not pull a multi-GB CUDA build.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
if [ ! -x .venv/bin/python ]; then
  if ! "$PY" -m venv .venv 2>/dev/null; then
    # Debian splits venv out of the interpreter package.
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
      apt-get update -qq && apt-get install -y -qq python3-venv >/dev/null
      rm -rf .venv && "$PY" -m venv .venv
    else
      echo "error: '$PY -m venv' failed; install python3-venv (sudo apt-get install python3-venv)" >&2
      exit 1
    fi
  fi
fi
stamp=.venv/.llmplan-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  .venv/bin/python -m pip install -q "torch==${LLMPLAN_TORCH_VERSION:-2.13.0}"
  .venv/bin/python -m pip install -q -e ".[all]"
  touch "$stamp"
fi
