"""Layering (STYLE.md): importing the planner and presets loads neither textual nor torch (nor pandas)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
import planner, planner.schema, planner.derive, planner.estimate, planner.calibration.calibrate, planner.io, presets
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


def _lint_imports() -> subprocess.CompletedProcess:
    """`lint-imports` (import-linter, the dev extra) with the contracts in pyproject.toml."""
    exe = Path(sys.executable).with_name("lint-imports")
    assert exe.exists(), "import-linter is missing: pip install -e '.[dev]'"
    return subprocess.run([str(exe), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_the_import_contracts_in_pyproject_hold():
    """The layers, the pure planner, presets on the schema only, the executor without the UI, and no
    import cycle in any package (docs/architecture.md) — checked by import-linter on every run."""
    out = _lint_imports()
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Contracts: 5 kept, 0 broken." in out.stdout, out.stdout


def test_the_presets_contract_names_every_part_of_the_planner_but_its_schema():
    """A new planner module or sub-package cannot slip past the presets contract unlisted."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contract = next(c for c in config["contracts"] if c.get("source_modules") == ["presets"])
    parts = {f"planner.{p.stem}" for p in (ROOT / "planner").iterdir()
             if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()}
    assert set(contract["forbidden_modules"]) == parts - {"planner.schema"}


def test_a_broken_contract_fails_the_check(tmp_path):
    """The check can fail: a planner module that imports presets breaks the layers contract."""
    import shutil

    tree = tmp_path / "tree"
    for name in ("planner", "presets", "executor", "tui"):
        shutil.copytree(ROOT / name, tree / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tree / "pyproject.toml")
    (tree / "planner" / "model" / "leak.py").write_text("import presets\n", encoding="utf-8")
    exe = Path(sys.executable).with_name("lint-imports")
    out = subprocess.run([str(exe), "--no-cache"], cwd=tree, capture_output=True, text=True, timeout=300,
                         env={"PYTHONPATH": str(tree), "PATH": "/usr/bin:/bin"})
    assert out.returncode != 0
    assert "planner.model.leak -> presets" in out.stdout, out.stdout
