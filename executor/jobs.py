"""The job graph: a plan compiled (pure function) into the whole graph of a run.

prepare-shards (an array, one task per data shard) -> prepare (the merge: dedup across shards,
tokenizer, tokenize, merge) -> train -> evaluate. Each job carries a typed launch, `ProcessLaunch`
(`python -m executor.prepare | executor.evaluate ...`) or `TorchrunLaunch` (`executor.train` with its
ranks per node: `--standalone` locally, c10d rendezvous on Slurm), the resources it asks for (nodes,
GPUs per node, processes per node, CPUs, memory, time limit, array tasks) and the jobs it depends
on. Jobs run the executor's own entrypoints, never the UI package. Backends (executor.backends) only
decide how to run the graph: local processes (an array in a process pool) or sbatch scripts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from executor.sizing import PREPARE_CPUS_PER_SHARD, PrepareSize, evaluate_size, prepare_size
from planner.schema import RunPlan
from presets.loader import find_gpu

STAGES = ("prepare", "train", "evaluate")
GIB = 1024**3


@dataclass(frozen=True)
class SiteOptions:
    """Site policy, not hardware: limits and defaults a cluster imposes on jobs. Read and validated
    from a site profile by executor.backends.site (`--site FILE`, ~/.config/llmplan/site.yaml)."""

    partition: str = ""
    partitions: dict[str, str] = field(default_factory=dict)  # stage -> partition, over `partition`
    account: str = ""
    qos: str = ""
    constraint: str = ""
    reservation: str = ""
    exclusive: bool = False  # --exclusive for the training job
    run_root: str = ""
    python: str = ""  # absolute path or a command name on PATH (inside a container)
    venv: str = ""  # python = VENV/bin/python, and the venv's bin first on PATH
    modules: tuple[str, ...] = ()  # `module load` lines
    container_image: str = ""
    container_mounts: tuple[str, ...] = ()
    container_runtime: str = "pyxis"  # pyxis (srun --container-image) or apptainer (apptainer exec)
    env: dict[str, str] = field(default_factory=dict)  # over the rendered defaults (NCCL, CUDA)
    sbatch_lines: tuple[str, ...] = ()  # extra `#SBATCH` options
    max_restarts: int | None = None  # crash restarts of a training job; None: from the plan
    cpus_per_gpu: int = 8
    max_time_s: int = 2 * 86400
    prepare_time_s: int = 4 * 3600
    evaluate_time_s: int = 4 * 3600
    num_prepare_shards: int = 0  # 0: the plan's data.num_shards
    time_margin: float = 1.25
    min_time_s: int = 15 * 60

    def partition_for(self, stage: str) -> str:
        """The partition of a run stage (a job's `stage`, so the shard array goes where prepare goes)."""
        return self.partitions.get(stage, self.partition)

    def python_for(self, default: str) -> str:
        """The interpreter of the stages: the site's python, else its venv's, else `default`."""
        return self.python or (f"{self.venv}/bin/python" if self.venv else default)


@dataclass(frozen=True)
class Resources:
    num_nodes: int
    gpus_per_node: int  # 0 for a CPU-only plan
    procs_per_node: int  # torchrun --nproc_per_node (1 for a single-process job)
    cpus_per_task: int  # CPUs for the one task per node
    mem_gib: int  # per node; 0 means the whole node
    time_limit_s: int
    array_size: int = 0  # > 0: a job array of this many tasks, one per shard; 0: one job
    array_tasks: tuple[int, ...] = ()  # the task ids to submit (a re-run's unfinished ones); (): 0..array_size-1

    @property
    def num_gpus(self) -> int:
        return self.num_nodes * self.gpus_per_node

    @property
    def num_devices(self) -> int:
        """GPUs, or processes for a CPU-only plan: what GPU-hours are counted on."""
        return self.num_nodes * (self.gpus_per_node or self.procs_per_node) * max(1, self.array_size)


@dataclass(frozen=True)
class ProcessLaunch:
    """One process per task: `python -m MODULE ARGS`."""

    module: str  # executor.prepare | executor.train | executor.evaluate
    args: tuple[str, ...]

    def argv(self, python: str) -> list[str]:
        return [python, "-m", self.module, *self.args]


@dataclass(frozen=True)
class TorchrunLaunch:
    """`nproc_per_node` ranks per node under torchrun (`--standalone` on one machine here; the Slurm
    backend renders c10d rendezvous across nodes itself)."""

    module: str
    args: tuple[str, ...]
    nproc_per_node: int

    def argv(self, python: str) -> list[str]:
        return [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={self.nproc_per_node}",
                "-m", self.module, *self.args]


Launch = ProcessLaunch | TorchrunLaunch

# What an array task reads its shard from (executor.prepare.cli._shard_args); a job that follows the
# array must not inherit them (it works on all shards).
SHARD_ENV = ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "LLMPLAN_SHARD_INDEX", "LLMPLAN_NUM_SHARDS")


@dataclass(frozen=True)
class Job:
    """One node of the graph: a launch with its resources. `name` is unique in the graph (scripts,
    logs, Slurm job names, dependencies); `stage` is the run stage (prepare, train, evaluate) whose
    state in run.json the job reports into: the last job of a stage gives the stage its status."""

    name: str
    launch: Launch
    resources: Resources
    stage: str = ""  # "": the same as `name`
    depends_on: tuple[str, ...] = ()  # job names
    requeue: bool = False  # checkpoints on SIGUSR1/SIGTERM and may be requeued
    signal_before_end_s: int = 0
    env: tuple[tuple[str, str], ...] = ()
    unset_env: tuple[str, ...] = ()  # variables the job must not inherit
    max_restarts: int = 0  # crash restarts inside the job, from the latest checkpoint
    explain: str = ""  # why these resources (shown in the dry run)

    def __post_init__(self) -> None:
        if not self.stage:
            object.__setattr__(self, "stage", self.name)

    @property
    def distributed(self) -> bool:
        return isinstance(self.launch, TorchrunLaunch)

    def command(self, python: str) -> list[str]:
        """argv of one task on one machine (the launch's own)."""
        return self.launch.argv(python)


@dataclass(frozen=True)
class JobGraph:
    plan_name: str
    run_dir: str
    plan_path: str
    jobs: tuple[Job, ...] = field(default_factory=tuple)

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    def order(self) -> list[Job]:
        """Jobs in dependency order (each after all it depends on)."""
        done: list[str] = []
        pending = list(self.jobs)
        while pending:
            ready = [j for j in pending if all(d in done for d in j.depends_on)]
            if not ready:
                raise ValueError(f"dependency cycle among {[j.name for j in pending]}")
            done += [j.name for j in ready]
            pending = [j for j in pending if j not in ready]
        return [self.job(s) for s in done]

    def stages(self) -> list[str]:
        """The run stages in dependency order (prepare, train, evaluate)."""
        return list(dict.fromkeys(j.stage for j in self.order()))

    def stage_job(self, stage: str) -> Job:
        """The job whose state is the stage's: the stage's last job in dependency order."""
        return [j for j in self.order() if j.stage == stage][-1]

    def stage_depends_on(self, stage: str) -> list[str]:
        """The other stages a stage waits for."""
        of = {j.name: j.stage for j in self.jobs}
        deps = [of[d] for j in self.order() if j.stage == stage for d in j.depends_on]
        return [s for s in dict.fromkeys(deps) if s != stage]


def is_cpu_plan(plan: RunPlan) -> bool:
    return plan.estimate.gpu.strip().upper() == "CPU"


def train_resources(plan: RunPlan, site: SiteOptions) -> Resources:
    num_gpus = plan.layout.layout.num_gpus if plan.layout else plan.estimate.num_gpus
    per_node = plan.layout.gpus_per_node if plan.layout else plan.goals.gpus_per_node
    procs = min(per_node, num_gpus)
    nodes = math.ceil(num_gpus / procs)
    cpu = is_cpu_plan(plan)
    run_s = plan.estimate.wallclock_days * 86400 * site.time_margin
    if cpu and plan.layout:
        mem_gib = math.ceil(procs * (plan.layout.memory.total_bytes * 2 + GIB) / GIB)
    else:
        mem_gib = 0
    return Resources(
        num_nodes=nodes,
        gpus_per_node=0 if cpu else procs,
        procs_per_node=procs,
        cpus_per_task=procs if cpu else procs * site.cpus_per_gpu,
        mem_gib=mem_gib,
        time_limit_s=int(min(site.max_time_s, max(site.min_time_s, math.ceil(run_s)))),
    )


# NCCL/CUDA defaults of a GPU training job (site `env:` overrides each): one CUDA stream queue so
# Megatron's TP communication overlaps as designed; NCCL errors and hangs end the job (so the crash
# restart runs) instead of hanging until the time limit; torch >= 2.2 reads the TORCH_NCCL_ names.
GPU_ENV = (
    ("CUDA_DEVICE_MAX_CONNECTIONS", "1"),
    ("TORCH_NCCL_ASYNC_ERROR_HANDLING", "1"),
    ("NCCL_ASYNC_ERROR_HANDLING", "1"),
    ("TORCH_NCCL_BLOCKING_WAIT", "0"),
    ("NCCL_DEBUG", "WARN"),
)


def max_restarts(plan: RunPlan, site: SiteOptions) -> int:
    """Crash restarts one training job may make: twice the plan's expected interruptions per job
    (reliability.expected_interruptions over the run, spread over its time-limited jobs), at least 2,
    at most 10; the site's `max_restarts` if set."""
    if site.max_restarts is not None:
        return site.max_restarts
    expected = plan.reliability.expected_interruptions if plan.reliability else 0.0
    jobs = max(1.0, plan.estimate.wallclock_days * 86400 * site.time_margin / site.max_time_s)
    return int(min(10, max(2, math.ceil(2 * expected / jobs))))


def prepare_shards(plan: RunPlan, site: SiteOptions) -> PrepareSize:
    """The prepare array's tasks and time limit from the token count (executor.sizing.prepare_size)."""
    return prepare_size(plan.tokens.unique_tokens, plan.data.num_shards, site.prepare_time_s, site.max_time_s,
                        site.num_prepare_shards)


def evaluate_resources(plan: RunPlan, site: SiteOptions, train: Resources) -> tuple[Resources, str]:
    """The evaluation job: GPUs and memory from the checkpoint size in the evaluation precision."""
    gpu_mem = None if is_cpu_plan(plan) else find_gpu(plan.estimate.gpu, "estimate.gpu").memory_bytes
    size = evaluate_size(plan, gpu_mem, max(1, train.gpus_per_node))
    cpus = site.cpus_per_gpu * size.gpus if size.gpus else 2
    return Resources(1, size.gpus, 1, cpus, size.mem_gib, site.evaluate_time_s), size.explain


def signal_lead_s(plan: RunPlan) -> int:
    """Seconds before the time limit at which Slurm tells the trainer to checkpoint."""
    write_s = plan.reliability.checkpoint_write_s if plan.reliability else 60.0
    return max(90, math.ceil(3 * write_s) + 60)


def prepare_jobs(plan: RunPlan, site: SiteOptions, plan_path: str, data_dir: str,
                 env: tuple[tuple[str, str], ...]) -> tuple[Job, Job]:
    """Data preparation as two jobs: an array, one one-CPU task per shard (executor.prepare takes its
    shard from LLMPLAN_SHARD_INDEX / SLURM_ARRAY_TASK_ID and runs the per-shard filter stage), then
    the merge job on data.num_workers CPUs: dedup across shards, tokenizer, tokenize, merge; it skips
    the shards the array finished (completion markers)."""
    workers = plan.data.num_workers
    size = prepare_shards(plan, site)
    num = str(size.shards)
    mem_gib = max(4, 2 * workers)
    shards = Job(
        name="prepare-shards",
        stage="prepare",
        launch=ProcessLaunch("executor.prepare", (plan_path, "--out", data_dir, "--workers", "1", "--num-shards", num)),
        resources=Resources(1, 0, 1, PREPARE_CPUS_PER_SHARD, max(2, mem_gib // 2), size.time_limit_s,
                            array_size=size.shards),
        env=env,
        explain=f"array of {size.shards} tasks: {size.explain}",
    )
    merge = Job(
        name="prepare",
        launch=ProcessLaunch("executor.prepare", (plan_path, "--out", data_dir, "--workers", str(workers),
                                                  "--num-shards", num)),
        resources=Resources(1, 0, 1, workers, mem_gib, size.time_limit_s),
        depends_on=(shards.name,),
        env=env,
        unset_env=SHARD_ENV,
        explain=f"after the array: dedup across shards, tokenizer, tokenize, merge on data.num_workers {workers} CPUs",
    )
    return shards, merge


def compile_job_graph(plan: RunPlan, run_dir: str, site: SiteOptions | None = None) -> JobGraph:
    """The whole graph of a run in `run_dir` (absolute), every job reading `run_dir/plan.yaml`:
    prepare-shards (array) -> prepare (merge) -> train (torchrun) -> evaluate."""
    site = site or SiteOptions()
    run_dir = os.path.normpath(run_dir)
    plan_path, data_dir = f"{run_dir}/plan.yaml", f"{run_dir}/data"
    cpu_env = (("OMP_NUM_THREADS", "1"),) if is_cpu_plan(plan) else ()
    shards, prepare = prepare_jobs(plan, site, plan_path, data_dir, cpu_env)
    train_res = train_resources(plan, site)
    gpu_env = () if is_cpu_plan(plan) else GPU_ENV
    restarts = max_restarts(plan, site)
    eval_res, why_eval = evaluate_resources(plan, site, train_res)
    train = Job(
        name="train",
        launch=TorchrunLaunch("executor.train", (plan_path, "--data", data_dir, "--out", run_dir),
                              train_res.procs_per_node),
        resources=train_res,
        depends_on=(prepare.name,),
        requeue=True,
        signal_before_end_s=signal_lead_s(plan),
        env=cpu_env + gpu_env,
        max_restarts=restarts,
        explain=(f"{train_res.num_nodes} nodes x {train_res.procs_per_node} ranks from the layout; time = "
                 f"{plan.estimate.wallclock_days:.3g} days x {site.time_margin} capped at {site.max_time_s} s "
                 f"(requeued past it); up to {restarts} crash restarts from the latest checkpoint"),
    )
    offline = (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1")) if plan.evaluation.offline else ()
    evaluate = Job(
        name="evaluate",
        launch=ProcessLaunch("executor.evaluate", (run_dir,)),
        resources=eval_res,
        depends_on=(train.name,),
        env=cpu_env + offline,
        explain=why_eval,
    )
    return JobGraph(plan.name, run_dir, plan_path, (shards, prepare, train, evaluate))
