#!/usr/bin/env bash
# Set everything up and run the whole test suite: .venv with every extra, the local two-node Slurm
# cluster (real slurmctld + slurmd + munge from Debian's packages; needs root), then pytest.
# Extra arguments go to pytest, e.g. `bash scripts/test.sh -m "not slurm" -x`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false
if [ "${LLMPLAN_SLURM:-1}" = 1 ]; then
  bash scripts/local-slurm.sh start --nodes 2
  trap 'bash scripts/local-slurm.sh stop >/dev/null 2>&1 || true' EXIT
fi
# tmux drives the installed program in the wizard's smoke test.
if ! command -v tmux >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq tmux >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq tmux >/dev/null; }
fi
.venv/bin/python -m pytest "$@"
