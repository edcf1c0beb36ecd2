#!/bin/bash
# llmplan sbatch bundle for plan tiny-cpu: writes /scratch/runs/tiny-cpu
# and submits prepare -> train -> evaluate with afterok dependencies.
set -euo pipefail
mkdir -p /scratch/runs/tiny-cpu/data /scratch/runs/tiny-cpu/checkpoints /scratch/runs/tiny-cpu/eval /scratch/runs/tiny-cpu/logs /scratch/runs/tiny-cpu/jobs
cat > /scratch/runs/tiny-cpu/plan.yaml <<'LLMPLAN_EOF_PLAN'
# (the plan as YAML: left out of the golden file)
LLMPLAN_EOF_PLAN
cat > /scratch/runs/tiny-cpu/jobs/prepare-shards.sbatch <<'LLMPLAN_EOF_f38a1dd2e98d'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-prepare-shards
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=1
#SBATCH --mem=2G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/prepare-shards-%a.log
#SBATCH --open-mode=append
#SBATCH --array=0-7
#SBATCH --no-requeue
# llmplan prepare-shards stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=prepare-shards
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
export LLMPLAN_SHARD_INDEX="${SLURM_ARRAY_TASK_ID:-0}" LLMPLAN_NUM_SHARDS=8
exec /opt/llmplan/bin/python -m executor.prepare /scratch/runs/tiny-cpu/plan.yaml --out /scratch/runs/tiny-cpu/data --workers 1 --num-shards 8
LLMPLAN_EOF_f38a1dd2e98d
prepare_shards_id=$(sbatch --parsable /scratch/runs/tiny-cpu/jobs/prepare-shards.sbatch)
echo "prepare-shards: $prepare_shards_id"
cat > /scratch/runs/tiny-cpu/jobs/prepare.sbatch <<'LLMPLAN_EOF_8037be2af5c9'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-prepare
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/prepare.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
# llmplan prepare stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=prepare
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
unset SLURM_ARRAY_TASK_ID SLURM_ARRAY_TASK_COUNT LLMPLAN_SHARD_INDEX LLMPLAN_NUM_SHARDS
exec /opt/llmplan/bin/python -m executor.prepare /scratch/runs/tiny-cpu/plan.yaml --out /scratch/runs/tiny-cpu/data --workers 2 --num-shards 8
LLMPLAN_EOF_8037be2af5c9
prepare_id=$(sbatch --parsable --dependency=afterok:"$prepare_shards_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/prepare.sbatch)
echo "prepare: $prepare_id"
cat > /scratch/runs/tiny-cpu/jobs/train.sbatch <<'LLMPLAN_EOF_a61e4b052f24'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-train
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=5G
#SBATCH --time=0-00:15:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/train.log
#SBATCH --open-mode=append
#SBATCH --requeue
#SBATCH --signal=B:USR1@90
# llmplan train stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=train
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
nodes=( $(scontrol show hostnames "$SLURM_JOB_NODELIST") )
head_node=${nodes[0]}
# rendezvous on the first node's address as Slurm knows it (NodeAddr: its hostname on most clusters)
head_addr=$(scontrol show node "$head_node" -o | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)
head_addr=${head_addr:-$head_node}
max_restarts=2
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
  srun --ntasks-per-node=1 --kill-on-bad-exit=1 --wait=60 --open-mode=append --output=/scratch/runs/tiny-cpu/logs/train-%N-%t.log /opt/llmplan/bin/python -m torch.distributed.run --nnodes=$SLURM_NNODES --nproc_per_node=2 --rdzv_backend=c10d --rdzv_endpoint=$head_addr:$rdzv_port --rdzv_id=$SLURM_JOB_ID-$attempt -m executor.train /scratch/runs/tiny-cpu/plan.yaml --data /scratch/runs/tiny-cpu/data --out /scratch/runs/tiny-cpu &
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
LLMPLAN_EOF_a61e4b052f24
train_id=$(sbatch --parsable --dependency=afterok:"$prepare_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/train.sbatch)
echo "train: $train_id"
cat > /scratch/runs/tiny-cpu/jobs/evaluate.sbatch <<'LLMPLAN_EOF_4a40046c99b5'
#!/bin/bash
#SBATCH --job-name=tiny-cpu-evaluate
#SBATCH --nodes=1
#SBATCH --ntasks-per-node=1
#SBATCH --cpus-per-task=2
#SBATCH --mem=8G
#SBATCH --time=0-04:00:00
#SBATCH --output=/scratch/runs/tiny-cpu/logs/evaluate.log
#SBATCH --open-mode=append
#SBATCH --no-requeue
# llmplan evaluate stage of plan tiny-cpu; rendered from /scratch/runs/tiny-cpu/plan.yaml
set -uo pipefail
cd /scratch/runs/tiny-cpu
export LLMPLAN_STAGE=evaluate
export PYTHONUNBUFFERED=1
export OMP_NUM_THREADS=1
export HF_DATASETS_OFFLINE=1
export HF_HUB_OFFLINE=1
LLMPLAN_PLAN_DESCRIPTION='A few-million-parameter model on the embedded corpus, for two CPU cores.'
LLMPLAN_APPROVAL_NOTE=''
exec /opt/llmplan/bin/python -m executor.evaluate /scratch/runs/tiny-cpu
LLMPLAN_EOF_4a40046c99b5
evaluate_id=$(sbatch --parsable --dependency=afterok:"$train_id" --kill-on-invalid-dep=yes /scratch/runs/tiny-cpu/jobs/evaluate.sbatch)
echo "evaluate: $evaluate_id"
