"""`llmplan ladder run --backend local`: a 3-rung ladder of micro models trained for real (torchrun, 2 CPU
processes, the embedded pydoc corpus), one rung SIGKILLed mid-run, and a resume that trains only that rung.

The CI version of issue 17's ladder: 3 sizes at one ratio, so `ladder fit` must say that it cannot
identify the law (the full ladder is benchmarks/bench_ladder.py).

`ladder run --backend slurm` on the real local cluster (scripts/local-slurm.sh, marked slurm): the same
3 micro sizes from the same target plan at 0.2 tokens per parameter (fewer tokens: about two minutes
on two CPUs) run as a prepare job and ONE array job, task i = rung i; one task's torchrun is SIGKILLed
and the re-run submits an array of that task only, which resumes from its checkpoint and completes.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from exec_helpers import _slurm_cluster

from executor.backends.slurm import query_job
from executor.backends.slurm_render import array_spec
from executor.ladder_slurm import task_ids
from planner.errors import PlanInputError

pytest.importorskip("torch")
pytest.importorskip("megatron.core")

ROOT = Path(__file__).resolve().parents[2]
GOALS = ROOT / "tests" / "fixtures" / "ladder_cpu_goals.yaml"

pytestmark = pytest.mark.slow


def _env() -> dict:
    return dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), HF_DATASETS_OFFLINE="1",
                HF_HUB_OFFLINE="1", PYTHONWARNINGS="ignore")


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui.cli", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, timeout=1500)


def _state(run_dir: Path) -> dict:
    path = run_dir / "ladder.json"
    return json.loads(path.read_text())["rungs"] if path.exists() else {}


@pytest.fixture(scope="module")
def target_plan(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("target")
    plan = tmp / "target.yaml"
    assert _cli("plan", "--goals", str(GOALS), "-o", str(plan), cwd=tmp).returncode == 0
    return plan


def _approved_ladder(plan: Path, ratio: str, tmp: Path) -> Path:
    """3 micro sizes below the target at one tokens-per-parameter ratio, approved."""
    ladder = tmp / f"ladder-{ratio}.yaml"
    done = _cli("ladder", "plan", str(plan), "--rungs", "3", "--ratios", ratio, "--span-decades", "0.6",
                "--budget-fraction", "0.05", "-o", str(ladder), cwd=tmp)
    assert done.returncode == 0, done.stderr
    assert _cli("ladder", "approve", str(ladder), "--by", "ci", cwd=tmp).returncode == 0
    return ladder


@pytest.fixture(scope="module")
def ladder_file(target_plan, tmp_path_factory) -> Path:
    return _approved_ladder(target_plan, "0.25", tmp_path_factory.mktemp("ladder"))


def test_an_unapproved_ladder_is_refused_with_exit_2(ladder_file, tmp_path):
    copy = tmp_path / "unapproved.yaml"
    edited = ladder_file.read_text().replace("description: scaling-law ladder", "description: edited ladder")
    assert edited != ladder_file.read_text()
    copy.write_text(edited)
    done = _cli("ladder", "run", str(copy), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 2 and "edited after" in done.stderr
    done = _cli("ladder", "run", str(copy), "--backend", "slurm", "--run-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2 and "edited after" in done.stderr  # the same gate before anything is submitted
    assert not (tmp_path / "r" / "jobs").exists()


def test_three_rungs_train_and_a_killed_rung_is_the_only_one_trained_again(ladder_file, tmp_path):
    run_dir = tmp_path / "run"
    argv = [sys.executable, "-m", "tui.cli", "ladder", "run", str(ladder_file), "--run-dir", str(run_dir)]
    first = subprocess.Popen(argv, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    victim = "s2-r0.25"
    deadline = time.monotonic() + 1200
    metrics = run_dir / "rungs" / victim / "metrics.jsonl"
    while not (metrics.exists() and len(metrics.read_text().splitlines()) >= 20):
        assert first.poll() is None, first.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "rung s2 never got going"
        time.sleep(0.5)
    os.killpg(_state(run_dir)[victim]["pid"], signal.SIGKILL)  # torchrun and its ranks
    output, _ = first.communicate(timeout=120)
    assert first.returncode == 2, output[-3000:]
    assert f"rung {victim} did not finish" in output
    state = _state(run_dir)
    assert state["s1-r0.25"]["status"] == "COMPLETED" and state[victim]["status"] == "FAILED"
    s1_result = run_dir / "rungs" / "s1-r0.25" / "result.json"
    s1_written = s1_result.stat().st_mtime_ns
    first_attempt = json.loads((run_dir / "rungs" / victim / "time.json").read_text())["seconds"]
    assert first_attempt > 0  # the killed attempt's wall time is kept for the rung's total

    resumed = _cli("ladder", "run", str(ladder_file), "--run-dir", str(run_dir), cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "rung s1-r0.25: done (result.json), skipped" in resumed.stdout
    state = _state(run_dir)
    assert {name: e["attempts"] for name, e in state.items()} == {"s1-r0.25": 1, victim: 2, "s3-r0.25": 1}
    assert all(e["status"] == "COMPLETED" for e in state.values())
    assert s1_result.stat().st_mtime_ns == s1_written
    losses = {}
    for name in state:
        result = json.loads((run_dir / "rungs" / name / "result.json").read_text())
        plan_steps = int(next(line.split(":")[1] for line in (run_dir / "rungs" / name / "plan.yaml").read_text()
                              .splitlines() if line.strip().startswith("train_steps:")))
        assert result["step"] == plan_steps and 0 < result["val_loss"] < 20
        assert result["train_seconds"] > 0 and result["planned_seconds"] > 0
        assert state[name]["train_seconds"] == result["train_seconds"]
        losses[name] = result["val_loss"]
    victim_result = json.loads((run_dir / "rungs" / victim / "result.json").read_text())
    assert victim_result["train_seconds"] > first_attempt  # both attempts, not only the resumed one
    status = _cli("ladder", "status", str(run_dir), cwd=tmp_path).stdout
    assert f"rung {victim}: COMPLETED, attempt 2" in status and "planned (" in status
    assert status.strip().splitlines()[-1].startswith("finished rungs: ")
    print(f"FIGURE ladder CI: final val_loss {losses}")

    fit = _cli("ladder", "fit", str(run_dir), "--bootstrap", "10", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "not identified" in fit.stdout and "3 points" in fit.stdout
    saved = json.loads((run_dir / "fit.json").read_text())
    assert all(v is None for v in saved["params"].values()) and len(saved["points"]) == 3


slurm_cluster = pytest.fixture(scope="session")(_slurm_cluster)


def test_array_task_ids_round_trip_between_sbatch_and_scontrol():
    assert [array_spec(ids) for ids in ([0, 1, 2], [1], [0, 2], [0])] == ["0-2", "1", "0,2", "0"]
    assert [task_ids(spec) for spec in ("0-2", "1", "0,2", "1-3%2", "0,2-3")] == [
        [0, 1, 2], [1], [0, 2], [1, 2, 3], [0, 2, 3]]
    with pytest.raises(PlanInputError, match="array task id"):
        array_spec([-1])
    with pytest.raises(PlanInputError, match="no task left"):
        array_spec([])


def _array_states(array_id: str) -> dict[int, str]:
    """{task id: JobState} of an array job from `scontrol show job` (the cluster keeps no accounting)."""
    return {task: r["JobState"] for r in query_job(array_id) or [] for task in task_ids(r["ArrayTaskId"])}


@pytest.mark.slurm
def test_slurm_runs_the_rungs_as_one_array_and_resubmits_only_a_killed_task(target_plan, slurm_cluster, tmp_path):
    ladder_file = _approved_ladder(target_plan, "0.2", tmp_path)
    run_dir, victim = tmp_path / "run", "s2-r0.2"
    argv = [sys.executable, "-m", "tui.cli", "ladder", "run", str(ladder_file), "--backend", "slurm", "--run-dir",
            str(run_dir), "--wait"]
    first = subprocess.Popen(argv, cwd=tmp_path, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True)
    metrics, task = run_dir / "rungs" / victim / "metrics.jsonl", run_dir / "rungs" / victim / "task.json"
    deadline = time.monotonic() + 600
    while not (task.exists() and metrics.exists() and len(metrics.read_text().splitlines()) >= 20):
        assert first.poll() is None, first.stdout.read()[-3000:]
        assert time.monotonic() < deadline, "rung s2 never got going"
        time.sleep(0.5)
    submitted = json.loads((run_dir / "ladder.json").read_text())["slurm"]
    array, prepare = submitted[0]["array_job_id"], submitted[0]["prepare_job_id"]
    assert json.loads(task.read_text())["job_id"] == f"{array}_1"
    script = (run_dir / "jobs" / "rungs.sbatch").read_text()
    assert "#SBATCH --array=0-2\n" in script and f"#SBATCH --dependency=afterok:{prepare}\n" in script
    again = _cli("ladder", "run", str(ladder_file), "--backend", "slurm", "--run-dir", str(run_dir), cwd=tmp_path)
    assert again.returncode == 0 and f"rung {victim}: still RUNNING (Slurm job {array}_1), not submitted again" in \
        again.stdout and "nothing to submit" in again.stdout, again.stdout + again.stderr
    assert len(json.loads((run_dir / "ladder.json").read_text())["slurm"]) == 1  # no task trains a rung twice
    os.killpg(json.loads(task.read_text())["torchrun_pid"], signal.SIGKILL)  # the task's torchrun and its ranks
    output, _ = first.communicate(timeout=600)
    assert first.returncode == 2, output[-3000:]
    assert "1 rung(s) did not finish" in output and f"rung {victim}: FAILED (Slurm job {array}_1)" in output
    assert _array_states(array) == {0: "COMPLETED", 1: "FAILED", 2: "COMPLETED"}
    assert query_job(prepare)[0]["JobState"] == "COMPLETED"
    done = {name: (run_dir / "rungs" / name / "result.json").stat().st_mtime_ns for name in ("s1-r0.2", "s3-r0.2")}
    assert not (run_dir / "rungs" / victim / "result.json").exists()
    status = _cli("ladder", "status", str(run_dir), cwd=tmp_path)
    assert status.returncode == 0 and f"rung {victim}: FAILED (Slurm job {array}_1), attempt 1" in status.stdout
    assert f"rung s1-r0.2: COMPLETED (Slurm job {array}_0), attempt 1, val_loss" in status.stdout

    resumed = _cli("ladder", "run", str(ladder_file), "--backend", "slurm", "--run-dir", str(run_dir), "--wait",
                   cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    assert "rung s1-r0.2: done (result.json), skipped" in resumed.stdout
    assert "prepare: data/.ladder-prepared exists, skipped" in resumed.stdout
    state = json.loads((run_dir / "ladder.json").read_text())
    again = state["slurm"][1]
    assert again["array"] == "1" and "prepare_job_id" not in again
    assert _array_states(again["array_job_id"]) == {1: "COMPLETED"}  # an array of the killed rung only
    script = (run_dir / "jobs" / "rungs.sbatch").read_text()
    assert "#SBATCH --array=1\n" in script and "--dependency" not in script
    assert {name: e["attempts"] for name, e in state["rungs"].items()} == {"s1-r0.2": 1, victim: 2, "s3-r0.2": 1}
    assert all(e["status"] == "COMPLETED" and e["train_seconds"] > 0 for e in state["rungs"].values())
    assert {name: (run_dir / "rungs" / name / "result.json").stat().st_mtime_ns for name in done} == done
    log = (run_dir / "logs" / f"{victim}.log").read_text()
    assert "resumed from step" in log, "the resubmitted rung started over instead of resuming its checkpoint"
    result = json.loads((run_dir / "rungs" / victim / "result.json").read_text())
    assert 0 < result["val_loss"] < 20
    print(f"FIGURE ladder Slurm: array {array} tasks {_array_states(array)}, re-run array {again['array_job_id']} "
          f"--array=1 {_array_states(again['array_job_id'])}; {victim} val_loss {result['val_loss']:.4f}")
