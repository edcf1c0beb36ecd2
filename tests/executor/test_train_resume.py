"""Kill-and-resume and signal handling of the trainer (real torchrun, 2 CPU processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from test_train_support import (  # noqa: F401 - prepared_data is a fixture
    ROOT,
    TINY_PLAN,
    latest_iteration as _latest,
    prepared_data,
    read_metrics,
    test_env,
    torchrun_argv,
    wait_for as _wait_for,
)

pytestmark = pytest.mark.slow


def _logged_steps(out) -> int:
    path = out / "metrics.jsonl"
    return len(read_metrics(out)) if path.is_file() else 0


def test_sigterm_mid_run_writes_a_checkpoint_and_exits_0_within_60_s(prepared_data, tmp_path):
    out = tmp_path / "run"
    argv = [sys.executable, "-m", "tui.cli", "train", str(TINY_PLAN), "--data", str(prepared_data),
            "--out", str(out), "--max-steps", "100"]
    job = subprocess.Popen(argv, cwd=ROOT, env=test_env(), stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
    _wait_for(lambda: _logged_steps(out) >= 3, job, 300)
    sent = time.monotonic()
    job.send_signal(signal.SIGTERM)
    output, _ = job.communicate(timeout=90)
    elapsed_s = time.monotonic() - sent
    assert job.returncode == 0, output[-3000:]
    print(f"FIGURE sigterm: exit {job.returncode} {elapsed_s:.1f} s after the signal, "
          f"checkpoint at step {_latest(out)}")
    assert elapsed_s < 60
    last_step = read_metrics(out)[-1]["step"]
    assert 3 <= last_step < 100
    assert _latest(out) == last_step  # the checkpoint holds every step that was logged
    assert "checkpoint at step" in output


def test_sigusr1_sent_to_the_ranks_directly_also_checkpoints_and_exits_0(prepared_data, tmp_path):
    """What Slurm's `--signal=USR1@T` does: the signal reaches the ranks; torchrun sees clean exits."""
    out = tmp_path / "run"
    job = subprocess.Popen(torchrun_argv(2, TINY_PLAN, prepared_data, out, "--max-steps", "100"), cwd=ROOT,
                           env=test_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_for(lambda: _logged_steps(out) >= 2, job, 300)
    from executor.train.launch import _descendants

    for pid in _descendants(job.pid):
        os.kill(pid, signal.SIGUSR1)
    assert job.wait(timeout=60) == 0
    assert _latest(out) == read_metrics(out)[-1]["step"]
