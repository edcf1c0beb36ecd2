"""The job graph: a plan compiled (pure function) into prepare -> train -> evaluate jobs.

Each job carries its `llmplan` command (the CLI contract of ARCHITECTURE.md), the resources it asks
for (nodes, GPUs per node, processes per node, CPUs, memory, time limit) and the stages it depends
on. Backends decide how to launch it: `python -m tui.cli ...` for a plain stage, torchrun for the
distributed training stage (`--standalone` locally, c10d rendezvous on Slurm).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field

from planner.schema import RunPlan

STAGES = ("prepare", "train", "evaluate")
GIB = 1024**3


@dataclass(frozen=True)
class SiteOptions:
    """Site policy, not hardware: limits and defaults a cluster imposes on jobs."""

    partition: str = ""
    account: str = ""
    cpus_per_gpu: int = 8
    max_time_s: int = 2 * 86400
    prepare_time_s: int = 4 * 3600
    evaluate_time_s: int = 4 * 3600
    num_prepare_shards: int = 0  # 0: the plan's data.num_shards
    time_margin: float = 1.25
    min_time_s: int = 15 * 60


@dataclass(frozen=True)
class Resources:
    num_nodes: int
    gpus_per_node: int  # 0 for a CPU-only plan
    procs_per_node: int  # torchrun --nproc_per_node (1 for a single-process stage)
    cpus_per_task: int  # CPUs for the one task per node
    mem_gib: int  # per node; 0 means the whole node
    time_limit_s: int
    array_size: int = 1  # > 1: a job array, one task per shard

    @property
    def num_gpus(self) -> int:
        return self.num_nodes * self.gpus_per_node

    @property
    def num_devices(self) -> int:
        """GPUs, or processes for a CPU-only plan: what GPU-hours are counted on."""
        return self.num_nodes * (self.gpus_per_node or self.procs_per_node) * self.array_size


@dataclass(frozen=True)
class Job:
    stage: str
    args: tuple[str, ...]  # `llmplan` subcommand and its arguments
    resources: Resources
    depends_on: tuple[str, ...] = ()
    distributed: bool = False  # launched by torchrun
    requeue: bool = False  # checkpoints on SIGUSR1/SIGTERM and may be requeued
    signal_before_end_s: int = 0
    env: tuple[tuple[str, str], ...] = ()
    module: str = "tui.cli"  # the `llmplan` command line, run as `python -m tui.cli`

    def command(self, python: str) -> list[str]:
        """argv on one machine: `python -m tui.cli ARGS`, under `torchrun --standalone` if distributed."""
        if not self.distributed:
            return [python, "-m", self.module, *self.args]
        return [python, "-m", "torch.distributed.run", "--standalone",
                f"--nproc_per_node={self.resources.procs_per_node}", "-m", self.module, *self.args]


@dataclass(frozen=True)
class JobGraph:
    plan_name: str
    run_dir: str
    plan_path: str
    jobs: tuple[Job, ...] = field(default_factory=tuple)

    def job(self, stage: str) -> Job:
        for job in self.jobs:
            if job.stage == stage:
                return job
        raise KeyError(stage)

    def order(self) -> list[Job]:
        """Jobs in dependency order (each after all it depends on)."""
        done: list[str] = []
        pending = list(self.jobs)
        while pending:
            ready = [j for j in pending if all(d in done for d in j.depends_on)]
            if not ready:
                raise ValueError(f"dependency cycle among {[j.stage for j in pending]}")
            done += [j.stage for j in ready]
            pending = [j for j in pending if j not in ready]
        return [self.job(s) for s in done]


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


def signal_lead_s(plan: RunPlan) -> int:
    """Seconds before the time limit at which Slurm tells the trainer to checkpoint."""
    write_s = plan.reliability.checkpoint_write_s if plan.reliability else 60.0
    return max(90, math.ceil(3 * write_s) + 60)


def compile_job_graph(plan: RunPlan, run_dir: str, site: SiteOptions | None = None) -> JobGraph:
    """The three dependent jobs of a run in `run_dir` (absolute), reading `run_dir/plan.yaml`."""
    site = site or SiteOptions()
    run_dir = os.path.normpath(run_dir)
    plan_path, data_dir = f"{run_dir}/plan.yaml", f"{run_dir}/data"
    cpu_env = (("OMP_NUM_THREADS", "1"),) if is_cpu_plan(plan) else ()
    workers = plan.data.num_workers
    prepare = Job(
        stage="prepare",
        args=("prepare", plan_path, "--out", data_dir, "--workers", str(workers)),
        resources=Resources(1, 0, 1, workers, max(4, 2 * workers), site.prepare_time_s,
                            array_size=site.num_prepare_shards or plan.data.num_shards),
        env=cpu_env,
    )
    train_res = train_resources(plan, site)
    train = Job(
        stage="train",
        args=("train", plan_path, "--data", data_dir, "--out", run_dir),
        resources=train_res,
        depends_on=("prepare",),
        distributed=True,
        requeue=True,
        signal_before_end_s=signal_lead_s(plan),
        env=cpu_env,
    )
    offline = (("HF_DATASETS_OFFLINE", "1"), ("HF_HUB_OFFLINE", "1")) if plan.evaluation.offline else ()
    evaluate = Job(
        stage="evaluate",
        args=("evaluate", run_dir),
        resources=Resources(1, min(1, train_res.gpus_per_node), 1, 2 if train_res.gpus_per_node == 0
                            else site.cpus_per_gpu, 8, site.evaluate_time_s),
        depends_on=("train",),
        env=cpu_env + offline,
    )
    return JobGraph(plan.name, run_dir, plan_path, (prepare, train, evaluate))
