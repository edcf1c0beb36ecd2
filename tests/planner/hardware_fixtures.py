"""The GPU presets and reference shapes the planner tests use (presets/gpus.yaml, with their datasheet sources)."""

from __future__ import annotations

from planner.schema import ModelShape
from presets import find_gpu

A100_80GB = find_gpu("A100-80GB")
H100_80GB = find_gpu("H100-80GB")

LLAMA2_7B = ModelShape(  # Touvron et al. 2023, Table 1 / the Hugging Face config; 6,738,415,616 parameters
    num_layers=32, hidden_size=4096, num_attention_heads=32, num_query_groups=32,
    ffn_hidden_size=11008, vocab_size=32000, seq_length=4096, num_params=6_738_415_616,
)
