"""The plan compiled into its job graph (a pure function)."""

from __future__ import annotations

import math

import pytest
from exec_helpers import tiny_plan

from executor.jobs import JobGraph, ProcessLaunch, SiteOptions, TorchrunLaunch, compile_job_graph


def test_a_plan_compiles_into_the_whole_graph_a_shard_array_then_merge_train_evaluate():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    assert [j.name for j in graph.order()] == ["prepare-shards", "prepare", "train", "evaluate"]
    assert [j.stage for j in graph.order()] == ["prepare", "prepare", "train", "evaluate"]
    assert graph.stages() == ["prepare", "train", "evaluate"] and graph.stage_job("prepare").name == "prepare"
    shards = tiny_plan().data.num_shards
    assert graph.job("prepare-shards").launch == ProcessLaunch(
        "executor.prepare", ("/runs/r1/plan.yaml", "--out", "/runs/r1/data", "--workers", "1", "--num-shards", str(shards)))
    assert graph.job("prepare").launch == ProcessLaunch("executor.prepare", (
        "/runs/r1/plan.yaml", "--out", "/runs/r1/data", "--workers", str(tiny_plan().data.num_workers),
        "--num-shards", str(shards)))
    assert graph.job("train").launch == TorchrunLaunch(
        "executor.train", ("/runs/r1/plan.yaml", "--data", "/runs/r1/data", "--out", "/runs/r1"), 2)
    assert graph.job("evaluate").launch == ProcessLaunch("executor.evaluate", ("/runs/r1",))
    assert graph.job("prepare").depends_on == ("prepare-shards",) and graph.job("train").depends_on == ("prepare",)
    assert graph.job("evaluate").depends_on == ("train",) and graph.stage_depends_on("train") == ["prepare"]
    assert graph.stage_depends_on("prepare") == []  # the array is prepare's own job, not another stage


def test_the_shard_array_asks_one_cpu_per_task_and_the_merge_does_not_inherit_a_shard_index():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    shards, merge = graph.job("prepare-shards"), graph.job("prepare")
    assert (shards.resources.array_size, shards.resources.cpus_per_task, shards.resources.mem_gib) == (8, 1, 2)
    assert (merge.resources.array_size, merge.resources.cpus_per_task, merge.resources.mem_gib) == (0, 2, 4)
    assert "LLMPLAN_SHARD_INDEX" in merge.unset_env and not shards.unset_env
    assert shards.resources.num_devices == 8 and merge.resources.num_devices == 1


def test_training_runs_under_torchrun_standalone_with_one_process_per_device():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    argv = graph.job("train").command("/py")
    assert argv[:5] == ["/py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert argv[5:8] == ["-m", "executor.train", "/runs/r1/plan.yaml"]  # the executor, not the UI package
    assert graph.job("prepare").command("/py")[:4] == ["/py", "-m", "executor.prepare", "/runs/r1/plan.yaml"]
    assert graph.job("evaluate").command("/py") == ["/py", "-m", "executor.evaluate", "/runs/r1"]


def test_a_cpu_plan_asks_for_no_gpus_and_one_thread_per_process():
    train = compile_job_graph(tiny_plan(), "/runs/r1").job("train")
    assert (train.resources.num_nodes, train.resources.gpus_per_node, train.resources.procs_per_node) == (1, 0, 2)
    assert train.resources.cpus_per_task == 2
    assert ("OMP_NUM_THREADS", "1") in train.env
    assert train.requeue and train.signal_before_end_s >= 90


def test_a_16_gpu_plan_needs_two_nodes_of_eight_and_the_time_limit_has_a_margin():
    plan = tiny_plan()
    layout = plan.layout.layout.model_copy(update={"tensor_model_parallel_size": 8, "data_parallel_size": 2})
    plan = plan.model_copy(update={
        "estimate": plan.estimate.model_copy(update={"gpu": "H100-SXM", "num_gpus": 16, "wallclock_days": 0.5}),
        "layout": plan.layout.model_copy(update={"layout": layout, "gpus_per_node": 8}),
    })
    res = compile_job_graph(plan, "/runs/r1", SiteOptions(cpus_per_gpu=12)).job("train").resources
    assert (res.num_nodes, res.gpus_per_node, res.procs_per_node, res.num_gpus) == (2, 8, 8, 16)
    assert res.cpus_per_task == 96 and res.mem_gib == 0  # the whole node
    assert res.time_limit_s == math.ceil(0.5 * 86400 * 1.25)
    evaluate = compile_job_graph(plan, "/runs/r1").job("evaluate").resources
    assert evaluate.gpus_per_node == 1


def test_a_dependency_cycle_is_reported():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    import dataclasses

    jobs = tuple(dataclasses.replace(j, depends_on=("evaluate",)) if j.name == "prepare-shards" else j
                 for j in graph.jobs)
    with pytest.raises(ValueError, match="dependency cycle"):
        JobGraph(graph.plan_name, graph.run_dir, graph.plan_path, jobs).order()


def test_prepare_is_an_array_of_the_configured_number_of_shards():
    res = compile_job_graph(tiny_plan(), "/runs/r1", SiteOptions(num_prepare_shards=4)).job("prepare-shards").resources
    assert res.array_size == 4


# ------------------------------------------------- resources sized from the plan (issue 15, item 5)
def gpu_plan(num_params: int, gpu: str = "H100-SXM", **model):
    plan = tiny_plan()
    layout = plan.layout.layout.model_copy(update={"tensor_model_parallel_size": 8, "data_parallel_size": 2})
    return plan.model_copy(update={
        "model": plan.model.model_copy(update={"num_params": num_params, **model}),
        "estimate": plan.estimate.model_copy(update={"gpu": gpu, "num_gpus": 16}),
        "layout": plan.layout.model_copy(update={"layout": layout, "gpus_per_node": 8}),
        "recipe": plan.recipe.model_copy(update={"precision": "bf16"}),  # the checkpoint's tensors: 2 B
    })


def test_evaluation_gets_one_gpu_when_the_fp32_model_fits_one_with_headroom_else_the_fewest_that_do():
    from executor.sizing import GPU_HEADROOM

    seven = compile_job_graph(gpu_plan(6_900_000_000), "/runs/r1").job("evaluate")
    assert (seven.resources.gpus_per_node, seven.resources.mem_gib) == (1, 51)  # 27.6 GB fp32 on 80 GiB
    assert "1 GPU: fp32 weights 25.7 GiB" in seven.explain and "--mem=51G" in seven.explain
    # 70B in fp32 = 280 GB; 80 % of 80 GiB = 64 GiB per GPU -> 5 GPUs (4 would hold 256 GiB < 261 GiB + logits)
    seventy = compile_job_graph(gpu_plan(70_000_000_000), "/runs/r1").job("evaluate").resources
    assert seventy.gpus_per_node == 5 == math.ceil(70e9 * 4 / (80 * 2**30 * GPU_HEADROOM))
    assert seventy.cpus_per_task == 5 * SiteOptions().cpus_per_gpu
    assert seventy.mem_gib == math.ceil(70e9 * 6 * 1.2 / 2**30) + 4
    # the same 70B on a 40 GiB A100: 9 GPUs needed, more than a node's 8: capped and said so
    big = compile_job_graph(gpu_plan(70_000_000_000, gpu="A100-40GB"), "/runs/r1").job("evaluate")
    assert big.resources.gpus_per_node == 8 and "DOES NOT FIT" in big.explain
    cpu = compile_job_graph(tiny_plan(), "/runs/r1").job("evaluate")
    assert cpu.resources.gpus_per_node == 0 and "no GPU (CPU plan)" in cpu.explain


def test_prepare_tasks_fit_their_time_limit_at_the_stated_throughput():
    from executor.sizing import MAX_ARRAY_SIZE, PREPARE_TOKENS_PER_CPU_HOUR, prepare_size

    tiny = compile_job_graph(tiny_plan(), "/runs/r1").job("prepare-shards")
    assert tiny.resources.array_size == tiny_plan().data.num_shards  # 110k tokens: the plan's 8 shards
    # 1e12 tokens, 4 h limit: 1e12 / (5e8 x 2 h) = 1000 tasks of 2 h
    size = prepare_size(1e12, 8, 4 * 3600, 48 * 3600)
    assert (size.shards, size.time_limit_s, size.fits) == (1000, 4 * 3600, True)
    # 5.9T tokens: 5900 tasks would be needed; 1000 tasks of 11.8 h get a 23.6 h limit (work <= half)
    size = prepare_size(5.9e12, 8, 4 * 3600, 48 * 3600)
    hours = 5.9e12 / MAX_ARRAY_SIZE / PREPARE_TOKENS_PER_CPU_HOUR
    assert (size.shards, size.time_limit_s) == (1000, math.ceil(hours * 3600 * 2)) and size.fits
    assert "5900 tasks would be needed" in size.explain
    # 1e14 tokens do not fit 1000 tasks of a 48 h partition: said so, the limit is the partition's
    size = prepare_size(1e14, 8, 4 * 3600, 48 * 3600)
    assert (size.time_limit_s, size.fits) == (48 * 3600, False) and "DO NOT FIT" in size.explain
    for tokens in (1e6, 1e9, 3e11, 1e12, 2e12, 5.9e12):
        s = prepare_size(tokens, 8, 4 * 3600, 48 * 3600)
        assert tokens / s.shards / PREPARE_TOKENS_PER_CPU_HOUR * 3600 <= s.time_limit_s / 2 + 1


def test_the_dry_run_explains_each_jobs_request(tmp_path):
    from exec_helpers import cli, write_approved

    plan = write_approved(tmp_path / "plan.yaml")
    code, out = cli("execute", str(plan), "--backend", "slurm", "--dry-run")
    assert code == 0, out
    for stage, words in (("prepare-shards", "tokens/CPU-h"), ("prepare", "dedup across shards"),
                         ("train", "ranks from the layout"), ("evaluate", "--mem=")):
        line = next(l for l in out.splitlines() if l.startswith(f"# {stage} resources:"))
        assert words in line, line
