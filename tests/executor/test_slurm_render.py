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
from executor.control import execute
from executor.backends.slurm_render import format_time, render_sbatch, render_sbatch_bundle
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


def without_plan(bundle: str) -> str:
    """A bundle with its plan.yaml heredoc left out: the golden files pin the scripts, not the plan
    schema (which other issues extend)."""
    import re

    return re.sub(r"cat > (\S+/plan\.yaml) <<'LLMPLAN_EOF_(\w+)'\n.*?\nLLMPLAN_EOF_\2\n",
                  "cat > \\1 <<'LLMPLAN_EOF_PLAN'\n# (the plan as YAML: left out of the golden file)\nLLMPLAN_EOF_PLAN\n",
                  bundle, count=1, flags=re.S)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("LLMPLAN_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"{name} differs from its golden file"


@pytest.mark.parametrize("stage", ["prepare-shards", "prepare", "train", "evaluate"])
def test_each_stage_script_matches_its_golden_file(stage):
    plan = read_plan(GOLDEN / "plan.yaml")
    graph = compile_job_graph(plan, RUN_DIR)
    job = graph.job(stage)
    after = {"prepare-shards": [], "prepare": ["100"], "train": ["101"], "evaluate": ["102"]}[stage]
    check_golden(f"{stage}.sbatch", render_sbatch(job, graph, plan, PYTHON, after))


def test_data_preparation_is_an_array_of_one_task_per_shard_then_one_finishing_job():
    plan = read_plan(GOLDEN / "plan.yaml")
    graph = compile_job_graph(plan, RUN_DIR)
    shards, finish = graph.order()[:2]
    assert (shards.name, finish.name, finish.depends_on) == ("prepare-shards", "prepare", ("prepare-shards",))
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
    check_golden("bundle.sh", without_plan(text))
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
    for job in graph.order():
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


# ---------------------------------------------------------------- site profiles (issue 15)
SITE = GOLDEN / "site.yaml"


def h100_32_plan():
    """A 6.9B plan on 32 nodes x 8 H100 (TP=8, DP=32), 20 days: the shape of a real cluster run."""
    plan = read_plan(GOLDEN / "plan.yaml")
    layout = plan.layout.layout.model_copy(update={"tensor_model_parallel_size": 8, "data_parallel_size": 32})
    return plan.model_copy(update={
        "name": "h100-32n",
        "model": plan.model.model_copy(update={"num_params": 6_900_000_000}),
        "tokens": plan.tokens.model_copy(update={"unique_tokens": 5.9e12}),
        "estimate": plan.estimate.model_copy(update={"gpu": "H100-SXM", "num_gpus": 256, "wallclock_days": 20.0}),
        "layout": plan.layout.model_copy(update={"layout": layout, "gpus_per_node": 8}),
        "recipe": plan.recipe.model_copy(update={"precision": "bf16"}),
    })


def site_bundle() -> str:
    from executor.backends.site import read_site

    return render_sbatch_bundle(h100_32_plan(), site=read_site(SITE)[0], python="/usr/bin/python3")


def test_a_32_node_h100_bundle_with_a_site_profile_matches_its_golden_file_and_each_script_is_valid_bash():
    text = site_bundle()
    check_golden("bundle_h100_32n_site.sh", without_plan(text))
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    scripts = text.split("<<'LLMPLAN_EOF_")[1:]
    assert len(scripts) == 5  # plan.yaml + 4 sbatch scripts
    for chunk in scripts[1:]:
        tag, body = chunk.split("'\n", 1)
        script = body.split(f"\nLLMPLAN_EOF_{tag}\n")[0]
        assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0, script[:200]
    train = scripts[3]
    for line in ("#SBATCH --nodes=32", "#SBATCH --gpus-per-node=8", "#SBATCH --partition=h100", "#SBATCH --account=proj-llm",
                 "#SBATCH --qos=high", "#SBATCH --constraint=ib", "#SBATCH --exclusive", "#SBATCH --reservation=llm-week",
                 "#SBATCH --mail-type=END", "module load cuda/12.4", "export NCCL_IB_HCA=mlx5",
                 "export CUDA_DEVICE_MAX_CONNECTIONS=1", "export NCCL_DEBUG=INFO", "max_restarts=3",
                 "--container-image=nvcr.io#nvidia/pytorch:24.05-py3", "--cpus-per-task=96",
                 "/lustre/proj-llm/venvs/llmplan/bin/python -m torch.distributed.run"):
        assert line in train, line
    assert "/usr/bin/python3" not in text and "/lustre/proj-llm/runs/h100-32n/logs/train-%N-%t.log" in train
    assert "#SBATCH --partition=cpu" in scripts[1] and "#SBATCH --mem=51G" in scripts[4]  # 6.9B fp32 eval
    assert "#SBATCH --array=0-999" in scripts[1]  # 5.9T tokens: as many tasks as the array allows
    assert "#SBATCH --time=0-23:36:00" in scripts[1]  # 5.9e9 tokens per task at 5e8/CPU-h = 11.8 h, x 2
    assert "#SBATCH --cpus-per-task=1" in scripts[1] and "#SBATCH --gpus-per-node=1" in scripts[4]


@pytest.mark.parametrize("key,value", [
    ("account", "proj; touch /tmp/llmplan-pwned"), ("qos", "$(id)"), ("constraint", "a|b"), ("reservation", "r`id`"),
    ("partition", "gpu&"), ("partition", {"train": "g pu"}), ("run_root", "/scratch/$(id)"), ("venv", "/opt/v env"),
    ("python", "/usr/bin/python3;id"), ("modules", ["cuda/12.4;id"]), ("container", {"image": "img;id"}),
    ("container", {"image": "ok", "mounts": ["/a:/b;id"]}), ("env", {"NCCL_DEBUG": "INFO; id"}),
    ("env", {"BAD-NAME": "x"}), ("sbatch", ["--comment=$(id)"]), ("sbatch", ["--x y"]),
])
def test_a_site_option_with_a_shell_metacharacter_exits_2_naming_the_key(tmp_path, key, value):
    import yaml

    from exec_helpers import cli as cli_exit

    site = tmp_path / "site.yaml"
    site.write_text(yaml.safe_dump({"site": {key: value}}))
    plan_file = tmp_path / "plan.yaml"
    write_model(golden_plan(), plan_file)
    for argv in (["export", str(plan_file), "--format", "sbatch", "--site", str(site)],
                 ["execute", str(plan_file), "--backend", "slurm", "--dry-run", "--site", str(site)]):
        code, out = cli_exit(*argv)
        assert code == 2 and f"site.{key}" in out, out
    assert not PWNED.exists()


@pytest.mark.parametrize("key", ["acount", "partitions", "container.imag"])
def test_an_unknown_site_key_exits_2_naming_it(tmp_path, key):
    from exec_helpers import cli as cli_exit

    site = tmp_path / "site.yaml"
    site.write_text("site:\n  container: {imag: x}\n" if key == "container.imag" else f"site:\n  {key}: x\n")
    write_model(golden_plan(), tmp_path / "plan.yaml")
    code, out = cli_exit("execute", str(tmp_path / "plan.yaml"), "--backend", "slurm", "--dry-run", "--site", str(site))
    assert code == 2 and f"site.{key}" in out and "not a site option" in out or "unknown option" in out, out


def test_the_dry_run_shows_the_site_profile_and_why_each_job_asks_for_what_it_asks(tmp_path):
    from exec_helpers import cli as cli_exit

    write_model(golden_plan(), tmp_path / "plan.yaml")
    code, out = cli_exit("execute", str(tmp_path / "plan.yaml"), "--backend", "slurm", "--dry-run", "--site", str(SITE),
                         "--run-dir", str(tmp_path / "run"))
    assert code == 0, out
    assert f"# site profile: {SITE}" in out and "#     account: proj-llm" in out
    assert "# train resources: 1 nodes x 2 ranks" in out and "# evaluate resources: --mem=8G" in out
    assert "#SBATCH --account=proj-llm" in out and not (tmp_path / "run").exists()


def test_the_user_config_site_section_applies_and_execute_records_it_in_the_run_dir(tmp_path, monkeypatch):
    from exec_helpers import cli as cli_exit

    from executor.backends.site import site_from_run_dir

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    (tmp_path / "cfg" / "llmplan").mkdir(parents=True)
    (tmp_path / "cfg" / "llmplan" / "site.yaml").write_text("other: 1\nsite:\n  account: acct1\n  max_restarts: 4\n")
    write_model(golden_plan(), tmp_path / "plan.yaml")
    code, out = cli_exit("export", str(tmp_path / "plan.yaml"), "--format", "sbatch")
    assert code == 0 and "#SBATCH --account=acct1" in out and "max_restarts=4" in out
    site = read_site_roundtrip(tmp_path)
    assert site.account == "acct1" and site.max_restarts == 4
    assert site_from_run_dir(tmp_path / "nowhere").account == ""


def read_site_roundtrip(tmp_path):
    """site.yaml as execute writes it, read back as resume does."""
    from executor.backends.site import read_site, site_from_run_dir, site_to_yaml

    run = tmp_path / "rundir"
    run.mkdir()
    (run / "site.yaml").write_text(site_to_yaml(read_site()[0]))
    full = site_from_run_dir_check(run, read_site(SITE)[0])
    assert full.container_image.startswith("nvcr.io#")
    return site_from_run_dir(run)


def site_from_run_dir_check(run: Path, site):
    from executor.backends.site import site_from_run_dir, site_to_yaml

    other = run / "full"
    other.mkdir()
    (other / "site.yaml").write_text(site_to_yaml(site))
    back = site_from_run_dir(other)
    assert back == site
    return back


def test_an_apptainer_container_wraps_the_python_command_and_a_bare_python_name_is_allowed_inside_it():
    from executor.backends.site import parse_site

    site = parse_site({"container": {"image": "/images/llm.sif", "mounts": ["/data:/data:ro"], "runtime": "apptainer"},
                       "python": "python3"})
    plan = h100_32_plan()
    graph = compile_job_graph(plan, RUN_DIR, site)
    train = render_sbatch(graph.job("train"), graph, plan, PYTHON, ["1"], site)
    evaluate = render_sbatch(graph.job("evaluate"), graph, plan, PYTHON, ["1"], site)
    assert "apptainer exec --nv --bind /data:/data:ro /images/llm.sif python3 -m torch.distributed.run" in train
    assert "exec apptainer exec --nv --bind /data:/data:ro /images/llm.sif python3 -m executor.evaluate /" in evaluate
    assert "--container-image" not in train + evaluate
