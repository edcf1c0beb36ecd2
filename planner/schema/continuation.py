"""Goals for continued pretraining: the checkpoint a run starts from (goals.continue_from)."""

from __future__ import annotations

from pydantic import Field, field_validator

from planner.schema.base import FreeText, StrictModel
from planner.schema.model import ModelShape
from planner.units import parse_number

MAX_TOKENS_SEEN = 1e17
"""As goals.target_tokens' limit (planner.schema.goals.NUMBER_LIMITS)."""


class ContinueFrom(StrictModel):
    """Continue pretraining a trained model: its shape is fixed and the tokens it has already seen
    count towards the objective's total. `llmplan plan --continue-from DIR` fills `shape` (and
    `tokens_seen` for an llmplan checkpoint) from DIR; the planner itself reads no files."""

    checkpoint: FreeText = Field(description="an llmplan run/checkpoint directory or a Transformers directory")
    tokens_seen: float = Field(0.0, ge=0, description="tokens the checkpoint was already trained on")
    shape: ModelShape | None = Field(
        None, description="the checkpoint's model shape (filled from its config by `llmplan plan --continue-from`)")

    @field_validator("tokens_seen", mode="before")
    @classmethod
    def _tokens_number(cls, v: object) -> object:
        return v if v is None or isinstance(v, bool) else parse_number(v, maximum=MAX_TOKENS_SEEN, allow_negative=True)
