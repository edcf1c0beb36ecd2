"""The committed JSON Schemas (schema/*.schema.json) equal what `llmplan schema` generates now."""

from __future__ import annotations

from pathlib import Path

import pytest

from planner.schema_export import schema_texts

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schema"


@pytest.mark.parametrize("name", ["runplan", "goals"])
def test_committed_json_schema_equals_the_regenerated_one(name):
    committed = (SCHEMA_DIR / f"{name}.schema.json").read_text(encoding="utf-8")
    assert committed == schema_texts()[name], (
        f"schema/{name}.schema.json is stale: run `llmplan schema --out-dir schema` and commit it")
