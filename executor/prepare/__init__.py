"""Data preparation: raw text to Megatron-Core indexed datasets (see docs/data.md).

reader -> quality filters -> exact dedup -> MinHash-LSH near dedup -> PII redaction -> tokenizer ->
Megatron `IndexedDatasetBuilder` writer, sharded over processes or Slurm array tasks, resumable.
"""

from executor.prepare.pipeline import STAGES, Pipeline, prepare

__all__ = ["STAGES", "Pipeline", "prepare"]
