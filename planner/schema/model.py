"""The model shape and the token budget of a plan."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from planner.schema.base import PositiveInt, StrictModel


class ModelShape(StrictModel):
    """A decoder-only transformer, with Megatron's names for each dimension."""

    num_layers: PositiveInt
    hidden_size: PositiveInt
    num_attention_heads: PositiveInt
    num_query_groups: PositiveInt = Field(description="KV heads; equal to num_attention_heads without GQA")
    ffn_hidden_size: PositiveInt
    vocab_size: PositiveInt
    seq_length: PositiveInt
    activation: Literal["swiglu", "gelu"] = "swiglu"
    position_embedding: Literal["rope", "learned"] = "rope"
    normalization: Literal["RMSNorm", "LayerNorm"] = "RMSNorm"
    tied_embeddings: bool = False
    add_bias_linear: bool = False
    num_params: PositiveInt = Field(description="exact parameter count of this shape")

    @model_validator(mode="after")
    def _heads_divide(self) -> "ModelShape":
        if self.hidden_size % self.num_attention_heads:
            raise ValueError(
                f"num_attention_heads ({self.num_attention_heads}) must divide hidden_size "
                f"({self.hidden_size})"
            )
        if self.num_attention_heads % self.num_query_groups:
            raise ValueError(
                f"num_query_groups ({self.num_query_groups}) must divide num_attention_heads "
                f"({self.num_attention_heads})"
            )
        return self

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads


class TokenBudget(StrictModel):
    """How many tokens the run trains on and how many of them are unique."""

    num_tokens: float = Field(gt=0)
    unique_tokens: float = Field(gt=0)
    epochs: float = Field(gt=0)
    tokens_per_param: float = Field(gt=0)
    effective_tokens: float = Field(gt=0, description="data-constrained effective tokens (Muennighoff et al. 2023)")
    tokens_seen: float | None = Field(
        None, ge=0, description="continued pretraining: tokens the starting checkpoint had already seen (goals.continue_from)")
