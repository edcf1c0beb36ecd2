#!/usr/bin/env bash
# Set everything up and run the whole test suite: venv + extras, the local Slurm cluster, pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
.venv/bin/python -m pytest "$@"
