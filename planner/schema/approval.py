"""The approval block written by `llmplan approve`."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from planner.schema.base import FreeText, StrictModel


class Approval(StrictModel):
    approved_by: str = Field(min_length=1, max_length=128)
    approved_at: datetime
    plan_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    note: FreeText = ""
    overrides: list[str] = Field(default_factory=list)
