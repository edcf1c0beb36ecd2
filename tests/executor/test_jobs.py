"""The plan compiled into its job graph (a pure function)."""

from __future__ import annotations

import math

import pytest
from exec_helpers import tiny_plan

from executor.jobs import JobGraph, SiteOptions, compile_job_graph


def test_a_plan_compiles_into_prepare_train_evaluate_with_the_cli_contract_commands():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    assert [j.stage for j in graph.order()] == ["prepare", "train", "evaluate"]
    assert graph.job("prepare").args == ("prepare", "/runs/r1/plan.yaml", "--out", "/runs/r1/data",
                                         "--workers", str(tiny_plan().data.num_workers))
    assert graph.job("train").args == ("train", "/runs/r1/plan.yaml", "--data", "/runs/r1/data", "--out", "/runs/r1")
    assert graph.job("evaluate").args == ("evaluate", "/runs/r1")
    assert graph.job("train").depends_on == ("prepare",) and graph.job("evaluate").depends_on == ("train",)


def test_training_runs_under_torchrun_standalone_with_one_process_per_device():
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    argv = graph.job("train").command("/py")
    assert argv[:5] == ["/py", "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    assert argv[5:8] == ["-m", "tui.cli", "train"]
    assert graph.job("prepare").command("/py")[:4] == ["/py", "-m", "tui.cli", "prepare"]


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

    jobs = tuple(dataclasses.replace(j, depends_on=("evaluate",)) if j.stage == "prepare" else j
                 for j in graph.jobs)
    with pytest.raises(ValueError, match="dependency cycle"):
        JobGraph(graph.plan_name, graph.run_dir, graph.plan_path, jobs).order()


def test_prepare_is_an_array_of_the_configured_number_of_shards():
    res = compile_job_graph(tiny_plan(), "/runs/r1", SiteOptions(num_prepare_shards=4)).job("prepare").resources
    assert res.array_size == 4
