"""sbatch scripts rendered from a job graph by pure functions (golden-tested).

One script per job of the graph in RUN_DIR/jobs/ (executor.jobs: prepare-shards, prepare, train, evaluate):
- `#SBATCH` headers from the plan: nodes, one task per node, CPUs, memory, GPUs per node, time
  limit, log file, `--dependency=afterok:<ids>` with `--kill-on-invalid-dep=yes`;
- an array job (prepare-shards: one task per shard) gets `#SBATCH --array=0-N` and passes the task index to
  `python -m executor.prepare` as LLMPLAN_SHARD_INDEX; a job that must not inherit it unsets it;
- train runs one `srun` task per node (`--kill-on-bad-exit=1`, per-node logs
  `logs/train-%N-%t.log`), each launching torchrun with c10d rendezvous on the first node's
  NodeAddr, and has `--requeue` with `--signal=B:USR1@<s>`: the batch shell traps USR1, sends
  SIGTERM to every step of the job (`scancel --signal=TERM JOB`: steps, not the batch shell;
  signalling srun itself makes it kill the step at once) so the trainer checkpoints and exits, then
  requeues the job: a time limit or a preemption loses at most the work since the signal. Slurm
  holds a requeued batch job for about two minutes (BeginTime) before it runs again; the afterok
  dependents keep waiting. A crash (a rank's non-zero exit) starts a new step in the same
  allocation from the latest checkpoint, up to `max_restarts` times; each attempt is one JSON line
  in logs/train-attempts.jsonl (exit code, times, last logged step, checkpoint step, srun's error);
- site options (executor.backends.site): partition per stage, account, QoS, constraint,
  reservation, `--exclusive`, extra `#SBATCH` lines, `module load` lines, a venv, a container
  (Pyxis `srun --container-image`, or `apptainer exec`) and environment over the NCCL/CUDA defaults.

Every value placed in a script is validated (executor.backends.safety) and shell-quoted; free text
(plan description, approval note) appears only as a single-quoted shell string assigned to a
variable, never as code. `#SBATCH` lines are read by sbatch, not a shell, so only validated values
appear there.
"""

from __future__ import annotations

import hashlib
import re
import shlex

from executor.backends.base import python_executable
from executor.backends.safety import NAME_RE, check_inside, check_int, check_name, check_path
from executor.backends.site import IMAGE_RE, MODULE_RE, SBATCH_RE
from executor.jobs import Job, JobGraph, SiteOptions, TorchrunLaunch, compile_job_graph
from planner.errors import PlanInputError
from planner.io import to_yaml
from planner.schema import RunPlan

JOB_ID_RE = re.compile(r"^[0-9]{1,12}$")


def format_time(seconds: int) -> str:
    """Slurm's D-HH:MM:SS, rounded up to whole minutes (Slurm's own granularity)."""
    minutes = -(-check_int(seconds, "time_limit_s", 60, 366 * 86400) // 60)
    days, rest = divmod(minutes, 24 * 60)
    return f"{days}-{rest // 60:02d}:{rest % 60:02d}:00"


def quote_text(text: str) -> str:
    """Free text as one inert shell word on one line: shlex.quote, or bash's $'...' when the text
    holds newlines or other control characters (each escaped, so no script line starts inside it)."""
    if not any(ord(ch) < 32 or ord(ch) == 127 for ch in text):
        return shlex.quote(text)
    escaped = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\t": "\\t"}
    body = "".join(escaped.get(ch) or (f"\\x{ord(ch):02x}" if ord(ch) < 32 or ord(ch) == 127 else ch)
                   for ch in text)
    return f"$'{body}'"


def quote_argv(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in argv)


def safe_args(job: Job, run_dir: str) -> list[str]:
    """The launch's module arguments, each a plain word or a path inside the run directory."""
    out = []
    for i, arg in enumerate(job.launch.args):
        out.append(arg if NAME_RE.fullmatch(arg) else check_inside(arg, run_dir, f"{job.name}.args[{i}]"))
    return out


def log_path(job: Job, run_dir: str) -> str:
    suffix = "-%a" if job.resources.array_size > 1 else ""
    logs = check_inside(f"{run_dir}/logs", run_dir, "logs")
    return f"{logs}/{check_name(job.name, 'stage')}{suffix}.log"  # %a: sbatch's array task index


def array_spec(indices: list[int], size: int = 10_000) -> str:
    """sbatch's --array value for these task ids: "0-2" when they are all of 0..n-1, else "1" or "0,2";
    each id is checked to lie in 0..size-1."""
    ids = [check_int(i, "array task id", 0, size - 1) for i in indices]
    if not ids:
        raise PlanInputError("empty array", ["array_tasks: no task left to submit"])
    return f"0-{ids[-1]}" if ids == list(range(len(ids))) and len(ids) > 1 else ",".join(map(str, ids))


def header(job: Job, graph: JobGraph, site: SiteOptions, after: list[str]) -> list[str]:
    res = job.resources
    name = check_name(f"{graph.plan_name[:48]}-{job.name}", "job_name")
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}"]
    if site.partition_for(job.stage):
        lines.append(f"#SBATCH --partition={check_name(site.partition_for(job.stage), 'partition')}")
    for key in ("account", "qos", "constraint", "reservation"):
        if getattr(site, key):
            lines.append(f"#SBATCH --{key}={check_name(getattr(site, key), key)}")
    if site.exclusive and isinstance(job.launch, TorchrunLaunch):  # whole nodes for training; not for 1000 one-CPU shard tasks
        lines.append("#SBATCH --exclusive")
    lines += [
        f"#SBATCH --nodes={check_int(res.num_nodes, 'num_nodes', 1, 100_000)}",
        "#SBATCH --ntasks-per-node=1",
        f"#SBATCH --cpus-per-task={check_int(res.cpus_per_task, 'cpus_per_task', 1, 4096)}",
        f"#SBATCH --mem={check_int(res.mem_gib, 'mem_gib', 0, 1_000_000)}G" if res.mem_gib else "#SBATCH --mem=0",
    ]
    if res.gpus_per_node:
        lines.append(f"#SBATCH --gpus-per-node={check_int(res.gpus_per_node, 'gpus_per_node', 1, 64)}")
    lines += [f"#SBATCH --time={format_time(res.time_limit_s)}",
              f"#SBATCH --output={log_path(job, graph.run_dir)}", "#SBATCH --open-mode=append"]
    if res.array_size:
        size = check_int(res.array_size, "array_size", 1, 10_000)
        tasks = array_spec(list(res.array_tasks), size) if res.array_tasks else f"0-{size - 1}"
        lines.append(f"#SBATCH --array={tasks}")
    if job.requeue:
        lines += ["#SBATCH --requeue",
                  f"#SBATCH --signal=B:USR1@{check_int(job.signal_before_end_s, 'signal_before_end_s', 1, 86400)}"]
    else:
        lines.append("#SBATCH --no-requeue")
    for job_id in after:
        if not JOB_ID_RE.fullmatch(job_id):
            raise PlanInputError("bad dependency", [f"after: Slurm job id {job_id!r} is not a number"])
    ids = list(after)
    if ids:
        lines += [f"#SBATCH --dependency=afterok:{':'.join(ids)}", "#SBATCH --kill-on-invalid-dep=yes"]
    lines += [f"#SBATCH {check_sbatch_option(opt)}" for opt in site.sbatch_lines]
    return lines


def check_sbatch_option(option: str) -> str:
    if not SBATCH_RE.fullmatch(option):
        raise PlanInputError("unsafe sbatch option", [f"site.sbatch: {option!r} must match {SBATCH_RE.pattern}"])
    return option


def preamble(job: Job, graph: JobGraph, plan: RunPlan, site: SiteOptions) -> list[str]:
    env = dict([("LLMPLAN_STAGE", job.name), ("PYTHONUNBUFFERED", "1"), *job.env])
    env.update(site.env)  # the site's values win over the rendered defaults
    note = plan.approval.note if plan.approval else ""
    lines = [
        f"# llmplan {job.name} stage of plan {graph.plan_name}; rendered from {graph.plan_path}",
        "set -uo pipefail",
        f"cd {shlex.quote(check_path(graph.run_dir, 'run_dir'))}",
        *(f"module load {shlex.quote(check_module(m))}" for m in site.modules),
    ]
    if site.venv:
        venv = check_path(site.venv, "site.venv")
        lines.append(f'export VIRTUAL_ENV={shlex.quote(venv)} PATH={shlex.quote(venv + "/bin")}:"$PATH"')
    lines += [
        *(f"export {check_name(k, 'env')}={shlex.quote(v)}" for k, v in env.items()),
        f"LLMPLAN_PLAN_DESCRIPTION={quote_text(plan.description)}",
        f"LLMPLAN_APPROVAL_NOTE={quote_text(note)}",
    ]
    return lines


def check_module(name: str) -> str:
    if not MODULE_RE.fullmatch(name):
        raise PlanInputError("unsafe module name", [f"site.modules: {name!r} must match {MODULE_RE.pattern}"])
    return name


def check_python(python: str) -> str:
    """An absolute path, or a bare command name (looked up on PATH, e.g. inside a container)."""
    return python if NAME_RE.fullmatch(python) else check_path(python, "python")


def container_words(site: SiteOptions, gpus: bool) -> tuple[list[str], list[str]]:
    """(srun options, command prefix) that run a stage inside the site's container image."""
    if not site.container_image:
        return [], []
    if not IMAGE_RE.fullmatch(site.container_image):
        raise PlanInputError("unsafe container image", [f"site.container.image: {site.container_image!r}"])
    mounts = ",".join(check_path(m.split(":")[0], "site.container.mounts") and m for m in site.container_mounts)
    if site.container_runtime == "apptainer":
        return [], ["apptainer", "exec", *(["--nv"] if gpus else []), *(["--bind", mounts] if mounts else []),
                    site.container_image]
    return [f"--container-image={site.container_image}", *([f"--container-mounts={mounts}"] if mounts else [])], []


def body(job: Job, graph: JobGraph, python: str, site: SiteOptions) -> list[str]:
    python = check_python(site.python_for(python))
    args = safe_args(job, graph.run_dir)
    srun_opts, prefix = container_words(site, job.resources.gpus_per_node > 0)
    module = check_name(job.launch.module, "module")
    if not isinstance(job.launch, TorchrunLaunch):
        lines = []
        if job.resources.array_size:  # one task per shard: the task index is the shard
            lines.append('export LLMPLAN_SHARD_INDEX="${SLURM_ARRAY_TASK_ID:-0}" '
                         f"LLMPLAN_NUM_SHARDS={job.resources.array_size}")
        if job.unset_env:  # e.g. the merge works on all shards: no array index inherited from a submitting job
            lines.append("unset " + " ".join(check_name(v, "unset_env") for v in job.unset_env))
        launch = ["srun", "--ntasks=1", *srun_opts] if srun_opts else []
        return [*lines, "exec " + quote_argv([*launch, *prefix, python, "-m", module, *args])]
    torchrun = [*prefix, python, "-m", "torch.distributed.run", "--nnodes=$SLURM_NNODES",
                f"--nproc_per_node={check_int(job.launch.nproc_per_node, 'nproc_per_node', 1, 1024)}",
                "--rdzv_backend=c10d", "--rdzv_endpoint=$head_addr:$rdzv_port", "--rdzv_id=$SLURM_JOB_ID-$attempt",
                "-m", module, *args]
    launch = " ".join(a if "$" in a else shlex.quote(a) for a in torchrun)
    logs = check_inside(f"{graph.run_dir}/logs", graph.run_dir, "logs")
    srun = ["srun", "--ntasks-per-node=1", "--kill-on-bad-exit=1", "--wait=60", "--open-mode=append",
            f"--output={logs}/train-%N-%t.log", *srun_opts]
    restarts = check_int(job.max_restarts, "max_restarts", 0, 100)
    return [
        'nodes=( $(scontrol show hostnames "$SLURM_JOB_NODELIST") )',
        "head_node=${nodes[0]}",
        "# rendezvous on the first node's address as Slurm knows it (NodeAddr: its hostname on most clusters)",
        "head_addr=$(scontrol show node \"$head_node\" -o | grep -o 'NodeAddr=[^ ]*' | cut -d= -f2)",
        'head_addr=${head_addr:-$head_node}',
        f"max_restarts={restarts}",
        "attempts=logs/train-attempts.jsonl",
        "requeue=0",
        "on_usr1() {",
        '  echo "llmplan: time limit or preemption near: checkpointing, then requeue"',
        "  requeue=1",
        '  scancel --signal=TERM "$SLURM_JOB_ID"  # every step (torchrun and the ranks), not this shell',
        "}",
        "trap on_usr1 USR1",
        "attempt=0",
        "while :; do",
        "  attempt=$(( attempt + 1 ))",
        "  rdzv_port=$(( 29500 + (SLURM_JOB_ID * 8 + attempt) % 1000 ))",
        '  started=$(date -u +%FT%TZ); log_at=$(stat -c %s logs/train.log 2>/dev/null || echo 0)',
        '  echo "llmplan: train attempt $attempt on ${#nodes[@]} nodes (${nodes[*]}), rendezvous $head_addr:$rdzv_port"',
        f'  {quote_argv(srun)} {launch} &',
        "  step_pid=$!",
        "  while :; do",
        '    wait "$step_pid"; rc=$?',
        '    kill -0 "$step_pid" 2>/dev/null || break',
        "  done",
        "  last_step=$(tail -n 1 metrics.jsonl 2>/dev/null | grep -o '\"step\": *[0-9]*' | grep -o '[0-9]*$')",
        "  ckpt_step=$(cat checkpoints/latest_checkpointed_iteration.txt 2>/dev/null)",
        "  cause=$(tail -c +$(( log_at + 1 )) logs/train.log 2>/dev/null | grep -a 'srun: error: ' | head -n 1 "
        "| tr -d '\"\\\\' | cut -c1-200)",
        "  printf '{\"job_id\": \"%s\", \"attempt\": %d, \"exit_code\": %d, \"started\": \"%s\", "
        "\"ended\": \"%s\", \"last_step\": %d, \"checkpoint_step\": %d, \"requeue\": %d, \"cause\": \"%s\"}\\n' \\",
        '    "$SLURM_JOB_ID" "$attempt" "$rc" "$started" "$(date -u +%FT%TZ)" "${last_step:-0}" "${ckpt_step:-0}" '
        '"$requeue" "$cause" >> "$attempts"',
        '  if [ "$requeue" = 1 ]; then scontrol requeue "$SLURM_JOB_ID"; exit 0; fi',
        '  [ "$rc" = 0 ] && break',
        '  if [ "$attempt" -gt "$max_restarts" ]; then echo "llmplan: training failed (exit $rc); no restarts left"; break; fi',
        '  echo "llmplan: training failed (exit $rc) on attempt $attempt: restart $attempt of $max_restarts from the '
        'latest checkpoint (step ${ckpt_step:-0})"',
        "  sleep 5",
        "done",
        'exit "$rc"',
    ]


def render_sbatch(job: Job, graph: JobGraph, plan: RunPlan, python: str,
                  after: list[str] | None = None, site: SiteOptions | None = None) -> str:
    """The sbatch script of one job; `after` are the Slurm job ids it must follow (afterok)."""
    site = site or SiteOptions()
    lines = (header(job, graph, site, list(after or [])) + preamble(job, graph, plan, site)
             + body(job, graph, python, site))
    return "\n".join(lines) + "\n"


def sbatch_argv(script_path: str, run_dir: str) -> list[str]:
    return ["sbatch", "--parsable", check_inside(script_path, run_dir, "script")]


def _heredoc(path: str, text: str) -> list[str]:
    tag = "LLMPLAN_EOF_" + hashlib.sha256(text.encode()).hexdigest()[:12]
    assert tag not in text  # noqa: S101 - a sha256 prefix of the text cannot occur in it
    return [f"cat > {shlex.quote(path)} <<'{tag}'", text.rstrip("\n"), tag]


def render_sbatch_bundle(plan: RunPlan, run_dir: str | None = None, python: str | None = None,
                         site: SiteOptions | None = None) -> str:
    """One shell script that writes the run directory (plan + sbatch files) and submits the chain.
    The stages run under the site's python (or venv), else the interpreter running this export."""
    site = site or SiteOptions()
    python = python or python_executable()
    root = site.run_root or "/scratch/llmplan/runs"
    run_dir = check_path(run_dir or f"{root}/{check_name(plan.name, 'name')}", "run_dir")
    graph = compile_job_graph(plan, run_dir, site)
    lines = ["#!/bin/bash", f"# llmplan sbatch bundle for plan {graph.plan_name}: writes {run_dir}",
             "# and submits prepare -> train -> evaluate with afterok dependencies.", "set -euo pipefail",
             f"mkdir -p {' '.join(shlex.quote(f'{run_dir}/{d}') for d in ('data', 'checkpoints', 'eval', 'logs', 'jobs'))}"]
    lines += _heredoc(graph.plan_path, to_yaml(plan))
    for job in graph.order():
        script = f"{run_dir}/jobs/{check_name(job.name, 'stage')}.sbatch"
        text = render_sbatch(job, graph, plan, python, site=site)
        lines += _heredoc(script, text)
        var = job.name.replace("-", "_") + "_id"
        after = ":".join(f'"${dep.replace("-", "_")}_id"' for dep in job.depends_on)
        dep = f" --dependency=afterok:{after} --kill-on-invalid-dep=yes" if after else ""
        lines.append(f"{var}=$(sbatch --parsable{dep} {shlex.quote(script)})")
        lines.append(f'echo "{job.name}: ${var}"')
    return "\n".join(lines) + "\n"
