"""Jobs launch the executor's own entrypoints (`python -m executor.prepare|train|evaluate`), not the
UI package: every rendered script is free of `tui.cli`, and the entrypoints run without importing it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from exec_helpers import tiny_plan

from executor.backends.slurm_render import render_sbatch_bundle
from executor.jobs import compile_job_graph

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TINY = ROOT / "tests" / "fixtures" / "tiny_plan.yaml"


def test_no_rendered_script_or_local_command_runs_the_ui_package():
    from test_slurm_render import site_bundle

    rendered = [render_sbatch_bundle(tiny_plan(), python="/opt/py/bin/python"), site_bundle(),
                *(p.read_text() for p in (HERE / "golden").iterdir() if p.suffix in (".sh", ".sbatch"))]
    for text in rendered:
        assert "tui.cli" not in text and "-m executor." in text
    graph = compile_job_graph(tiny_plan(), "/runs/r1")
    modules = [job.command("/py")[job.command("/py").index("-m", 3 if job.distributed else 0) + 1]
               for job in graph.order()]
    assert modules == ["executor.prepare", "executor.prepare", "executor.train", "executor.evaluate"]
    assert [job.launch.module for job in graph.order()] == modules


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess:
    code = ("import runpy, sys; sys.argv = sys.argv[1:]; "
            "runpy.run_module(sys.argv[0], run_name='__main__', alter_sys=True)")
    probe = (f"import sys, atexit; atexit.register(lambda: print('UI-LOADED' if any(m == 'tui' or m.startswith"
             f"(('tui.', 'textual')) for m in sys.modules) else 'UI-FREE', file=sys.stderr)); {code}")
    return subprocess.run([sys.executable, "-c", probe, *argv], cwd=cwd, capture_output=True, text=True,
                          env={"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}, timeout=300)


def test_the_prepare_and_evaluate_entrypoints_run_a_stage_without_the_ui_package(tmp_path):
    out = tmp_path / "data"
    proc = run("executor.prepare", str(TINY), "--out", str(out), "--num-shards", "8", "--shard-index", "0",
               "--quiet", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "stage filter done for shard 0" in proc.stdout and "UI-FREE" in proc.stderr
    bad = run("executor.evaluate", str(tmp_path / "missing"), cwd=tmp_path)
    assert bad.returncode == 2 and "is not a directory" in bad.stderr and "UI-FREE" in bad.stderr
    usage = run("executor.train", str(TINY), cwd=tmp_path)  # --data and --out are required
    assert usage.returncode == 2 and "python -m executor.train" in usage.stderr
