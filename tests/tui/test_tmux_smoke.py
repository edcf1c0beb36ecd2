"""The installed `llmplan` in a real terminal (tmux): type a budget, export, validate (scripts/tui_smoke.sh)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_installed_llmplan_opens_the_wizard_takes_a_budget_and_exports_a_valid_plan():
    llmplan = ROOT / ".venv" / "bin" / "llmplan"
    assert llmplan.exists(), "install llmplan into .venv first (scripts/setup.sh)"
    env = {**os.environ, "TUI_SMOKE_TIMEOUT_S": "150"}  # per step; generous for a busy CI machine
    done = subprocess.run(["bash", str(ROOT / "scripts" / "tui_smoke.sh"), str(llmplan)],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "OK: typed a budget, exported smoke-plan.yaml (validates)" in done.stdout
    assert "is a valid plan 'default'" in done.stdout
