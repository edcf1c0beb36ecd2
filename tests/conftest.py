"""Shared fixtures for the llmplan test suite."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture
def tiny_plan_path() -> Path:
    """The tiny CPU plan (a few M parameters, TP=2 on two CPU processes)."""
    return FIXTURES / "tiny_plan.yaml"
