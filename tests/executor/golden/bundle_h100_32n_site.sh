#!/bin/bash
# llmplan sbatch bundle for plan h100-32n: writes /lustre/proj-llm/runs/h100-32n
# and submits prepare -> train -> evaluate with afterok dependencies.
set -euo pipefail
mkdir -p /lustre/proj-llm/runs/h100-32n/data /lustre/proj-llm/runs/h100-32n/checkpoints /lustre/proj-llm/runs/h100-32n/eval /lustre/proj-llm/runs/h100-32n/logs /lustre/proj-llm/runs/h100-32n/jobs
cat > /lustre/proj-llm/runs/h100-32n/plan.yaml <<'LLMPLAN_EOF_PLAN'
# (the plan as YAML: left out of the golden file)
LLMPLAN_EOF_PLAN
cat > /lustre/proj-llm/runs/h100-32n/jobs/prepare-shards.sbatch <<'LLMPLAN_EOF_1f68afe22888'
#!/bin/bash
#SBATCH --job-name=h100-32n-prepare-shards
#SBATCH --partition=cpu
#SBATCH --account=proj-llm
#SBATCH --qos=high
#SBATCH --constraint=ib
#SBATCH --reservation=llm-week
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=0-23:36:00
#SBATCH --output=/lustre/proj-llm/runs/h100-32n/logs/prepare-shards-%a.log
#SBATCH --open-mode=append
#SBATCH --array=0-999
#SBATCH --no-requeue
#SBATCH --mail-type=END
#SBATCH --comment=llmplan
# llmplan prepare-shards stage of plan h100-32n; rendered from /lustre/proj-llm/runs/h100-32n/plan.yaml
set -uo pipefail
cd /lustre/proj-llm/runs/h100-32n
module load cuda/12.4
module load nccl/2.21
export VIRTUAL_ENV=/lustre/proj-llm/venvs/llmplan PATH=/lustre/proj-llm/venvs/llmplan/bin:"$PATH"
export LLMPLAN_STAGE=prepare-shards
export PYTHONUNBUFFERED=1
export NCCL_IB_HCA=mlx5
export NCCL_DEBUG=INFO
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
export LLMPLAN_SHARD_INDEX="${SLURM_ARRAY_TASK_ID:-0}" LLMPLAN_NUM_SHARDS=1000
exec srun --ntasks=1 '--container-image=nvcr.io#nvidia/pytorch:24.05-py3' --container-mounts=/lustre:/lustre,/etc/ssl/certs:/etc/ssl/certs:ro /lustre/proj-llm/venvs/llmplan/bin/python -m executor.prepare /lustre/proj-llm/runs/h100-32n/plan.yaml --out /lustre/proj-llm/runs/h100-32n/data --workers 1 --num-shards 1000
LLMPLAN_EOF_1f68afe22888
prepare_shards_id=$(sbatch --parsable /lustre/proj-llm/runs/h100-32n/jobs/prepare-shards.sbatch)
echo "prepare-shards: $prepare_shards_id"
cat > /lustre/proj-llm/runs/h100-32n/jobs/prepare.sbatch <<'LLMPLAN_EOF_d34bc5dcfdba'
#!/bin/bash
#SBATCH --job-name=h100-32n-prepare
#SBATCH --partition=cpu
#SBATCH --account=proj-llm
#SBATCH --qos=high
#SBATCH --constraint=ib
#SBATCH --reservation=llm-week
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=0-23:36:00
#SBATCH --output=/lustre/proj-llm/runs/h100-32n/logs/prepare.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
#SBATCH --mail-type=END
#SBATCH --comment=llmplan
# llmplan prepare stage of plan h100-32n; rendered from /lustre/proj-llm/runs/h100-32n/plan.yaml
set -uo pipefail
cd /lustre/proj-llm/runs/h100-32n
module load cuda/12.4
module load nccl/2.21
export VIRTUAL_ENV=/lustre/proj-llm/venvs/llmplan PATH=/lustre/proj-llm/venvs/llmplan/bin:"$PATH"
export LLMPLAN_STAGE=prepare
export PYTHONUNBUFFERED=1
export NCCL_IB_HCA=mlx5
export NCCL_DEBUG=INFO
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT LLMPLAN_SHARD_INDEX LLMPLAN_NUM_SHARDS
exec srun --ntasks=1 '--container-image=nvcr.io#nvidia/pytorch:24.05-py3' --container-mounts=/lustre:/lustre,/etc/ssl/certs:/etc/ssl/certs:ro /lustre/proj-llm/venvs/llmplan/bin/python -m executor.prepare /lustre/proj-llm/runs/h100-32n/plan.yaml --out /lustre/proj-llm/runs/h100-32n/data --workers 2 --num-shards 1000
LLMPLAN_EOF_d34bc5dcfdba
prepare_id=$(sbatch --parsable --dependency=afterok:"$prepare_shards_id" --kill-on-invalid-dep=yes /lustre/proj-llm/runs/h100-32n/jobs/prepare.sbatch)
echo "prepare: $prepare_id"
cat > /lustre/proj-llm/runs/h100-32n/jobs/train.sbatch <<'LLMPLAN_EOF_5257ce094d06'
#!/bin/bash
#SBATCH --job-name=h100-32n-train
#SBATCH --partition=h100
#SBATCH --account=proj-llm
#SBATCH --qos=high
#SBATCH --constraint=ib
#SBATCH --reservation=llm-week
#SBATCH --exclusive
#SBATCH --nodes=32
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=96
#SBATCH --mem=0
#SBATCH --gpus-per-node=8
#SBATCH --time=2-00:00:00
#SBATCH --output=/lustre/proj-llm/runs/h100-32n/logs/train.log
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@90
#SBATCH --mail-type=END
#SBATCH --comment=llmplan
# llmplan train stage of plan h100-32n; rendered from /lustre/proj-llm/runs/h100-32n/plan.yaml
set -uo pipefail
cd /lustre/proj-llm/runs/h100-32n
module load cuda/12.4
module load nccl/2.21
export VIRTUAL_ENV=/lustre/proj-llm/venvs/llmplan PATH=/lustre/proj-llm/venvs/llmplan/bin:"$PATH"
export LLMPLAN_STAGE=train
export PYTHONUNBUFFERED=1
export CUDA_DEVICE_MAX_CONNECTIONS=1
export TORCH_NCCL_ASYNC_ERROR_HANDLING=1
export NCCL_ASYNC_ERROR_HANDLING=1
export TORCH_NCCL_BLOCKING_WAIT=0
export NCCL_DEBUG=INFO
export NCCL_IB_HCA=mlx5
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
nodes=( $(scontrol show hostnames "$SLURM_JOB_NODELIST") )
head_node=${nodes[0]}
# rendezvous on the first node's address as Slurm knows it (NodeAddr: its hostname on most clusters)
head_addr=$(scontrol show node "$head_node" -o | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)
head_addr=${head_addr:-$head_node}
max_restarts=3
attempts=logs/train-attempts.jsonl
requeue=0
on_usr1() {
  echo "llmplan: time limit or preemption near: checkpointing, then requeue"
  requeue=1
  scancel --signal=TERM "$SLURM_JOB_ID"  # every step (torchrun and the ranks), not this shell
}
trap on_usr1 USR1
attempt=0
while :; do
  attempt=$(( attempt + 1 ))
  rdzv_port=$(( 29500 + (SLURM_JOB_ID * 8 + attempt) % 1000 ))
  started=$(date -u +%FT%TZ); log_at=$(stat -c %s logs/train.log 2>/dev/null || echo 0)
  echo "llmplan: train attempt $attempt on ${#nodes[@]} nodes (${nodes[*]}), rendezvous $head_addr:$rdzv_port"
  srun --ntasks-per-node=1 --kill-on-bad-exit=1 --wait=60 --open-mode=append --output=/lustre/proj-llm/runs/h100-32n/logs/train-%N-%t.log '--container-image=nvcr.io#nvidia/pytorch:24.05-py3' --container-mounts=/lustre:/lustre,/etc/ssl/certs:/etc/ssl/certs:ro /lustre/proj-llm/venvs/llmplan/bin/python -m torch.distributed.run --nnodes=$SLURM_NNODES --nproc_per_node=8 --rdzv_backend=c10d --rdzv_endpoint=$head_addr:$rdzv_port --rdzv_id=$SLURM_JOB_ID-$attempt -m executor.train /lustre/proj-llm/runs/h100-32n/plan.yaml --data /lustre/proj-llm/runs/h100-32n/data --out /lustre/proj-llm/runs/h100-32n &
  step_pid=$!
  while :; do
    wait "$step_pid"; rc=$?
    kill -0 "$step_pid" 2>/dev/null || break
  done
  last_step=$(tail -n 1 metrics.jsonl 2>/dev/null | grep -o '"step": *[0-9]*' | grep -o '[0-9]*$')
  ckpt_step=$(cat checkpoints/latest_checkpointed_iteration.txt 2>/dev/null)
  cause=$(tail -c +$(( log_at + 1 )) logs/train.log 2>/dev/null | grep -a 'srun: error: ' | head -n 1 | tr -d '"\\' | cut -c1-200)
  printf '{"job_id": "%s", "attempt": %d, "exit_code": %d, "started": "%s", "ended": "%s", "last_step": %d, "checkpoint_step": %d, "requeue": %d, "cause": "%s"}\n' \
    "$SLURM_JOB_ID" "$attempt" "$rc" "$started" "$(date -u +%FT%TZ)" "${last_step:-0}" "${ckpt_step:-0}" "$requeue" "$cause" >> "$attempts"
  if [ "$requeue" = 1 ]; then scontrol requeue "$SLURM_JOB_ID"; exit 0; fi
  [ "$rc" = 0 ] && break
  if [ "$attempt" -gt "$max_restarts" ]; then echo "llmplan: training failed (exit $rc); no restarts left"; break; fi
  echo "llmplan: training failed (exit $rc) on attempt $attempt: restart $attempt of $max_restarts from the latest checkpoint (step ${ckpt_step:-0})"
  sleep 5
done
exit "$rc"
LLMPLAN_EOF_5257ce094d06
train_id=$(sbatch --parsable --dependency=afterok:"$prepare_id" --kill-on-invalid-dep=yes /lustre/proj-llm/runs/h100-32n/jobs/train.sbatch)
echo "train: $train_id"
cat > /lustre/proj-llm/runs/h100-32n/jobs/evaluate.sbatch <<'LLMPLAN_EOF_75ae88b0c61d'
#!/bin/bash
#SBATCH --job-name=h100-32n-evaluate
#SBATCH --partition=h100
#SBATCH --account=proj-llm
#SBATCH --qos=high
#SBATCH --constraint=ib
#SBATCH --reservation=llm-week
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=12
#SBATCH --mem=51G
#SBATCH --gpus-per-node=1
#SBATCH --time=0-04:00:00
#SBATCH --output=/lustre/proj-llm/runs/h100-32n/logs/evaluate.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
#SBATCH --mail-type=END
#SBATCH --comment=llmplan
# llmplan evaluate stage of plan h100-32n; rendered from /lustre/proj-llm/runs/h100-32n/plan.yaml
set -uo pipefail
cd /lustre/proj-llm/runs/h100-32n
module load cuda/12.4
module load nccl/2.21
export VIRTUAL_ENV=/lustre/proj-llm/venvs/llmplan PATH=/lustre/proj-llm/venvs/llmplan/bin:"$PATH"
export LLMPLAN_STAGE=evaluate
export PYTHONUNBUFFERED=1
export HF_DATASETS_OFFLINE=1
export HF_HUB_OFFLINE=1
export NCCL_IB_HCA=mlx5
export NCCL_DEBUG=INFO
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
exec srun --ntasks=1 '--container-image=nvcr.io#nvidia/pytorch:24.05-py3' --container-mounts=/lustre:/lustre,/etc/ssl/certs:/etc/ssl/certs:ro /lustre/proj-llm/venvs/llmplan/bin/python -m executor.evaluate /lustre/proj-llm/runs/h100-32n
LLMPLAN_EOF_75ae88b0c61d
evaluate_id=$(sbatch --parsable --dependency=afterok:"$train_id" --kill-on-invalid-dep=yes /lustre/proj-llm/runs/h100-32n/jobs/evaluate.sbatch)
echo "evaluate: $evaluate_id"
