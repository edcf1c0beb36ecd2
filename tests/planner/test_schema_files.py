"""The committed JSON Schemas (schema/*.schema.json) equal what `llmplan schema` generates now."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.reports.schema_export import schema_texts

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schema"
FIXTURE = ROOT / "tests" / "fixtures" / "tiny_plan.yaml"


@pytest.mark.parametrize("name", ["runplan", "goals", "ladderplan", "scalingfit"])
def test_committed_json_schema_equals_the_regenerated_one(name):
    committed = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_texts()[name], (
        f"schema/{name}.schema.json is stale: run `llmplan schema --out-dir schema` and commit it")


def test_the_deferred_schema_models_build_once_under_concurrent_first_use(tmp_path):
    """The schema models build on first use (defer_build); the wizard's first uses happen in worker
    threads, so a fresh interpreter validates the same plan from 8 threads at once and every thread
    must get the same plan (pydantic >= 2.14 rebuilds under a lock; older ones could fall back to a
    parent validator or raise mid-rebuild)."""
    import subprocess
    import sys

    script = f"""
from concurrent.futures import ThreadPoolExecutor
import threading
import yaml
from planner.schema import RunPlan
assert not RunPlan.__pydantic_complete__, "RunPlan was built at import"
data = yaml.safe_load(open({str(FIXTURE)!r}, encoding="utf-8"))
start = threading.Barrier(8)
def load(_):
    start.wait()
    return RunPlan.model_validate(data)
with ThreadPoolExecutor(8) as pool:
    plans = list(pool.map(load, range(8)))
assert all(p == plans[0] for p in plans) and plans[0].model.num_params == 1_787_008
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr
