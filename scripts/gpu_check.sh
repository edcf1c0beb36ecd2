#!/usr/bin/env bash
# GPU check of the trainer (docs/training.md): a ~125M model for 30 steps through Megatron's own
# GPU path (Megatron DDP, distributed optimizer, bf16, selective recompute, dist_checkpointing save
# and resume), then TP/PP(+virtual)/DP combinations when several GPUs are present, and a ~1B model
# where memory allows. Prints one GPU_CHECK line per run: measured tokens/s, MFU and peak memory
# against the planner's predictions. Needs NVIDIA GPUs, torch with CUDA and megatron-core.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
if ! "$PY" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)'; then
  echo "gpu_check: no CUDA device visible; nothing to check" >&2
  exit 0
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-4}" CUDA_DEVICE_MAX_CONNECTIONS=1 PYTHONWARNINGS=ignore
export HF_DATASETS_OFFLINE=1 HF_HUB_OFFLINE=1
"$PY" -m pytest tests/executor/test_train_gpu.py -m gpu -s -q -p no:cacheprovider "$@" | tee /tmp/gpu_check.log
grep '^GPU_CHECK ' /tmp/gpu_check.log || true
