"""Layering (STYLE.md): importing the planner and presets loads neither textual nor torch (nor pandas)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import planner, planner.schema, planner.derive, planner.estimate, planner.calibrate, planner.io, presets
from tests.planner.plan_helpers import derive_preset
derive_preset("tiny-cpu")
heavy = sorted(m for m in ("textual", "torch", "pandas", "executor", "tui", "megatron") if m in sys.modules)
print(json.dumps(heavy))
"""


def test_planner_import_and_derivation_load_no_ui_torch_or_pandas():
    out = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_planner_and_presets_source_never_import_executor_tui_or_textual():
    for package in ("planner", "presets"):
        for path in (ROOT / package).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            found = re.findall(r"^\s*(?:from|import)\s+(executor|tui|textual)\b", text, flags=re.M)
            assert not found, f"{path.relative_to(ROOT)} imports {found}"
