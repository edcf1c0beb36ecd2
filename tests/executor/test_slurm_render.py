"""Rendered sbatch scripts, pinned by golden files; validation and quoting of every value.

Regenerate the golden files after an intended change with LLMPLAN_UPDATE_GOLDEN=1.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from executor.approval import approve
from executor.backends.control import execute
from executor.backends.slurm_render import format_time, render_sbatch, render_sbatch_bundle, submission_order
from executor.jobs import compile_job_graph
from planner.errors import PlanInputError
from planner.io import read_plan, write_model

GOLDEN = Path(__file__).resolve().parent / "golden"
RUN_DIR, PYTHON = "/scratch/runs/tiny-cpu", "/opt/llmplan/bin/python"
PWNED = Path("/tmp/llmplan-pwned")


def golden_plan():
    return approve(read_plan(GOLDEN / "plan.yaml"), "Ada Lovelace", "ok", now=None)


def gpu_plan():
    """The tiny plan on 16 H100s in 2 nodes: TP=8, DP=2."""
    plan = read_plan(GOLDEN / "plan.yaml")
    layout = plan.layout.layout.model_copy(update={"tensor_model_parallel_size": 8, "data_parallel_size": 2})
    return plan.model_copy(update={
        "name": "gpu-16",
        "estimate": plan.estimate.model_copy(update={"gpu": "H100-SXM", "num_gpus": 16, "wallclock_days": 3.0}),
        "layout": plan.layout.model_copy(update={"layout": layout, "gpus_per_node": 8}),
    })


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LLMPLAN_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize("stage", ["prepare-shards", "prepare", "train", "evaluate"])
def test_each_stage_script_matches_its_golden_file(stage):
    plan = read_plan(GOLDEN / "plan.yaml")
    graph = compile_job_graph(plan, RUN_DIR)
    job = {j.stage: j for j in submission_order(graph)}[stage]
    after = {"prepare-shards": [], "prepare": ["100"], "train": ["101"], "evaluate": ["102"]}[stage]
    check_golden(f"{stage}.sbatch", render_sbatch(job, graph, plan, PYTHON, after))


def test_data_preparation_is_an_array_of_one_task_per_shard_then_one_finishing_job():
    plan = read_plan(GOLDEN / "plan.yaml")
    graph = compile_job_graph(plan, RUN_DIR)
    shards, finish = submission_order(graph)[:2]
    shards_text = render_sbatch(shards, graph, plan, PYTHON)
    assert f"#SBATCH --array=0-{plan.data.num_shards - 1}" in shards_text
    assert f"--workers 1 --num-shards {plan.data.num_shards}" in shards_text
    finish_text = render_sbatch(finish, graph, plan, PYTHON, ["100"])
    assert "--array" not in finish_text and "#SBATCH --dependency=afterok:100" in finish_text


def test_a_two_node_gpu_training_script_matches_its_golden_file():
    plan = gpu_plan()
    graph = compile_job_graph(plan, RUN_DIR)
    text = render_sbatch(graph.job("train"), graph, plan, PYTHON, ["7"])
    check_golden("train_gpu_2x8.sbatch", text)
    assert "#SBATCH --nodes=2" in text and "#SBATCH --gpus-per-node=8" in text
    assert "#SBATCH --time=2-00:00:00" in text  # 3.75 days capped at the site maximum; requeue continues
    assert "--nproc_per_node=8" in text and "--rdzv_endpoint=$head_addr:$rdzv_port" in text
    assert "export CUDA_DEVICE_MAX_CONNECTIONS=1" in text and "--kill-on-bad-exit=1" in text
    assert "--output=/scratch/runs/tiny-cpu/logs/train-%N-%t.log" in text


def test_the_sbatch_bundle_matches_its_golden_file_and_is_valid_bash():
    text = render_sbatch_bundle(read_plan(GOLDEN / "plan.yaml"), RUN_DIR, PYTHON)
    check_golden("bundle.sh", text)
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    assert text.count("sbatch --parsable") == 4
    assert 'prepare_id=$(sbatch --parsable --dependency=afterok:"$prepare_shards_id" --kill-on-invalid-dep=yes' in text
    assert 'train_id=$(sbatch --parsable --dependency=afterok:"$prepare_id" --kill-on-invalid-dep=yes' in text


def test_time_limits_render_in_slurm_format_rounded_up_to_minutes():
    assert format_time(61) == "0-00:02:00"
    assert format_time(900) == "0-00:15:00"
    assert format_time(2 * 86400 + 3600) == "2-01:00:00"


@pytest.mark.parametrize("run_dir", [
    "/tmp/run; touch /tmp/llmplan-pwned", "/tmp/$(touch /tmp/llmplan-pwned)", "/tmp/a b",
    "/tmp/`id`", "/tmp/run/../../etc", "run/../../etc", "/tmp/run\n#SBATCH --uid=0",
])
def test_a_run_dir_with_shell_metacharacters_is_rejected_before_anything_is_written(tmp_path, run_dir):
    plan_file = tmp_path / "plan.yaml"
    write_model(golden_plan(), plan_file)
    with pytest.raises(PlanInputError, match="unsafe path"):
        execute(str(plan_file), "slurm", run_dir, dry_run=True)
    assert not PWNED.exists()


@pytest.mark.parametrize("name", ["tiny; rm -rf /", "$(touch /tmp/llmplan-pwned)", "a b", "x" * 65, "`id`"])
def test_a_plan_name_with_shell_metacharacters_is_rejected_by_validation(tmp_path, name):
    plan_file = tmp_path / "plan.yaml"
    plan_file.write_text((GOLDEN / "plan.yaml").read_text().replace("name: tiny-cpu", f"name: {name!r}", 1))
    with pytest.raises(PlanInputError, match="name"):
        execute(str(plan_file), "slurm", str(tmp_path / "run"), dry_run=True, overrides=("approval",))


def test_free_text_with_command_substitution_stays_inert_quoted_text(tmp_path):
    PWNED.unlink(missing_ok=True)
    evil = "$(touch /tmp/llmplan-pwned) `touch /tmp/llmplan-pwned` '; touch /tmp/llmplan-pwned; '\n#SBATCH --x"
    plan = read_plan(GOLDEN / "plan.yaml").model_copy(update={"description": evil})
    plan = approve(plan, "Ada", note=evil)
    graph = compile_job_graph(plan, str(tmp_path))
    for job in submission_order(graph):
        text = render_sbatch(job, graph, plan, "/bin/true", ["1"] * len(job.depends_on))
        assert not any(line.startswith("#SBATCH --x") for line in text.splitlines())
        # everything before the launch, run for real by bash, then the two variables printed back
        setup = text.split("\nnodes=(")[0] if job.distributed else text.rsplit("\nexec ", 1)[0]
        out = subprocess.run(
            ["bash", "-c", setup + '\nprintf %s "$LLMPLAN_PLAN_DESCRIPTION|$LLMPLAN_APPROVAL_NOTE"'],
            capture_output=True, text=True, timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert out.stdout == f"{evil}|{evil}"
        if not job.distributed:  # the whole script, launch included (python replaced by /bin/true)
            assert subprocess.run(["bash", "-c", text], capture_output=True, timeout=30).returncode == 0
    assert not PWNED.exists()


def test_a_dependency_that_is_not_a_job_id_is_rejected():
    plan = read_plan(GOLDEN / "plan.yaml")
    graph = compile_job_graph(plan, RUN_DIR)
    with pytest.raises(PlanInputError, match="not a number"):
        render_sbatch(graph.job("train"), graph, plan, PYTHON, ["1; scancel -u root"])


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(blacklist_characters="\x00", blacklist_categories=("Cs",)), max_size=40))
def test_any_free_text_round_trips_through_bash_unchanged(text):
    from executor.backends.slurm_render import quote_text

    quoted = quote_text(text)
    assert "\n" not in quoted  # one script line, whatever the text
    out = subprocess.run(["bash", "-c", f'X={quoted}\nprintf %s "$X"'], capture_output=True, timeout=30,
                         env={"LC_ALL": "C.UTF-8", "PATH": "/usr/bin:/bin"})
    assert out.stdout.decode("utf-8", errors="surrogateescape") == text
    assert not PWNED.exists()
