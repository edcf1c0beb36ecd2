"""Shared pieces of the schema: the strict base model, the schema version and common types.

Every model forbids unknown fields and rejects NaN and infinite numbers, so a typo or a broken
calculation in a goals or plan file is caught at the boundary with a field path.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA_VERSION = 1
"""Version of the Goals and RunPlan files. Bump it on any incompatible change."""

NAME_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"
"""Names that end up in file names, Slurm job names and shell scripts."""


def known_schema_version(v: int) -> int:
    """`v` unchanged, or ValueError when a file is newer than this llmplan (Goals and RunPlan validators)."""
    if v > SCHEMA_VERSION:
        raise ValueError(f"schema_version {v} is newer than this llmplan understands ({SCHEMA_VERSION}); upgrade llmplan")
    return v


class StrictModel(BaseModel):
    """Base of every schema model: unknown fields, NaN and infinity are errors."""

    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        validate_assignment=True,
        populate_by_name=True,
        # Build each model's validator on first use, not at import: `llmplan estimate` and the
        # wizard's first paint do not pay for RunPlan's (~0.1 s). Safe under threads (the wizard
        # derives plans in worker threads) since pydantic 2.14 rebuilds under a lock.
        defer_build=True,
    )


SafeName = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
FreeText = Annotated[str, StringConstraints(max_length=4000)]
PositiveFloat = Annotated[float, Field(gt=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
Fraction = Annotated[float, Field(ge=0, le=1)]
PositiveInt = Annotated[int, Field(gt=0)]


class Assumption(StrictModel):
    """One input behind a plan figure, with where it came from, so a reader can redo the arithmetic."""

    name: str
    value: float | int | str | bool
    unit: str = ""
    source: str
    used_for: str = ""


class Range(StrictModel):
    """A p10-p90 interval around a point estimate."""

    p10: float
    p50: float
    p90: float
    method: str = ""
