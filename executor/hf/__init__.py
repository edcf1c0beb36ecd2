"""Hugging Face Transformers export and import of llmplan's megatron-core checkpoints
(docs/model-export.md): `convert` (tensor layouts), `hfconfig` (config.json and the plan),
`weights` (safetensors shards), `export`, `importer`, `card` (the model card)."""
