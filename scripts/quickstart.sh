#!/usr/bin/env bash
# Set up llmplan in .venv and open the planning wizard on the embedded default goals.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/llmplan "$@"
