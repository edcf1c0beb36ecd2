"""`llmplan ladder run --backend local`: a 3-rung ladder of micro models trained for real (torchrun, 2 CPU
processes, the embedded pydoc corpus), one rung SIGKILLed mid-run, and a resume that trains only that rung.

The CI version of issue 17's ladder: 3 sizes at one ratio, so `ladder fit` must say that it cannot
identify the law (the full ladder is benchmarks/bench_ladder.py).
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
def ladder_file(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("ladder")
    plan, ladder = tmp / "target.yaml", tmp / "ladder.yaml"
    assert _cli("plan", "--goals", str(GOALS), "-o", str(plan), cwd=tmp).returncode == 0
    done = _cli("ladder", "plan", str(plan), "--rungs", "3", "--ratios", "0.25", "--span-decades", "0.6",
                "--budget-fraction", "0.05", "-o", str(ladder), cwd=tmp)
    assert done.returncode == 0, done.stderr
    assert _cli("ladder", "approve", str(ladder), "--by", "ci", cwd=tmp).returncode == 0
    return ladder


def test_an_unapproved_ladder_is_refused_with_exit_2(ladder_file, tmp_path):
    copy = tmp_path / "unapproved.yaml"
    edited = ladder_file.read_text().replace("description: scaling-law ladder", "description: edited ladder")
    assert edited != ladder_file.read_text()
    copy.write_text(edited)
    done = _cli("ladder", "run", str(copy), "--run-dir", str(tmp_path / "run"), cwd=tmp_path)
    assert done.returncode == 2 and "edited after" in done.stderr
    done = _cli("ladder", "run", str(ladder_file), "--backend", "slurm", "--run-dir", str(tmp_path / "r"), cwd=tmp_path)
    assert done.returncode == 2 and "not supported for ladders yet" in done.stderr


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
        losses[name] = result["val_loss"]
    print(f"FIGURE ladder CI: final val_loss {losses}")

    fit = _cli("ladder", "fit", str(run_dir), "--bootstrap", "10", cwd=tmp_path)
    assert fit.returncode == 0, fit.stderr
    assert "not identified" in fit.stdout and "3 points" in fit.stdout
    saved = json.loads((run_dir / "fit.json").read_text())
    assert all(v is None for v in saved["params"].values()) and len(saved["points"]) == 3
