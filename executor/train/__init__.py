"""The Megatron-Core training job (see docs/training.md).

`python -m executor.train PLAN --data DIR --out DIR` under `torchrun`, or `llmplan train`.
Public pieces for other parts of the executor: `model.build_model`,
`checkpoint.load_for_inference`. Importing this package imports no torch.
"""
